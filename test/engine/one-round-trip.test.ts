/**
 * One round trip per write for a device that is current: its live channel is up, it has heard of
 * no count above its own, and it holds the session token of its last answer, so it sends
 * UpdateRecords without pulling first. The server's count check still decides conflicts; a 409, a
 * refused token or another writer in between falls back to the full sync, once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { PushSink, PushSource, Transport, TransportFailure } from '../../src/index.js'
import { type InterceptedCall, interceptTransport, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

type Identity = Awaited<ReturnType<TestServer['newIdentity']>>

/** A push source the test controls: live once started, relaying what the test hands it. */
function channel() {
  let sink: PushSink | undefined
  const source: PushSource = {
    name: 'push:test',
    start(started) {
      sink = started
      started.onConnected?.()
      return () => {}
    },
  }
  return {
    source,
    push: (identity: Identity, datasetName: string, syncCount: number) =>
      sink?.onPayload({
        source: 'cognito-sync',
        identityPoolId: server.transport(identity).identityPoolId,
        identityId: identity.identityId,
        datasetName,
        syncCount,
      }),
  }
}

/** A device whose requests are recorded; `respond` may answer a call instead of the server. */
function device(
  identity: Identity,
  options: { live?: boolean; respond?: (call: InterceptedCall) => Promise<unknown> | undefined } = {},
) {
  const calls: string[] = []
  const transport: Transport = interceptTransport(server.transport(identity), async (call) => {
    calls.push(call.method)
    const answer = options.respond?.(call)
    return (answer === undefined ? call.proceed() : answer) as ReturnType<InterceptedCall['proceed']>
  })
  const manager = server.device(identity, { transport })
  const live = channel()
  if (options.live !== false) manager.addPushSource(live.source)
  return { manager, calls, live }
}

describe('a current device with a live channel', () => {
  it('sends each write as one UpdateRecords, and the server and other devices have it', async () => {
    const identity = await server.newIdentity()
    const phone = device(identity)
    const ds = await phone.manager.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    await ds.synchronize()
    expect(phone.calls).toEqual(['listRecords', 'updateRecords'])

    for (const value of ['light', 'blue', 'red']) {
      phone.calls.length = 0
      await ds.put('theme', value)
      expect(await ds.synchronize()).toMatchObject({ pushed: 1, path: 'full' })
      expect(phone.calls).toEqual(['updateRecords'])
    }
    expect(await ds.getLastSyncCount()).toBe(4)
    expect(ds.getStatus().pendingChanges).toBe(0)
    const laptop = await server.device(identity).openOrCreateDataset('settings')
    await laptop.synchronize()
    expect(await laptop.get('theme')).toBe('red')
    expect(await laptop.getLastSyncCount()).toBe(4)
  })

  it('pulls first without a live channel, and after hearing of a newer count', async () => {
    const identity = await server.newIdentity()
    const quiet = device(identity, { live: false })
    const ds = await quiet.manager.openOrCreateDataset('settings')
    await ds.put('a', '1')
    await ds.synchronize()
    quiet.calls.length = 0
    await ds.put('a', '2')
    await ds.synchronize()
    expect(quiet.calls).toEqual(['listRecords', 'updateRecords'])

    const phone = device(identity)
    const mine = await phone.manager.openOrCreateDataset('settings')
    await mine.synchronize()
    // Another device writes; the push tells the phone of a count above its own.
    await ds.put('b', '3')
    const { lastSyncCount } = await ds.synchronize()
    phone.live.push(identity, 'settings', lastSyncCount)
    await mine.put('c', '4')
    phone.calls.length = 0
    await mine.synchronize()
    expect(phone.calls[0]).toBe('listRecords')
    expect({ ...(await mine.getAll()) }).toEqual({ a: '2', b: '3', c: '4' })
  })

  it('falls back to the full sync once on a 409, and the conflict is decided as usual', async () => {
    const identity = await server.newIdentity()
    const phone = device(identity)
    const ds = await phone.manager.openOrCreateDataset('notes')
    await ds.put('k', 'first')
    await ds.synchronize()
    // Another device changes k; the phone has not heard of it yet.
    const other = await server.device(identity).openOrCreateDataset('notes')
    await other.synchronize()
    await other.put('k', 'theirs')
    await other.synchronize()

    await ds.put('k', 'mine')
    phone.calls.length = 0
    const result = await ds.synchronize()
    expect(phone.calls).toEqual(['updateRecords', 'listRecords', 'updateRecords'])
    expect(result).toMatchObject({ conflicts: 1, lastSyncCount: 3 })
    await other.synchronize()
    expect(await other.get('k')).toBe(await ds.get('k'))
  })

  it('pulls what another device wrote in between, in the same sync', async () => {
    const identity = await server.newIdentity()
    const phone = device(identity)
    const ds = await phone.manager.openOrCreateDataset('notes')
    await ds.put('a', '1')
    await ds.synchronize()
    const other = await server.device(identity).openOrCreateDataset('notes')
    await other.synchronize()
    await other.put('b', '2')
    await other.synchronize()

    await ds.put('c', '3')
    phone.calls.length = 0
    const result = await ds.synchronize()
    // The write went through at count 3, but count 2 (the other device's) is not here yet.
    expect(phone.calls).toEqual(['updateRecords', 'listRecords'])
    expect(result).toMatchObject({ pushed: 1, lastSyncCount: 3 })
    expect({ ...(await ds.getAll()) }).toEqual({ a: '1', b: '2', c: '3' })
  })

  it('falls back to the full sync once when the server refuses the kept token', async () => {
    const identity = await server.newIdentity()
    let refuse = false
    const refused: TransportFailure = {
      kind: 'invalid',
      message: 'SyncSessionToken not valid for these inputs',
    }
    const phone = device(identity, {
      respond: (call) => {
        if (call.method !== 'updateRecords' || !refuse) return undefined
        refuse = false
        return Promise.resolve({ ok: false, failure: refused })
      },
    })
    const ds = await phone.manager.openOrCreateDataset('notes')
    await ds.put('a', '1')
    await ds.synchronize()
    refuse = true
    await ds.put('a', '2')
    phone.calls.length = 0
    expect(await ds.synchronize()).toMatchObject({ pushed: 1, lastSyncCount: 2 })
    expect(phone.calls).toEqual(['updateRecords', 'listRecords', 'updateRecords'])
  })

  it('learns in the same sync of a deletion it did not hear of, and ends where the server is', async () => {
    const identity = await server.newIdentity()
    const phone = device(identity)
    const ds = await phone.manager.openOrCreateDataset('todo')
    await ds.put('one', '1')
    await ds.synchronize()
    const other = server.device(identity)
    const theirs = await other.openOrCreateDataset('todo')
    await theirs.synchronize()
    await theirs.delete()
    await theirs.synchronize()

    // A new key written after the deletion: as with two calls, it re-creates the dataset, and the
    // count it gets (one past the deletion's) tells the phone it missed something.
    await ds.put('two', '2')
    phone.calls.length = 0
    const decided: boolean[] = []
    await ds.synchronize({
      onDatasetDeleted: ({ hasLocalChanges }) => {
        decided.push(hasLocalChanges)
        return 'delete'
      },
    })
    expect(phone.calls.slice(0, 2)).toEqual(['updateRecords', 'listRecords'])
    expect(decided).toEqual([false])
    expect({ ...(await ds.getAll()) }).toEqual({ two: '2' })
    const fresh = await server.device(identity).openOrCreateDataset('todo')
    await fresh.synchronize()
    expect({ ...(await fresh.getAll()) }).toEqual({ two: '2' })
    expect(await ds.getLastSyncCount()).toBe(await fresh.getLastSyncCount())
  })
})

