/**
 * Background work in one queue: syncs the app did not call and the subscriptions of subscribeAll
 * run a bounded number at a time, wait while the device is offline or the server asks to slow
 * down, never hold up a sync the app awaits, and stop with the manager. Also: wipeData cancels.
 */
import { getEventListeners } from 'node:events'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ConnectivitySource, SyncEvents, SyncManager, TransportFailure } from '../../src/index.js'
import { isSyncError } from '../../src/index.js'
import { type InterceptedCall, interceptTransport, offline, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

/** A connectivity source the test switches. */
function switchable(initially: boolean) {
  let online = initially
  const listeners = new Set<(online: boolean) => void>()
  const source: ConnectivitySource = {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
  }
  return {
    source,
    set(next: boolean) {
      online = next
      for (const listener of [...listeners]) listener(next)
    },
  }
}

/** A device that starts offline, with the methods of the requests it sends. */
async function offlineDevice() {
  const identity = await server.newIdentity()
  const network = switchable(false)
  const methods: string[] = []
  const device = server.device(identity, {
    connectivity: network.source,
    transport: interceptTransport(server.transport(identity), (call) => {
      methods.push(call.method)
      return call.proceed()
    }),
  })
  return { identity, network, methods, device }
}

/** Tells `device` by push that `datasetName` is at `syncCount` on the server. */
function push(device: SyncManager, datasetName: string, syncCount: number) {
  return device.handlePushSyncUpdate(
    device.getPushSyncUpdate({
      source: 'cognito-sync',
      identityPoolId: device.identityPoolId,
      identityId: device.identityId,
      datasetName,
      syncCount,
    }),
  )
}

/** Counts requests in flight at once; each waits a few milliseconds on the way, as over a network. */
function inFlightCounter() {
  const counts = { now: 0, most: 0, total: 0 }
  const intercept = async (call: InterceptedCall) => {
    counts.now++
    counts.total++
    counts.most = Math.max(counts.most, counts.now)
    try {
      await new Promise((resolve) => setTimeout(resolve, 5))
      return await call.proceed()
    } finally {
      counts.now--
    }
  }
  return { counts, intercept }
}

describe('background syncs', () => {
  it('run two at a time when 20 datasets with changes come back online, until all are clean', async () => {
    const identity = await server.newIdentity()
    const network = switchable(false)
    const { counts, intercept } = inFlightCounter()
    const device = server.device(identity, {
      connectivity: network.source,
      transport: interceptTransport(server.transport(identity), intercept),
      backgroundConcurrency: 2,
    })
    const datasets = await Promise.all(
      Array.from({ length: 20 }, (_, index) => device.openOrCreateDataset(`dataset-${index}`)),
    )
    for (const ds of datasets) await ds.put('k', ds.name)
    expect(counts.total).toBe(0)

    network.set(true)
    await vi.waitFor(() => expect(datasets.every((ds) => ds.getStatus().pendingChanges === 0)).toBe(true), {
      timeout: 10_000,
    })
    // Each sync is a pull and a push; at most two syncs ran at once.
    expect(counts.total).toBe(40)
    expect(counts.most).toBeLessThanOrEqual(2)
    expect(counts.most).toBeGreaterThan(0)
    await device.close()
  })

  it('wait while the device is offline, and a sync the app awaits does not wait for them', async () => {
    const { identity, network, methods, device } = await offlineDevice()
    const writer = server.device(identity)
    const theirs = await writer.openOrCreateDataset('news')
    await theirs.put('k', 'v')
    const { lastSyncCount } = await theirs.synchronize()
    expect(await push(device, 'news', lastSyncCount)).toBe('sync')
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(methods).toEqual([])
    expect(device.getStatus().background).toEqual({ running: 0, waiting: 1, paused: true })

    // The app's own sync goes out at once, the connectivity source notwithstanding.
    const mine = await device.openOrCreateDataset('mine')
    await mine.put('a', '1')
    expect(await mine.synchronize()).toMatchObject({ pushed: 1 })

    network.set(true)
    await vi.waitFor(async () => expect(await (await device.openOrCreateDataset('news')).get('k')).toBe('v'))
    await Promise.all([device.close(), writer.close()])
  })

  it('pause for the delay the server asks for when it throttles, then try again', async () => {
    const identity = await server.newIdentity()
    let refusals = 1
    const methods: string[] = []
    const device = server.device(identity, {
      transport: interceptTransport(server.transport(identity), async (call) => {
        methods.push(call.method)
        if (call.method === 'listRecords' && refusals > 0) {
          refusals--
          const throttled: TransportFailure = {
            kind: 'throttled',
            message: 'slow down (test)',
            retryAfterMs: 200,
          }
          return { ok: false, failure: throttled }
        }
        return call.proceed()
      }),
    })
    const ds = await device.openOrCreateDataset('busy')
    await ds.put('k', 'v')
    const failed = new Promise<SyncEvents['syncFailed'][0]>((resolve) => device.on('syncFailed', resolve))
    // A push that says the dataset moved on starts a background sync.
    const writer = server.device(identity)
    const theirs = await writer.openOrCreateDataset('busy')
    await theirs.put('other', 'x')
    const { lastSyncCount } = await theirs.synchronize()
    await push(device, 'busy', lastSyncCount)
    expect((await failed).error).toMatchObject({
      code: 'TRANSPORT_THROTTLED',
      details: { retryAfterMs: 200 },
    })
    // Paused: the queue holds the retry until the delay is over.
    await vi.waitFor(() => expect(device.getStatus().background.paused).toBe(true))
    expect(methods).toEqual(['listRecords'])
    await vi.waitFor(() => expect(ds.getStatus().pendingChanges).toBe(0), { timeout: 5000 })
    expect(await ds.get('other')).toBe('x')
    expect(methods.slice(1)).toEqual(['listRecords', 'updateRecords'])
    expect(device.getStatus().background.paused).toBe(false)
    await Promise.all([device.close(), writer.close()])
  })

  it('are dropped on close: nothing waiting runs afterwards', async () => {
    const { network, methods, device } = await offlineDevice()
    const ds = await device.openOrCreateDataset('later')
    await ds.put('k', 'v')
    await push(device, 'later', 5)
    expect(device.getStatus().background.waiting).toBe(1)
    await device.close()
    network.set(true)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(methods).toEqual([])
  })
})

describe('subscribeAll', () => {
  it('subscribes every dataset two at a time through the queue', async () => {
    const identity = await server.newIdentity()
    const { counts, intercept } = inFlightCounter()
    const device = server.device(identity, {
      transport: interceptTransport(server.transport(identity), intercept),
      backgroundConcurrency: 2,
    })
    await device.registerDevice('GCM', 'token-1')
    for (let index = 0; index < 6; index++) {
      const ds = await device.openOrCreateDataset(`d${index}`)
      await ds.put('k', 'v')
      await ds.synchronize()
    }
    counts.most = 0
    counts.total = 0
    await device.subscribeAll()
    expect(counts.total).toBe(6)
    expect(counts.most).toBe(2)
    await device.close()
  })

  it('is refused at once while the device is offline', async () => {
    const identity = await server.newIdentity()
    const device = server.device(identity, { connectivity: switchable(false).source })
    await device.openOrCreateDataset('d')
    await expect(device.subscribeAll()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_OFFLINE'))
    await device.close()
  })
})

describe('wipeData during a sync', () => {
  it('cancels it and whatever waits behind it; nothing is written after the wipe', async () => {
    const identity = await server.newIdentity()
    let reachedPull = () => {}
    const atPull = new Promise<void>((resolve) => {
      reachedPull = resolve
    })
    let hold = true
    const device = server.device(identity, {
      transport: interceptTransport(server.transport(identity), async (call) => {
        if (call.method === 'listRecords' && hold) {
          hold = false
          const signal = call.args[1] as AbortSignal
          reachedPull()
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
          return offline()
        }
        return call.proceed()
      }),
    })
    const ds = await device.openOrCreateDataset('doomed')
    await ds.put('k', 'v')
    const syncing = ds.synchronize().catch((caught: unknown) => caught)
    await atPull
    const waiting = ds.synchronize().catch((caught: unknown) => caught)
    await device.wipeData()
    expect(isSyncError(await syncing, 'SYNC_CANCELLED')).toBe(true)
    expect(isSyncError(await waiting, 'SYNC_CANCELLED')).toBe(true)
    expect(await device.listDatasets()).toEqual([])
    expect(ds.getStatus()).toMatchObject({ pendingChanges: 0, syncing: false })

    // The manager goes on with the next generation of data.
    const again = await device.openOrCreateDataset('doomed')
    await again.put('k', 'fresh')
    expect(await again.synchronize()).toMatchObject({ pushed: 1 })
    await device.close()
  })
})

describe('the signal that cancels a manager’s requests', () => {
  it('does not collect a listener per request over a manager’s life', async () => {
    const identity = await server.newIdentity()
    const signals = new Set<AbortSignal>()
    const device = server.device(identity, {
      transport: interceptTransport(server.transport(identity), (call) => {
        const signal = call.args.find((arg): arg is AbortSignal => arg instanceof AbortSignal)
        if (signal !== undefined) signals.add(signal)
        return call.proceed()
      }),
    })
    const ds = await device.openOrCreateDataset('long-lived')
    for (let i = 0; i < 30; i++) {
      await ds.put('k', String(i))
      await ds.synchronize()
    }
    await device.refreshDatasetMetadata()
    // Every request of the 30 syncs was made with a signal; none of them holds more than a few
    // listeners afterwards (a signal shared by all would hold one per request).
    const listeners = [...signals].map((signal) => getEventListeners(signal, 'abort').length)
    expect(signals.size).toBeGreaterThan(0)
    expect(Math.max(...listeners)).toBeLessThan(5)
    await device.close()
  })
})
