import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { OutboxSummary, StoreTx, SyncStore, TransactionOptions } from '../store/contract.js'
import type { ThrottleKind } from './throttle.js'

/** What became of one push attempt, as the dispatcher reports it. */
export type PushOutcomeName = 'delivered' | 'retried' | 'dropped' | 'gone'

/**
 * The server's Prometheus metrics, on a registry of its own (two servers in one process do not
 * share counters). Labels only ever carry values from small fixed sets (operation names, HTTP
 * statuses, platforms, outcomes): never an identity, a pool, a dataset or a token, which would
 * both leak them and grow the series without bound.
 */
export interface ServerMetrics {
  /** The registry to scrape; undefined when metrics are off. */
  readonly registry: Registry | undefined
  request(operation: string, status: number, seconds: number): void
  push(platform: string, outcome: PushOutcomeName): void
  throttled(kind: ThrottleKind): void
  /** The store with its transactions timed. */
  instrument(store: SyncStore): SyncStore
}

/** Metrics off: every report is dropped and the store is used as it is. */
export const NO_METRICS: ServerMetrics = {
  registry: undefined,
  request: () => {},
  push: () => {},
  throttled: () => {},
  instrument: (store) => store,
}

export interface MetricSources {
  /** Read for the outbox gauges at each scrape. */
  readonly store: SyncStore
  /** Open live channels (SSE streams and WebSockets) of this process. */
  readonly openStreams: () => number
  /** Keys the throttle remembers, per kind. */
  readonly throttleKeys: () => Record<ThrottleKind, number>
  /** The server's clock (epoch ms), which the outbox's times follow. */
  readonly now: () => number
  /** Reports a scrape whose outbox read failed. */
  readonly onError: (error: unknown) => void
  /** Process metrics (CPU, memory, event loop, GC...), default true. */
  readonly processMetrics?: boolean
}

/** How long one outbox read serves the scrapes that follow (both outbox gauges read it). */
const OUTBOX_READ_REUSE_MS = 1000

export function createServerMetrics(sources: MetricSources): ServerMetrics {
  const registry = new Registry()
  if (sources.processMetrics !== false) collectDefaultMetrics({ register: registry })

  const requests = new Counter({
    name: 'pushsync_http_requests_total',
    help: 'HTTP requests answered, by operation (ListRecords, UpdateRecords, GetId...) and status code.',
    labelNames: ['operation', 'status'] as const,
    registers: [registry],
  })
  const requestSeconds = new Histogram({
    name: 'pushsync_http_request_duration_seconds',
    help: 'Time from a request to its response (for event streams: until the stream opened), by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  new Gauge({
    name: 'pushsync_sse_streams',
    help: 'Open live channels of this process: Server-Sent Events streams and WebSockets.',
    registers: [registry],
    collect() {
      this.set(sources.openStreams())
    },
  })

  // One read of the outbox serves both gauges (and scrapes close together): COUNT and MIN in one query.
  let lastRead: { at: number; summary: Promise<OutboxSummary | undefined> } | undefined
  const outbox = (): Promise<OutboxSummary | undefined> => {
    const at = performance.now()
    if (lastRead === undefined || at - lastRead.at > OUTBOX_READ_REUSE_MS) {
      const summary = sources.store
        .transaction((tx) => tx.outboxSummary())
        .catch((error: unknown) => {
          sources.onError(error)
          return undefined
        })
      lastRead = { at, summary }
    }
    return lastRead.summary
  }
  new Gauge({
    name: 'pushsync_outbox_rows',
    help: 'Pushes waiting in the outbox (of every process sharing the store); NaN when the store could not be read.',
    registers: [registry],
    async collect() {
      this.set((await outbox())?.rows ?? Number.NaN)
    },
  })
  new Gauge({
    name: 'pushsync_outbox_oldest_age_seconds',
    help: 'How long the oldest push in the outbox has waited; 0 when the outbox is empty.',
    registers: [registry],
    async collect() {
      const summary = await outbox()
      if (summary === undefined) this.set(Number.NaN)
      else if (summary.oldestQueuedAt === undefined) this.set(0)
      else this.set(Math.max(0, sources.now() - summary.oldestQueuedAt) / 1000)
    },
  })

  const pushes = new Counter({
    name: 'pushsync_pushes_total',
    help: 'Push attempts by platform and outcome: delivered, retried (failed for now), dropped (given up), gone (registration removed).',
    labelNames: ['platform', 'outcome'] as const,
    registers: [registry],
  })
  const throttled = new Counter({
    name: 'pushsync_throttled_total',
    help: 'Requests refused with TooManyRequestsException, by bucket (guestGetId: per address, identity: per identity).',
    labelNames: ['bucket'] as const,
    registers: [registry],
  })
  new Gauge({
    name: 'pushsync_throttle_keys',
    help: 'Addresses or identities the throttle remembers, by bucket (bounded by its maxKeys).',
    labelNames: ['bucket'] as const,
    registers: [registry],
    collect() {
      for (const [bucket, size] of Object.entries(sources.throttleKeys())) this.set({ bucket }, size)
    },
  })
  const transactionSeconds = new Histogram({
    name: 'pushsync_store_transaction_duration_seconds',
    help: 'Store transactions, from the call (waiting for a lock or connection included) to commit or rollback.',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })

  return {
    registry,
    request(operation, status, seconds) {
      requests.inc({ operation, status: String(status) })
      requestSeconds.observe({ operation }, seconds)
    },
    push(platform, outcome) {
      pushes.inc({ platform, outcome })
    },
    throttled(kind) {
      throttled.inc({ bucket: kind })
    },
    instrument(store) {
      const timed = async <T>(fn: (tx: StoreTx) => Promise<T>, options?: TransactionOptions): Promise<T> => {
        const started = performance.now()
        try {
          const result = await store.transaction(fn, options)
          transactionSeconds.observe({ outcome: 'committed' }, (performance.now() - started) / 1000)
          return result
        } catch (error) {
          transactionSeconds.observe({ outcome: 'failed' }, (performance.now() - started) / 1000)
          throw error
        }
      }
      return {
        kind: store.kind,
        ...(store.bus === undefined ? {} : { bus: store.bus }),
        transaction: timed,
        close: () => store.close(),
        readiness: () => store.readiness(),
      }
    },
  }
}
