import type { DevicePlatform, OutboxRow, SyncStore } from '../store/contract.js'
import type { ChangeListener } from './change.js'
import type { PushSender, SendOutcome } from './sender.js'

export interface PushDispatcherOptions {
  readonly store: SyncStore
  readonly senders: readonly PushSender[]
  /** The clock, in epoch milliseconds. */
  readonly now?: () => number
  /** A number in [0, 1), for the retry jitter. */
  readonly random?: () => number
  /** First retry delay ceiling (default 1 s); it doubles per attempt. */
  readonly baseDelayMs?: number
  /** Largest retry delay ceiling (default 5 min). */
  readonly maxDelayMs?: number
  /** Pushes in flight at once (default 8). */
  readonly concurrency?: number
  /** Rows read from the outbox per query (default 100). */
  readonly batchSize?: number
  /** Reports store failures and senders that throw; delivery carries on regardless. */
  readonly onError?: (error: unknown) => void
  /**
   * Told of each attempt's outcome, with the device's platform (`undefined` for a row whose device
   * is gone or has no sender): the counts of {@link PushStats}, one by one, for metrics.
   */
  readonly onOutcome?: (
    platform: DevicePlatform | undefined,
    outcome: keyof Omit<PushStats, 'pending'>,
  ) => void
}

export interface PushStats {
  readonly delivered: number
  /** Attempts that failed transiently and were rescheduled. */
  readonly retried: number
  /** Pushes given up: refused for good, past their TTL, or for a device that no longer exists. */
  readonly dropped: number
  /** Registrations the provider reported gone; their devices were removed. */
  readonly gone: number
  /** Rows waiting in the outbox. */
  readonly pending: number
}

export interface PushDispatcher {
  /** Deliver what is due soon: called once a change with outbox rows has committed. */
  kick(): void
  /** The `afterCommit` side of the outbox: kicks the dispatcher. */
  readonly listener: ChangeListener
  /** Drains the outbox (rows left by a previous run included), then follows it with a timer. */
  start(): void
  /** Stops the timer and waits for the pass in progress. */
  stop(): Promise<void>
  /** Runs one pass over the due rows now and resolves when it is done (tests drive it with a fake clock). */
  tick(): Promise<void>
  stats(): Promise<PushStats>
}

// setTimeout takes a signed 32-bit delay; a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Delivers the outbox. One pass runs at a time and handles each (device, dataset, syncCount) once,
 * so no push is sent twice concurrently; rows are removed or rescheduled only while they still hold
 * the sync count that was sent, so a newer change queued meanwhile is not lost. Between passes a
 * single timer waits for the earliest row that is not yet due: nothing polls an idle outbox.
 *
 * A transient failure is retried with exponential backoff and full jitter (a delay drawn from
 * [0, min(maxDelay, base * 2^attempts))), so devices that failed together do not retry together,
 * until the row's `expiresAt`; then it is dropped.
 */
