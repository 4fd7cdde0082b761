/**
 * What decides a sync the app did not call (a push, here): the manager's handlers, the built-in
 * defaults (announced by `defaultDecided`), and per-call options over both. Also: listeners that
 * throw cannot fail a write or a sync, and a manager says why it cannot synchronize.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import type { PushSink, PushSource } from '../../src/contracts/index.js'
import { encodePushPayload } from '../../src/core/index.js'
import {
  createSyncManager,
  type DefaultDecision,
  isSyncError,
  type SyncEvents,
  type SyncManager,
} from '../../src/index.js'
import { POOL, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

type Identity = Awaited<ReturnType<TestServer['newIdentity']>>

/** Another device of `identity` writes and synchronizes; resolves the dataset's new count. */
async function writeElsewhere(identity: Identity, name: string, values: Record<string, string>) {
  const other = server.device(identity)
  const ds = await other.openOrCreateDataset(name)
  await ds.putAll(values)
  const { lastSyncCount } = await ds.synchronize()
  await other.close()
  return lastSyncCount
}

/** Tells `device` by push that `name` is at `syncCount` on the server, and waits for the sync it starts. */
async function pushTo(device: SyncManager, identity: Identity, name: string, syncCount: number) {
  const settled = new Promise<void>((resolve) => {
    const stops = [device.on('syncSucceeded', () => done()), device.on('syncFailed', () => done())]
    const done = () => {
      for (const stop of stops) stop()
      resolve()
    }
  })
  const update = device.getPushSyncUpdate(
    encodePushPayload(
      {
        source: 'cognito-sync',
        identityPoolId: POOL,
        identityId: identity.identityId,
        datasetName: name,
        syncCount,
      },
      'json',
    ),
  )
  expect(await device.handlePushSyncUpdate(update)).toBe('sync')
  await settled
}

function record<TName extends keyof SyncEvents>(
  device: SyncManager,
  name: TName,
): Array<SyncEvents[TName][0]> {
  const seen: Array<SyncEvents[TName][0]> = []
  device.on(name, ((event: SyncEvents[TName][0]) => void seen.push(event)) as never)
  return seen
}

