/**
 * The store under `useSyncStatus`, in Node against the real server: the dataset's pending count,
 * sync and last error, the push sources' states and the last conflicts, in snapshots that stay the
 * same object until one of them changes.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { PushSink, PushSource } from '../../src/index.js'
import { SyncError } from '../../src/index.js'
import { statusStore } from '../../src/react/stores.js'
import { interceptTransport, offline, startServer, type TestServer } from '../engine/harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

/** A push source the test switches between live and cut off. */
function switchablePushSource(): PushSource & { sink?: PushSink } {
  const source: PushSource & { sink?: PushSink } = {
    name: 'push:test',
    start(sink) {
      source.sink = sink
      return () => {}
    },
  }
  return source
}

describe('the status store', () => {
  it('follows the pending count and the syncs, with one snapshot per change', async () => {
    const manager = server.device(await server.newIdentity())
    const store = statusStore(manager, 'settings')
    expect(statusStore(manager, 'settings')).toBe(store)
    expect(store.getSnapshot().loading).toBe(true)

    const listener = vi.fn()
    const stop = store.subscribe(listener)
    await vi.waitFor(() => expect(store.getSnapshot().loading).toBe(false))
    const idle = store.getSnapshot()
    expect(idle).toMatchObject({ pendingChanges: 0, syncing: false, lastSyncedAt: 0, lastError: null })
    expect(store.getSnapshot()).toBe(idle)

    const ds = await manager.openOrCreateDataset('settings')
    await ds.putAll({ theme: 'dark', language: 'en' })
    expect(store.getSnapshot().pendingChanges).toBe(2)
    const syncing = ds.synchronize()
    expect(store.getSnapshot().syncing).toBe(true)
    await syncing
    const synced = store.getSnapshot()
    expect(synced).toMatchObject({ pendingChanges: 0, syncing: false, lastError: null, lastSyncPath: 'full' })
    expect(synced.lastSyncedAt).toBeGreaterThan(0)
    expect(store.getSnapshot()).toBe(synced)
    expect(listener).toHaveBeenCalled()
    stop()
    await manager.close()
  })

  it('shows why the last sync failed until one succeeds', async () => {
    const identity = await server.newIdentity()
    let online = false
    const transport = interceptTransport(server.transport(identity), async (call) =>
      online ? call.proceed() : offline(),
    )
    const manager = server.device(identity, { transport })
    const store = statusStore(manager, 'settings')
    const stop = store.subscribe(() => {})
    const ds = await manager.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    await expect(ds.synchronize()).rejects.toMatchObject({ code: 'TRANSPORT_OFFLINE' })
    expect(store.getSnapshot()).toMatchObject({ pendingChanges: 1, syncing: false })
    expect(store.getSnapshot().lastError?.code).toBe('TRANSPORT_OFFLINE')

    online = true
    await ds.synchronize()
    expect(store.getSnapshot()).toMatchObject({ pendingChanges: 0, lastError: null })
    stop()
    await manager.close()
  })

  it('says whether a push source is live, the same array while no state changed', async () => {
    const manager = server.device(await server.newIdentity())
    const store = statusStore(manager, undefined)
    const listener = vi.fn()
    const stop = store.subscribe(listener)
    expect(store.getSnapshot()).toMatchObject({ loading: false, live: false, pushSources: [] })

    const source = switchablePushSource()
    manager.addPushSource(source)
    expect(store.getSnapshot().pushSources).toEqual([{ name: 'push:test', state: 'connecting' }])
    source.sink?.onConnected?.()
    expect(listener).toHaveBeenCalled()
    const live = store.getSnapshot()
    expect(live).toMatchObject({ live: true, pushSources: [{ name: 'push:test', state: 'live' }] })
    expect(store.getSnapshot()).toBe(live)

    source.sink?.onError(new SyncError('TRANSPORT_OFFLINE', 'the stream broke (test)'))
    expect(store.getSnapshot()).toMatchObject({
      live: false,
      pushSources: [{ name: 'push:test', state: 'offline' }],
    })
    stop()
    await manager.close()
  })

  it('keeps the last conflicts of the dataset, with what the default decided', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const laptop = server.device(identity)
    const store = statusStore(laptop, 'settings')
    const anyDataset = statusStore(laptop, undefined)
    const stops = [store.subscribe(() => {}), anyDataset.subscribe(() => {})]
    const other = statusStore(laptop, 'other')
    stops.push(other.subscribe(() => {}))

    const onPhone = await phone.openOrCreateDataset('settings')
    const onLaptop = await laptop.openOrCreateDataset('settings')
    await onPhone.put('theme', 'dark')
    await onPhone.synchronize()
    await onLaptop.put('theme', 'light')
    await onLaptop.synchronize()

    const notice = store.getSnapshot().lastConflict
    expect(notice).toMatchObject({ dataset: 'settings', decidedBy: 'default' })
    expect(
      notice?.conflicts.map((conflict) => [conflict.key, conflict.local.value, conflict.remote.value]),
    ).toEqual([['theme', 'light', 'dark']])
    expect(notice?.outcomes).toEqual([{ key: 'theme', winner: expect.stringMatching(/^(local|remote)$/) }])
    expect(anyDataset.getSnapshot().lastConflict?.conflicts).toBe(notice?.conflicts)
    expect(other.getSnapshot().lastConflict).toBeNull()

    // The notice outlives the components that showed it.
    for (const stop of stops) stop()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(store.getSnapshot().lastConflict).toBe(notice)
    await phone.close()
    await laptop.close()
  })
})
