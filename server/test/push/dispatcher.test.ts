import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import type { DatasetChange } from '../../src/push/change.js'
import { createPushDispatcher, type PushDispatcherOptions } from '../../src/push/dispatcher.js'
import { createPushOutbox } from '../../src/push/outbox.js'
import type { PushMessage, PushSender, SendOutcome } from '../../src/push/sender.js'
import type { DevicePlatform, OutboxRow, SyncStore } from '../../src/store/contract.js'
import { createMemoryStore } from '../../src/store/memory.js'

const POOL = 'us-east-1:d15a0000-0000-4000-8000-0000000000aa'
const ID = 'us-east-1:d15a0000-0000-4000-8000-0000000000bb'
const T0 = 1_700_000_000_000
const HOUR = 60 * 60 * 1000

/** A PushSender test double: records every message and answers what `respond` says. */
function recordingSender(
  respond: (message: PushMessage) => SendOutcome | Promise<SendOutcome> = () => ({ kind: 'delivered' }),
  platforms: readonly DevicePlatform[] = ['GCM'],
) {
  const sent: PushMessage[] = []
  const sender: PushSender = {
    platforms,
    async send(message) {
      sent.push(message)
      return respond(message)
    },
  }
  return { sender, sent }
}

/** A store with devices subscribed to `ds`, a settable clock, and the outbox listener of the server. */
async function setup(deviceIds: readonly string[], { ttlMs = 10_000 } = {}) {
  const store = createMemoryStore()
  const clock = { now: T0 }
  await store.transaction(async (tx) => {
    for (const deviceId of deviceIds) {
      await tx.putDevice({
        deviceId,
        identityPoolId: POOL,
        identityId: ID,
        platform: 'GCM',
        token: `token-${deviceId}`,
        createdAt: 0,
      })
      await tx.putSubscription(ID, 'ds', deviceId)
    }
  })
  const outbox = createPushOutbox({ platforms: ['GCM'], now: () => clock.now, ttlMs })
  const change = (syncCount: number, originDeviceId: string | null = null): Promise<void> =>
    store.transaction(async (tx) => {
      const event: DatasetChange = {
        identityPoolId: POOL,
        identityId: ID,
        datasetName: 'ds',
        syncCount,
        originDeviceId,
        kind: 'updated',
      }
      await outbox.inTransaction?.(tx, event)
    })
  const pending = (): Promise<OutboxRow[]> =>
    store.transaction((tx) => tx.dueOutbox(Number.MAX_SAFE_INTEGER, 100))
  return { store, clock, change, pending }
}

function dispatcherFor(
  store: SyncStore,
  clock: { now: number },
  sender: PushSender,
  over: Partial<PushDispatcherOptions> = {},
) {
  return createPushDispatcher({
    store,
    senders: [sender],
    now: () => clock.now,
    random: () => 0.5,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    ...over,
  })
}