describe('syncs started by a push', () => {
  it('take the manager’s onConflict', async () => {
    const identity = await server.newIdentity()
    await writeElsewhere(identity, 'notes', { k: 'from the phone' })
    const onConflict = vi.fn((conflicts: readonly { key: string; resolveWithValue(v: string): void }[]) => {
      for (const conflict of conflicts) conflict.resolveWithValue('merged')
    })
    const device = server.device(identity, { onConflict })
    const conflicts = record(device, 'conflict')
    const defaults = record(device, 'defaultDecided')
    const ds = await device.openOrCreateDataset('notes')
    await ds.put('k', 'from the laptop')
    await pushTo(device, identity, 'notes', 1)

    expect(onConflict).toHaveBeenCalledTimes(1)
    expect(onConflict.mock.calls[0]?.[0].map((c) => c.key)).toEqual(['k'])
    expect(conflicts.map((event) => event.decidedBy)).toEqual(['manager'])
    expect(defaults).toEqual([])
    expect(await ds.get('k')).toBe('merged')
    expect(ds.getStatus()).toMatchObject({ pendingChanges: 0, lastError: null })
    await device.close()
  })

  it('take the manager’s onDatasetDeleted', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const phoneDs = await phone.openOrCreateDataset('todo')
    await phoneDs.put('one', '1')
    await phoneDs.synchronize()
    const onDatasetDeleted = vi.fn(() => 'delete' as const)
    const device = server.device(identity, { onDatasetDeleted })
    const ds = await device.openOrCreateDataset('todo')
    await ds.synchronize()
    await ds.put('two', '2')
    await phoneDs.delete()
    await phoneDs.synchronize()
    const deleted = record(device, 'datasetDeleted')

    await pushTo(device, identity, 'todo', 2)
    // It had a change the server never saw, so the default would have kept the dataset.
    expect(onDatasetDeleted).toHaveBeenCalledWith({ dataset: 'todo', hasLocalChanges: true })
    expect(await device.listDatasets()).toEqual([])
    expect(deleted).toEqual([{ dataset: 'todo', keys: ['one', 'two'], source: 'remote' }])
    await Promise.all([phone.close(), device.close()])
  })

  it('announce what the defaults decided when no handler was given', async () => {
    const identity = await server.newIdentity()
    const count = await writeElsewhere(identity, 'notes', { k: 'theirs' })
    const device = server.device(identity)
    const defaults = record(device, 'defaultDecided')
    const conflicts = record(device, 'conflict')
    const ds = await device.openOrCreateDataset('notes')
    await ds.put('k', 'mine')
    await pushTo(device, identity, 'notes', count)
    // The test devices' clocks stand in 1970, so the server's write is the later one: it wins.
    expect(conflicts.map((event) => event.decidedBy)).toEqual(['default'])
    expect(defaults).toEqual<DefaultDecision[]>([
      { dataset: 'notes', decision: 'conflicts', outcomes: [{ key: 'k', winner: 'remote' }] },
    ])
    expect(await ds.get('k')).toBe('theirs')
    await device.close()
  })

  it('announce a remote deletion the default kept', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const phoneDs = await phone.openOrCreateDataset('todo')
    await phoneDs.put('one', '1')
    await phoneDs.synchronize()
    const device = server.device(identity)
    const ds = await device.openOrCreateDataset('todo')
    await ds.synchronize()
    await ds.put('two', '2')
    await phoneDs.delete()
    await phoneDs.synchronize()
    const defaults = record(device, 'defaultDecided')

    await pushTo(device, identity, 'todo', 2)
    expect(defaults).toEqual([{ dataset: 'todo', decision: 'remoteDeletion', choice: 'keep' }])
    expect({ ...(await ds.getAll()) }).toEqual({ one: '1', two: '2' })
    await Promise.all([phone.close(), device.close()])
  })

  it('report merged datasets to the manager’s handler, or announce that nobody was told', async () => {
    const first = await server.newIdentity()
    const second = await server.newIdentity()
    for (const withHandler of [true, false]) {
      const onDatasetsMerged = vi.fn()
      const device = server.device(first, withHandler ? { onDatasetsMerged } : {})
      const merged = record(device, 'datasetsMerged')
      const defaults = record(device, 'defaultDecided')
      const old = await device.openOrCreateDataset('settings')
      await old.put('theme', 'dark')
      await device.changeIdentity(second.identityId, server.transport(second))
      const mergedName = `settings.${first.identityId}`
      await (await device.openOrCreateDataset('settings')).synchronize()
      expect(merged).toEqual([{ dataset: 'settings', merged: [mergedName] }])
      if (withHandler) {
        expect(onDatasetsMerged).toHaveBeenCalledWith({ dataset: 'settings', merged: [mergedName] })
        expect(defaults).toEqual([])
      } else {
        expect(defaults).toEqual([{ dataset: 'settings', decision: 'datasetsMerged', merged: [mergedName] }])
      }
      await device.close()
    }
  })

  it('give way to the options of a synchronize() call', async () => {
    const identity = await server.newIdentity()
    await writeElsewhere(identity, 'notes', { k: 'theirs' })
    const managers = vi.fn()
    const device = server.device(identity, { onConflict: managers })
    const conflicts = record(device, 'conflict')
    const ds = await device.openOrCreateDataset('notes')
    await ds.put('k', 'mine')
    await ds.synchronize({
      onConflict: (list) => {
        for (const conflict of list) conflict.resolveWithRemote()
      },
    })
    expect(managers).not.toHaveBeenCalled()
    expect(conflicts.map((event) => event.decidedBy)).toEqual(['call'])
    expect(await ds.get('k')).toBe('theirs')
    await device.close()
  })
})

describe('a push about a dataset this device does not hold', () => {
  it('takes the dataset up when the server has it', async () => {
    const identity = await server.newIdentity()
    const count = await writeElsewhere(identity, 'fresh', { k: 'v' })
    const device = server.device(identity)
    await pushTo(device, identity, 'fresh', count)
    expect((await device.listDatasets()).map((meta) => [meta.name, meta.lastSyncCount])).toEqual([
      ['fresh', count],
    ])
    expect(await (await device.openOrCreateDataset('fresh')).get('k')).toBe('v')
    await device.close()
  })

  it('leaves nothing behind when the server no longer has it', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const phoneDs = await phone.openOrCreateDataset('scratch')
    await phoneDs.put('s', '1')
    await phoneDs.synchronize()
    await phoneDs.delete()
    await phoneDs.synchronize()
    // A push as Cognito sends it, which does not say that the change was a deletion.
    const device = server.device(identity)
    await pushTo(device, identity, 'scratch', 2)
    expect(await device.listDatasets()).toEqual([])
    await Promise.all([phone.close(), device.close()])
  })

  it('is ignored without a request when the push says the dataset was deleted', async () => {
    const identity = await server.newIdentity()
    let requests = 0
    const device = server.device(identity, {
      transport: {
        ...server.transport(identity),
        listRecords: () => {
          requests++
          throw new Error('no request expected')
        },
      },
    })
    const ignored = record(device, 'pushIgnored')
    const update = device.getPushSyncUpdate({
      source: 'cognito-sync',
      identityPoolId: POOL,
      identityId: identity.identityId,
      datasetName: 'scratch',
      syncCount: 2,
      deleted: true,
    })
    expect(await device.handlePushSyncUpdate(update)).toBe('ignore')
    expect(ignored.map((event) => event.reason)).toEqual(['deleted'])
    expect(requests).toBe(0)
    expect(await device.listDatasets()).toEqual([])
    await device.close()
  })
})

