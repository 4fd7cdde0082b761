import type { ChangeListener } from '../push/change.js'
import type { StreamOutboxRow, SyncStore } from '../store/contract.js'
import { readPool } from '../sync/pools.js'
import { removeRecord, replaceRecords, streamTargetOf } from './records.js'
import { type StreamSink, StreamSinkError } from './sink.js'

/** How long a stream record is retried before it is dropped (Kinesis keeps records 24 hours by default). */
export const STREAM_RECORD_TTL_MS = 24 * 60 * 60 * 1000

/**
 * Queues the Cognito Streams records of every committed change of a pool whose streaming is
 * enabled, inside the change's transaction: the records commit or roll back with it, so a crash
 * between commit and send loses none, and a refused UpdateRecords streams nothing.
 */
export function createStreamOutbox(options: { readonly now: () => number }): ChangeListener {
  return {
    async inTransaction(tx, change) {
      if (streamTargetOf(await tx.getPool(change.identityPoolId)) === undefined) return
      const at = options.now()
      const dataset = {
        identityPoolId: change.identityPoolId,
        identityId: change.identityId,
        datasetName: change.datasetName,
        syncCount: change.syncCount,
        lastModifiedDate: change.written?.records[0]?.lastModifiedDate ?? at,
      }
      const payloads =
        change.kind === 'deleted'
          ? [removeRecord(dataset)]
          : replaceRecords(dataset, change.written?.records ?? [])
      await tx.putStreamOutbox(
        payloads.map((payload) => ({
          identityPoolId: change.identityPoolId,
          identityId: change.identityId,
          datasetName: change.datasetName,
          syncCount: change.syncCount,
          payload,
          attempts: 0,
          notBefore: at,
          expiresAt: at + STREAM_RECORD_TTL_MS,
          queuedAt: at,
        })),
      )
    },
  }
}

export interface StreamStats {
  readonly written: number
  readonly retried: number
  /** Records given up: refused for good, past their TTL, or of a pool no longer streaming. */
  readonly dropped: number
  readonly pending: number
}

export interface StreamDispatcher {
  /** The `afterCommit` side of the stream outbox: a committed change is sent at once (and starts it). */
  readonly listener: ChangeListener
  start(): void
  stop(): Promise<void>
  /** One pass over the due rows; resolves when it is done. */
  tick(): Promise<void>
  stats(): Promise<StreamStats>
}

const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Sends the stream outbox to each pool's stream. Each identity's records go one after another in
 * commit order (the store hands out an identity's oldest row only), identities side by side. A
 * transient failure is retried with exponential backoff and full jitter until the row expires;
 * a record the stream can never take is dropped; a stream or role that is unusable turns the
 * pool's streaming off (`StreamingStatus: DISABLED` with a `DisabledReason`), as Cognito did,
 * and the pool's waiting records are dropped as they come due.
 */
export function createStreamDispatcher(options: {
  readonly store: SyncStore
  readonly sink: StreamSink
  readonly now?: () => number
  readonly random?: () => number
  readonly baseDelayMs?: number
  readonly maxDelayMs?: number
  readonly concurrency?: number
  readonly onError?: (error: unknown) => void
}): StreamDispatcher {
  const { store, sink } = options
  const now = options.now ?? Date.now
  const random = options.random ?? Math.random
  const baseDelayMs = options.baseDelayMs ?? 1000
  const maxDelayMs = options.maxDelayMs ?? 5 * 60 * 1000
  const concurrency = Math.max(1, options.concurrency ?? 8)
  const report = options.onError ?? (() => {})
  const counts = { written: 0, retried: 0, dropped: 0 }
  let started = false
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
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
    try {
      for (;;) {
        if (stopped) return
        const due = await store.transaction((tx) => tx.dueStreamOutbox(now(), 100))
        if (due.length === 0) break
        let progressed = false
        await forEachLimited(due, concurrency, async (row) => {
          try {
            if (await deliver(row)) progressed = true
          } catch (error) {
            report(error)
          }
        })
        // Only rescheduled rows were due: they wait for the timer.
        if (!progressed) break
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
      next = afterFailure
        ? now() + baseDelayMs
        : await store.transaction((tx) => tx.nextStreamOutboxTime(now()))
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
    timer.unref?.()
  }

  const drop = async (row: StreamOutboxRow) => {
    await store.transaction((tx) => tx.deleteStreamOutbox(row.id))
    counts.dropped++
  }

  /** Sends one row; whether it left the outbox (rescheduled rows stay). */
  const deliver = async (row: StreamOutboxRow): Promise<boolean> => {
    const target = streamTargetOf(await store.transaction((tx) => tx.getPool(row.identityPoolId)))
    if (target === undefined) {
      // Streaming was turned off since: Cognito streamed only while it was on.
      await drop(row)
      return true
    }
    let failure: StreamSinkError | undefined
    try {
      await sink.put(target, [{ partitionKey: row.identityId, data: row.payload }])
    } catch (error) {
      failure =
        error instanceof StreamSinkError
          ? error
          : new StreamSinkError('retry', (error as Error).message, { cause: error })
    }
    if (failure === undefined) {
      await store.transaction((tx) => tx.deleteStreamOutbox(row.id))
      counts.written++
      return true
    }
    if (failure.kind === 'retry') {
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** row.attempts)
      const notBefore = now() + Math.max(1, Math.floor(random() * ceiling))
      if (notBefore <= row.expiresAt) {
        await store.transaction((tx) => tx.rescheduleStreamOutbox(row.id, row.attempts + 1, notBefore))
        counts.retried++
        return false
      }
    }
    report(failure)
    if (failure.kind === 'stream') await disableStreaming(row.identityPoolId, failure.message)
    await drop(row)
    return true
  }

  const disableStreaming = (identityPoolId: string, reason: string) =>
    store.transaction(async (tx) => {
      const pool = await readPool(tx, identityPoolId, { forUpdate: true })
      if (pool.cognitoStreams === null) return
      const setting = JSON.parse(pool.cognitoStreams) as Record<string, unknown>
      await tx.putPool({
        ...pool,
        cognitoStreams: JSON.stringify({ ...setting, StreamingStatus: 'DISABLED', DisabledReason: reason }),
      })
    })

  const kick = () => {
    if (started && !stopped) void tick()
  }

  const start = () => {
    if (started || stopped) return
    started = true
    void tick()
  }

  return {
    // A dispatcher not started yet starts with the first committed change: what an earlier run left
    // goes out then, with the rest.
    listener: { afterCommit: () => (started ? kick() : start()) },
    start,
    async stop() {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await active
    },
    tick,
    async stats() {
      const pending = await store.transaction((tx) => tx.countStreamOutbox())
      return { ...counts, pending }
    },
  }
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