describe('push dispatcher', () => {
  it('delivers one push per subscribed device, with the platform token, and empties the outbox', async () => {
    const { store, clock, change, pending } = await setup(['a', 'b'])
    const { sender, sent } = recordingSender()
    const dispatcher = dispatcherFor(store, clock, sender)
    await change(1)
    expect(await dispatcher.stats()).toEqual({ delivered: 0, retried: 0, dropped: 0, gone: 0, pending: 2 })
    await dispatcher.tick()
    expect(sent).toEqual([
      {
        deviceId: 'a',
        platform: 'GCM',
        token: 'token-a',
        identityPoolId: POOL,
        identityId: ID,
        datasetName: 'ds',
        syncCount: 1,
      },
      expect.objectContaining({ deviceId: 'b', token: 'token-b', syncCount: 1 }),
    ])
    expect(await pending()).toEqual([])
    await dispatcher.tick()
    expect(sent).toHaveLength(2)
    expect(await dispatcher.stats()).toEqual({ delivered: 2, retried: 0, dropped: 0, gone: 0, pending: 0 })
  })

  it('does not push a change back to the device that made it', async () => {
    const { store, clock, change } = await setup(['a', 'b'])
    const { sender, sent } = recordingSender()
    const dispatcher = dispatcherFor(store, clock, sender)
    await change(1, 'a')
    await dispatcher.tick()
    expect(sent.map((m) => m.deviceId)).toEqual(['b'])
  })

  it('coalesces a burst of changes before delivery into one push of the highest sync count', async () => {
    const { store, clock, change } = await setup(['a'])
    const { sender, sent } = recordingSender()
    const dispatcher = dispatcherFor(store, clock, sender)
    for (const syncCount of [1, 2, 3, 4, 5]) await change(syncCount)
    await dispatcher.tick()
    expect(sent.map((m) => m.syncCount)).toEqual([5])
    expect(await dispatcher.stats()).toMatchObject({ delivered: 1, pending: 0 })
  })

  it('retries a transient failure with growing delays, then drops it past the TTL', async () => {
    const { store, clock, change, pending } = await setup(['a'], { ttlMs: 10_000 })
    const { sender, sent } = recordingSender(() => ({ kind: 'retry', reason: '503' }))
    const dispatcher = dispatcherFor(store, clock, sender)
    await change(1)
    const delays: number[] = []
    for (;;) {
      const attemptAt = clock.now
      await dispatcher.tick()
      const [row] = await pending()
      if (row === undefined) break
      delays.push(row.notBefore - attemptAt)
      expect(row.attempts).toBe(delays.length)
      // Not due a millisecond early.
      clock.now = row.notBefore - 1
      const before = sent.length
      await dispatcher.tick()
      expect(sent).toHaveLength(before)
      clock.now = row.notBefore
    }
    // Full jitter at random() = 0.5: half of 1 s, 2 s, 4 s, 8 s; the fifth (8 s) would end past the
    // 10 s TTL (7.5 s spent).
    expect(delays).toEqual([500, 1000, 2000, 4000])
    expect(sent).toHaveLength(5)
    expect(await dispatcher.stats()).toEqual({ delivered: 0, retried: 4, dropped: 1, gone: 0, pending: 0 })
  })

  it('caps the delay at maxDelayMs, draws it with the injected random, and honours retryAfterMs', async () => {
    const { store, clock, change, pending } = await setup(['a'], { ttlMs: HOUR })
    let retryAfterMs: number | undefined
    const { sender } = recordingSender(() => ({
      kind: 'retry',
      reason: '429',
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    }))
    const randoms = [0.999, 0.999, 0.999, 0, 0.25]
    const dispatcher = dispatcherFor(store, clock, sender, {
      maxDelayMs: 3000,
      random: () => randoms.shift() ?? 0,
    })
    await change(1)
    const delays: number[] = []
    for (let i = 0; i < 6; i++) {
      if (i === 5) retryAfterMs = 30_000
      const attemptAt = clock.now
      await dispatcher.tick()
      const [row] = await pending()
      if (row === undefined) throw new Error('dropped early')
      delays.push(row.notBefore - attemptAt)
      clock.now = row.notBefore
    }
    // Ceilings 1 s, 2 s, 3 s (capped), 3 s, 3 s; a draw of 0 still waits a millisecond.
    expect(delays).toEqual([999, 1998, 2997, 1, 750, 30_000])
  })

  it('deletes a gone registration: the device, its subscriptions and its push', async () => {
    const { store, clock, change } = await setup(['a', 'b'])
    const { sender, sent } = recordingSender((m) =>
      m.deviceId === 'a' ? { kind: 'gone', reason: 'Unregistered' } : { kind: 'delivered' },
    )
    const dispatcher = dispatcherFor(store, clock, sender)
    await change(1)
    await dispatcher.tick()
    expect(await store.transaction((tx) => tx.getDevice('a'))).toBeUndefined()
    expect(
      (await store.transaction((tx) => tx.listSubscribedDevices(ID, 'ds'))).map((d) => d.deviceId),
    ).toEqual(['b'])
    await change(2)
    await dispatcher.tick()
    expect(sent.map((m) => [m.deviceId, m.syncCount])).toEqual([
      ['a', 1],
      ['b', 1],
      ['b', 2],
    ])
    expect(await dispatcher.stats()).toEqual({ delivered: 2, retried: 0, dropped: 0, gone: 1, pending: 0 })
  })

  it('drops a push refused for good, and one for a device that no longer exists', async () => {
    const { store, clock, change } = await setup(['a', 'b'])
    const { sender, sent } = recordingSender(() => ({ kind: 'failed', reason: 'InvalidRegistration' }))
    const dispatcher = dispatcherFor(store, clock, sender)
    await change(1)
    await store.transaction((tx) => tx.deleteDevice('b'))
    await dispatcher.tick()
    expect(sent.map((m) => m.deviceId)).toEqual(['a'])
    expect(await dispatcher.stats()).toEqual({ delivered: 0, retried: 0, dropped: 2, gone: 0, pending: 0 })
  })

  it('never sends one push twice at once, and keeps a newer change queued during a send', async () => {
    const { store, clock, change } = await setup(['a'])
    let release = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let inFlight = 0
    let mostInFlight = 0
    const { sender, sent } = recordingSender(async () => {
      inFlight++
      mostInFlight = Math.max(mostInFlight, inFlight)
      await gate
      inFlight--
      return { kind: 'delivered' }
    })
    const dispatcher = dispatcherFor(store, clock, sender, { concurrency: 4 })
    await change(1)
    const ticks = [dispatcher.tick(), dispatcher.tick(), dispatcher.tick()]
    await sleep(10)
    await change(2)
    ticks.push(dispatcher.tick())
    await sleep(10)
    expect(sent.map((m) => m.syncCount)).toEqual([1])
    release()
    await Promise.all(ticks)
    // The delivery of 1 did not delete the row that 2 replaced it with.
    expect(sent.map((m) => m.syncCount)).toEqual([1, 2])
    expect(mostInFlight).toBe(1)
    expect(await dispatcher.stats()).toMatchObject({ delivered: 2, pending: 0 })
  })

  it('treats a sender that throws as a transient failure and a store failure as reported, never throwing', async () => {
    const { store, clock, change, pending } = await setup(['a'])
    const errors: unknown[] = []
    const { sender } = recordingSender(() => {
      throw new Error('socket hang up')
    })
    const dispatcher = dispatcherFor(store, clock, sender, { onError: (error) => errors.push(error) })
    await change(1)
    await dispatcher.tick()
    expect((await pending())[0]?.attempts).toBe(1)
    expect(await dispatcher.stats()).toMatchObject({ retried: 1 })
    await store.close()
    clock.now += HOUR
    await expect(dispatcher.tick()).resolves.toBeUndefined()
    expect(errors.map((error) => (error as Error).message)).toEqual(['socket hang up', 'The store is closed'])
  })

  it('started, drains what is due and wakes by timer for what is not, without kicks', async () => {
    const store = createMemoryStore()
    const { sender, sent } = recordingSender()
    await store.transaction(async (tx) => {
      await tx.putDevice({
        deviceId: 'a',
        identityPoolId: POOL,
        identityId: ID,
        platform: 'GCM',
        token: 't',
        createdAt: 0,
      })
      const row = {
        identityPoolId: POOL,
        identityId: ID,
        attempts: 0,
        expiresAt: Date.now() + HOUR,
        queuedAt: Date.now() - HOUR,
      }
      await tx.putOutbox([
        { ...row, deviceId: 'a', datasetName: 'old', syncCount: 3, notBefore: Date.now() - HOUR },
        { ...row, deviceId: 'a', datasetName: 'later', syncCount: 7, notBefore: Date.now() + 80 },
      ])
    })
    const dispatcher = createPushDispatcher({ store, senders: [sender] })
    // Kicks before start are ignored: the outbox is read on start.
    dispatcher.kick()
    await sleep(20)
    expect(sent).toEqual([])
    dispatcher.start()
    await expect.poll(() => sent.map((m) => m.datasetName), { timeout: 3000 }).toEqual(['old', 'later'])
    await dispatcher.stop()
    expect(await dispatcher.stats()).toMatchObject({ delivered: 2, pending: 0 })
    await store.close()
  })
})