describe('listeners that throw', () => {
  it('neither fail a write nor leave its pending count wrong', async () => {
    const identity = await server.newIdentity()
    const warn = vi.fn()
    const device = server.device(identity, { logger: { warn } })
    for (const name of ['datasetChanged', 'syncStarted', 'syncSucceeded'] as const) {
      device.on(name, () => {
        throw new Error(`a broken ${name} listener`)
      })
    }
    const seenAfter: string[] = []
    device.on('datasetChanged', (event) => void seenAfter.push(event.keys.join()))
    const ds = await device.openOrCreateDataset('settings')
    ds.onStatus(() => {
      throw new Error('a broken status listener')
    })

    await expect(ds.put('theme', 'dark')).resolves.toBeUndefined()
    expect(await ds.get('theme')).toBe('dark')
    expect(ds.getStatus().pendingChanges).toBe(1)
    // The listeners after the broken one were still told.
    expect(seenAfter).toEqual(['theme'])
    expect(await ds.synchronize()).toMatchObject({ pushed: 1, lastSyncCount: 1 })
    expect(ds.getStatus()).toMatchObject({ pendingChanges: 0, syncing: false, lastError: null })
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/datasetChanged listener threw/),
        expect.stringMatching(/status listener threw/),
        expect.stringMatching(/syncSucceeded listener threw/),
      ]),
    )
    await device.close()
  })
})

describe('why a manager cannot synchronize', () => {
  it('names the missing transport, or the missing identity', async () => {
    const identity = await server.newIdentity()
    const noTransport = createSyncManager({
      identityPoolId: POOL,
      identityId: identity.identityId,
      storage: createMemoryStorage(),
    })
    const ds = await noTransport.openOrCreateDataset('settings')
    const error = await ds.synchronize().catch((caught: unknown) => caught)
    expect(isSyncError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect(String((error as Error).message)).toMatch(/no transport/)
    expect(String((error as Error).message)).not.toMatch(/identity/)

    const noIdentity = createSyncManager({ identityPoolId: POOL, storage: createMemoryStorage() })
    const before = await (await noIdentity.openOrCreateDataset('settings'))
      .synchronize()
      .catch((e: unknown) => e)
    expect(isSyncError(before, 'TRANSPORT_AUTH')).toBe(true)
    expect(String((before as Error).message)).toMatch(/no identity yet/)
    await Promise.all([noTransport.close(), noIdentity.close()])
  })
})

describe('the status of push sources', () => {
  it('tells connecting, live and offline apart, in the snapshot and by event', async () => {
    const identity = await server.newIdentity()
    const device = server.device(identity)
    let sink: PushSink | undefined
    const source: PushSource = {
      name: 'push:test',
      start(started) {
        sink = started
        return () => {}
      },
    }
    const changes = record(device, 'pushSourceStateChanged')
    const stop = device.addPushSource(source)
    expect(device.getStatus().pushSources).toEqual([{ name: 'push:test', state: 'connecting' }])
    sink?.onConnected?.()
    expect(device.getStatus().pushSources).toEqual([{ name: 'push:test', state: 'live' }])
    const { SyncError } = await import('../../src/index.js')
    sink?.onError(new SyncError('TRANSPORT_OFFLINE', 'the stream dropped'))
    expect(device.getStatus().pushSources).toEqual([{ name: 'push:test', state: 'offline' }])
    sink?.onConnected?.()
    expect(changes.map((event) => event.state)).toEqual(['live', 'offline', 'live'])
    stop()
    expect(device.getStatus().pushSources).toEqual([])
    await device.close()
  })
})