export function createPushDispatcher(options: PushDispatcherOptions): PushDispatcher {
  const { store } = options
  const now = options.now ?? Date.now
  const random = options.random ?? Math.random
  const baseDelayMs = options.baseDelayMs ?? 1000
  const maxDelayMs = options.maxDelayMs ?? 5 * 60 * 1000
  const concurrency = Math.max(1, options.concurrency ?? 8)
  const batchSize = Math.max(1, options.batchSize ?? 100)
  const report = options.onError ?? (() => {})
  const told = options.onOutcome ?? (() => {})
  const senders = new Map<DevicePlatform, PushSender>()
  for (const sender of options.senders) {
    for (const platform of sender.platforms) if (!senders.has(platform)) senders.set(platform, sender)
  }

  const counts = { delivered: 0, retried: 0, dropped: 0, gone: 0 }
  let started = false
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  // Passes run one after another; `queued` is the pass waiting to start, which later kicks join.
  let active: Promise<void> = Promise.resolve()
  let queued: Promise<void> | undefined

  const tick = (): Promise<void> => {
    if (queued !== undefined) return queued
    const run = active.then(async () => {
      queued = undefined
      await pass()
    })
    queued = run
    active = run
    return run
  }

  const pass = async (): Promise<void> => {
    if (stopped) return
    let failed = false
    // Rows handled in this pass; one retried with a short delay waits for the next pass.
    const seen = new Set<string>()
    try {
      for (;;) {
        if (stopped) return
        const due = await store.transaction((tx) => tx.dueOutbox(now(), batchSize))
        const fresh = due.filter((row) => !seen.has(rowKey(row)))
        if (fresh.length === 0) break
        for (const row of fresh) seen.add(rowKey(row))
        await forEachLimited(fresh, concurrency, async (row) => {
          try {
            await deliver(row)
          } catch (error) {
            report(error)
          }
        })
      }
    } catch (error) {
      report(error)
      failed = true
    }
    await schedule(failed)
  }

  const schedule = async (afterFailure: boolean): Promise<void> => {
    if (!started || stopped) return
    let next: number | undefined
    try {
      next = afterFailure ? now() + baseDelayMs : await store.transaction((tx) => tx.nextOutboxTime(now()))
    } catch (error) {
      report(error)
      next = now() + baseDelayMs
    }
    if (stopped) return
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (next === undefined) return
    timer = setTimeout(
      () => {
        timer = undefined
        void tick()
      },
      Math.min(Math.max(0, next - now()), MAX_TIMER_MS),
    )
    // A pending retry must not keep the process alive.
    timer.unref?.()
  }

  const remove = (row: OutboxRow) =>
    store.transaction((tx) => tx.deleteOutbox(row.deviceId, row.datasetName, row.syncCount), {
      lock: row.identityId,
    })

  const deliver = async (row: OutboxRow): Promise<void> => {
    const device = await store.transaction((tx) => tx.getDevice(row.deviceId))
    const sender = device === undefined ? undefined : senders.get(device.platform)
    if (device === undefined || sender === undefined) {
      // Unregistered since (or no longer deliverable): nobody is left to tell.
      await remove(row)
      counts.dropped++
      told(device?.platform, 'dropped')
      return
    }
    let outcome: SendOutcome
    try {
      outcome = await sender.send({
        deviceId: device.deviceId,
        platform: device.platform,
        token: device.token,
        identityPoolId: row.identityPoolId,
        identityId: row.identityId,
        datasetName: row.datasetName,
        syncCount: row.syncCount,
      })
    } catch (error) {
      // Senders return outcomes; one that throws anyway is treated as a transient failure.
      report(error)
      outcome = { kind: 'retry', reason: 'The sender threw' }
    }
    switch (outcome.kind) {
      case 'delivered':
        await remove(row)
        counts.delivered++
        told(device.platform, 'delivered')
        return
      case 'retry': {
        const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** row.attempts)
        const delay = Math.max(1, Math.floor(random() * ceiling), outcome.retryAfterMs ?? 0)
        const notBefore = now() + delay
        if (notBefore > row.expiresAt) {
          await remove(row)
          counts.dropped++
          told(device.platform, 'dropped')
          return
        }
        await store.transaction(
          (tx) =>
            tx.rescheduleOutbox(row.deviceId, row.datasetName, row.syncCount, row.attempts + 1, notBefore),
          { lock: row.identityId },
        )
        counts.retried++
        told(device.platform, 'retried')
        return
      }
      case 'gone':
        await store.transaction(
          async (tx) => {
            await tx.deleteDevice(row.deviceId)
            await tx.deleteOutbox(row.deviceId, row.datasetName, row.syncCount)
          },
          { lock: row.identityId },
        )
        counts.gone++
        told(device.platform, 'gone')
        return
      case 'failed':
        await remove(row)
        counts.dropped++
        told(device.platform, 'dropped')
        return
    }
  }

  const kick = () => {
    if (started && !stopped) void tick()
  }

  return {
    kick,
    listener: { afterCommit: () => kick() },
    start() {
      if (started || stopped) return
      started = true
      void tick()
    },
    async stop() {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await active
    },
    tick,
    async stats() {
      const pending = await store.transaction((tx) => tx.countOutbox())
      return { ...counts, pending }
    },
  }
}

const rowKey = (row: OutboxRow): string => JSON.stringify([row.deviceId, row.datasetName, row.syncCount])

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