describe('the session token UpdateRecords answers with', () => {
  it('opens the next UpdateRecords without a ListRecords, once', async () => {
    const identity = await server.newIdentity()
    const transport = server.transport(identity)
    const page = await transport.listRecords({ datasetName: 'd', lastSyncCount: 0 })
    if (!page.ok) throw new Error('listRecords failed')
    const patch = (value: string, syncCount: number) => ({
      op: 'replace' as const,
      key: 'k',
      value,
      syncCount,
      deviceLastModifiedDate: 1,
    })
    const first = await transport.updateRecords({
      datasetName: 'd',
      syncSessionToken: page.value.syncSessionToken,
      patches: [patch('1', 0)],
    })
    if (!first.ok) throw new Error('updateRecords failed')
    const next = first.value.syncSessionToken
    expect(next).toEqual(expect.any(String))
    const second = await transport.updateRecords({
      datasetName: 'd',
      syncSessionToken: next as string,
      patches: [patch('2', 1)],
    })
    expect(second.ok && second.value.records.map((record) => record.syncCount)).toEqual([2])
    // Spent: a second use is refused, as any spent session is.
    const again = await transport.updateRecords({
      datasetName: 'd',
      syncSessionToken: next as string,
      patches: [patch('3', 2)],
    })
    expect(again.ok ? undefined : again.failure.kind).toBe('invalid')
  })
})

describe('an app that relays pushes itself', () => {
  it('keeps the change a push carried through getPushSyncUpdate and handlePushSyncUpdate', async () => {
    const identity = await server.newIdentity()
    const writer = await server.device(identity).openOrCreateDataset('notes')
    await writer.put('a', '1')
    await writer.synchronize()
    const phone = device(identity, { live: false })
    const ds = await phone.manager.openOrCreateDataset('notes')
    await ds.synchronize()
    // The next change, as pushsync-server's event stream carries it.
    await writer.put('a', '2')
    const { lastSyncCount } = await writer.synchronize()
    const transport = server.transport(identity)
    const page = await transport.listRecords({ datasetName: 'notes', lastSyncCount: lastSyncCount - 1 })
    if (!page.ok) throw new Error('listRecords failed')
    const record = page.value.records[0]
    if (record === undefined) throw new Error('no record')
    const payload = {
      source: 'cognito-sync',
      identityPoolId: transport.identityPoolId,
      identityId: identity.identityId,
      datasetName: 'notes',
      syncCount: lastSyncCount,
      changes: {
        after: lastSyncCount - 1,
        records: [
          {
            Key: 'a',
            Value: '2',
            SyncCount: lastSyncCount,
            LastModifiedDate: record.lastModifiedDate / 1000,
          },
        ],
      },
    }
    phone.calls.length = 0
    const update = phone.manager.getPushSyncUpdate(payload)
    expect(update.changes?.records).toHaveLength(1)
    expect(await phone.manager.handlePushSyncUpdate(update)).toBe('sync')
    await vi.waitFor(async () => expect(await ds.get('a')).toBe('2'))
    // The value is readable once written; the sync's status follows when it settles.
    await vi.waitFor(() => expect(ds.getStatus().lastSyncPath).toBe('pushed-changes'))
    expect(phone.calls).toEqual([])
  })
})
