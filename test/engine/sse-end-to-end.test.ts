/**
 * Push over SSE end to end: two managers of one identity, each listening to pushsync-server's event
 * stream on a real socket. A change A synchronizes reaches B by push alone (B never polls), and A
 * is not pushed its own write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSsePushSource } from '../../adapters/push/sse/index.js'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { createHttpTransport } from '../../adapters/transport/http/index.js'
import { createSyncServer, type SyncServer } from '../../server/src/server.js'
import { createMemoryStore } from '../../server/src/store/memory.js'
import type { PushSource } from '../../src/contracts/index.js'
import { createSyncManager, type SyncManager } from '../../src/index.js'
import { newIdentity, POOL } from '../adapters/transport/sync-server.js'
import { interceptTransport } from './harness.js'

let server: SyncServer
let url: string
beforeAll(async () => {
  server = await createSyncServer({
    db: createMemoryStore(),
    allowUnauthenticated: true,
    tokenSecret: 'sse-e2e',
  })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
})

/** Wraps a source to see what it relays and when it is connected, relaying everything on. */
function observed(inner: PushSource, onPush: () => void = () => {}) {
  const seen = { payloads: [] as unknown[], connects: 0 }
  const source: PushSource = {
    name: inner.name,
    start: (sink) =>
      inner.start({
        get deviceId() {
          return sink.deviceId
        },
        onPayload(payload) {
          seen.payloads.push(payload)
          onPush()
          sink.onPayload(payload)
        },
        onError: (error) => sink.onError(error),
        onConnected: () => void seen.connects++,
      }),
  }
  return { source, seen }
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('push over SSE', () => {
  it('brings A’s change to B with no polling, and does not push it back to A', async () => {
    const { identityId, sessionToken } = await newIdentity(url)
    const options = { endpoint: url, identityPoolId: POOL, identityId, getToken: () => sessionToken }
    const calls: string[] = []
    const device = (record: boolean): SyncManager =>
      createSyncManager({
        identityPoolId: POOL,
        identityId,
        storage: createMemoryStorage(),
        transport: record
          ? interceptTransport(createHttpTransport(options), (call) => {
              calls.push(call.method)
              return call.proceed()
            })
          : createHttpTransport(options),
      })
    const a = device(false)
    const b = device(true)
    const pushA = observed(createSsePushSource(options))
    const pushB = observed(createSsePushSource(options), () => calls.push('push'))
    a.addPushSource(pushA.source)
    b.addPushSource(pushB.source)
    await until(() => pushA.seen.connects === 1 && pushB.seen.connects === 1)

    const dsA = await a.openOrCreateDataset('settings')
    await dsA.put('theme', 'dark')
    const { lastSyncCount } = await dsA.synchronize()

    const synced = new Promise((resolve) => b.on('syncSucceeded', resolve))
    await until(() => pushB.seen.payloads.length === 1)
    // Until the push arrived B asked the server nothing: the first call follows it.
    expect(calls[0]).toBe('push')
    expect(JSON.parse(pushB.seen.payloads[0] as string)).toMatchObject({
      datasetName: 'settings',
      syncCount: lastSyncCount,
    })
    await synced
    const dsB = await b.openOrCreateDataset('settings')
    expect(await dsB.get('theme')).toBe('dark')
    expect(await dsB.getLastSyncCount()).toBe(lastSyncCount)
    expect(calls.slice(1)).toContain('listRecords')

    // A wrote with the device id its stream was opened with: the server leaves the change out of it.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(pushA.seen.payloads).toEqual([])
    await Promise.all([a.close(), b.close()])
  })

  it('applies a small change the push carries without asking the server, when it follows B’s state', async () => {
    const { identityId, sessionToken } = await newIdentity(url)
    const options = { endpoint: url, identityPoolId: POOL, identityId, getToken: () => sessionToken }
    const calls: string[] = []
    const a = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport(options),
    })
    const b = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: interceptTransport(createHttpTransport(options), (call) => {
        calls.push(call.method)
        return call.proceed()
      }),
    })
    const dsA = await a.openOrCreateDataset('settings')
    const dsB = await b.openOrCreateDataset('settings')
    await dsA.putAll({ theme: 'dark', font: 'serif' })
    await dsA.synchronize()
    await dsB.synchronize()
    const pushB = observed(createSsePushSource(options))
    b.addPushSource(pushB.source)
    await until(() => pushB.seen.connects === 1 && pushB.seen.payloads.length === 1)
    calls.length = 0

    // B is at A's count: the next change follows it directly.
    await dsA.put('theme', 'light')
    await dsA.remove('font')
    const { lastSyncCount } = await dsA.synchronize()
    await until(async () => (await dsB.getLastSyncCount()) === lastSyncCount)
    expect(await dsB.getAll()).toEqual({ theme: 'light' })
    expect(calls).toEqual([])

    // With a change of its own pending, B syncs as usual: it has something to push.
    await dsB.put('mine', '1')
    await dsA.put('theirs', '2')
    const second = await dsA.synchronize()
    await until(async () => (await dsB.get('theirs')) === '2')
    await until(() => calls.includes('updateRecords'))
    expect(calls).toContain('listRecords')
    await until(async () => (await dsB.getLastSyncCount()) === second.lastSyncCount + 1)
    await Promise.all([a.close(), b.close()])
  })

  it('reads B’s storage once before it applies a pushed change; a push caught up meanwhile costs no request', async () => {
    const { identityId, sessionToken } = await newIdentity(url)
    const options = { endpoint: url, identityPoolId: POOL, identityId, getToken: () => sessionToken }
    const calls: string[] = []
    const memory = createMemoryStorage()
    let reads = 0
    // B's storage, counting read transactions.
    const storage = new Proxy(memory, {
      get(target, property, receiver) {
        if (property === 'read') {
          return (work: Parameters<typeof memory.read>[0]) => {
            reads++
            return target.read(work)
          }
        }
        return Reflect.get(target, property, receiver)
      },
    })
    let online = true
    const onlineListeners = new Set<(online: boolean) => void>()
    const a = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport(options),
    })
    const b = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage,
      transport: interceptTransport(createHttpTransport(options), (call) => {
        calls.push(call.method)
        return call.proceed()
      }),
      connectivity: {
        isOnline: () => online,
        subscribe(listener) {
          onlineListeners.add(listener)
          return () => void onlineListeners.delete(listener)
        },
      },
    })
    const dsA = await a.openOrCreateDataset('settings')
    const dsB = await b.openOrCreateDataset('settings')
    await dsA.put('theme', 'dark')
    await dsA.synchronize()
    await dsB.synchronize()
    const pushB = observed(createSsePushSource(options))
    b.addPushSource(pushB.source)
    await until(() => pushB.seen.connects === 1 && pushB.seen.payloads.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 50))

    // A pushed change that follows B's state: one read decides, one write applies it.
    calls.length = 0
    reads = 0
    let readsWhenChanged = -1
    const changed = new Promise<void>((resolve) =>
      b.on('datasetChanged', () => {
        readsWhenChanged = reads
        resolve()
      }),
    )
    await dsA.put('theme', 'light')
    await dsA.synchronize()
    await changed
    expect(await dsB.get('theme')).toBe('light')
    expect(calls).toEqual([])
    expect(readsWhenChanged).toBe(1)

    // Offline, B's background work waits: a push is decided on and queued, then the app's own sync
    // brings B past it. Back online, the queued sync reads again, sees it caught up, and asks nothing.
    online = false
    for (const listener of onlineListeners) listener(false)
    const pushes = pushB.seen.payloads.length
    await dsA.put('font', 'serif')
    const { lastSyncCount } = await dsA.synchronize()
    await until(() => pushB.seen.payloads.length === pushes + 1)
    await dsB.synchronize()
    expect(await dsB.getLastSyncCount()).toBe(lastSyncCount)
    calls.length = 0
    online = true
    for (const listener of onlineListeners) listener(true)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(calls).toEqual([])
    await Promise.all([a.close(), b.close()])
  })

  it('recovers a change made while B was disconnected as soon as B reconnects, and ignores stale news', async () => {
    const { identityId, sessionToken } = await newIdentity(url)
    const options = { endpoint: url, identityPoolId: POOL, identityId, getToken: () => sessionToken }
    let pulls = 0
    const b = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: interceptTransport(createHttpTransport(options), (call) => {
        if (call.method === 'listRecords') pulls++
        return call.proceed()
      }),
    })
    const a = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport(options),
    })
    const dsA = await a.openOrCreateDataset('notes')
    await dsA.put('first', '1')
    await dsA.synchronize()
    const dsB = await b.openOrCreateDataset('notes')
    await dsB.synchronize()
    const pullsWhenCurrent = pulls

    // B is offline (no push source) while A writes again.
    await dsA.put('second', '2')
    const { lastSyncCount } = await dsA.synchronize()

    // On connect the server sends every dataset's current count: B learns of what it missed.
    const first = observed(createSsePushSource(options))
    const stop = b.addPushSource(first.source)
    await until(async () => (await dsB.get('second')) === '2')
    expect(await dsB.getLastSyncCount()).toBe(lastSyncCount)
    stop()

    // Reconnecting when nothing changed repeats counts B already holds: no request follows.
    const pullsBefore = pulls
    const second = observed(createSsePushSource(options))
    b.addPushSource(second.source)
    await until(() => second.seen.payloads.length > 0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(pulls).toBe(pullsBefore)
    expect(pullsBefore).toBeGreaterThan(pullsWhenCurrent)
    await Promise.all([a.close(), b.close()])
  })

  it('does not push a device its own dataset deletion, and a deleted dataset never comes back', async () => {
    const { identityId, sessionToken } = await newIdentity(url)
    const options = { endpoint: url, identityPoolId: POOL, identityId, getToken: () => sessionToken }
    const callsOfA: string[] = []
    const a = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: interceptTransport(createHttpTransport(options), (call) => {
        callsOfA.push(call.method)
        return call.proceed()
      }),
    })
    const b = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport(options),
    })
    const pushA = observed(createSsePushSource(options))
    const pushB = observed(createSsePushSource(options))
    a.addPushSource(pushA.source)
    b.addPushSource(pushB.source)
    await until(() => pushA.seen.connects === 1 && pushB.seen.connects === 1)
    const deletedOnB: Array<{ keys: readonly string[]; source: string }> = []
    const emptyChanges: unknown[] = []
    b.on('datasetDeleted', (event) => deletedOnB.push(event))
    b.on('datasetChanged', (event) => {
      if (event.keys.length === 0) emptyChanges.push(event)
    })

    const ds = await a.openOrCreateDataset('scratch')
    await ds.put('s', '1')
    await ds.synchronize()
    const dsB = await b.openOrCreateDataset('scratch')
    await until(async () => (await dsB.get('s')) === '1')
    await ds.delete()
    expect(await ds.synchronize()).toMatchObject({ deleted: true })
    callsOfA.length = 0

    // B hears of the deletion and follows it; by then A would have heard of it too.
    await until(() => deletedOnB.length === 1)
    expect(deletedOnB).toEqual([{ dataset: 'scratch', keys: ['s'], source: 'remote' }])
    expect(emptyChanges).toEqual([])
    const deletion = pushB.seen.payloads.map((payload) => JSON.parse(payload as string)).at(-1)
    expect(deletion).toMatchObject({ datasetName: 'scratch', syncCount: 2, deleted: true })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(pushA.seen.payloads).toEqual([])
    expect(callsOfA).toEqual([])
    expect(await a.listDatasets()).toEqual([])
    expect(await b.listDatasets()).toEqual([])

    // A reconnecting stream opens with the counts of the datasets that exist: still nothing to bring back.
    const again = observed(createSsePushSource(options))
    a.addPushSource(again.source)
    await until(() => again.seen.connects === 1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await a.listDatasets()).toEqual([])
    await Promise.all([a.close(), b.close()])
  })
})
