/** What trace-preload.ts notes in the server's process, as `GET /__trace` answers it. */
export interface TraceNote {
  /** Milliseconds on CLOCK_MONOTONIC (`process.hrtime`), comparable across processes. */
  readonly at: number
  readonly kind: 'request' | 'end' | 'sse' | 'flush' | 'begin' | 'commit'
  /** For `request`, `end`, `sse`: the request's method and path (no query). */
  readonly method?: string
  readonly path?: string
  /** For `sse` (written to the response) and `flush` (handed to the socket): the event's sync count. */
  readonly syncCount?: number
  /** For `commit`: the SQL statements the transaction ran, BEGIN and COMMIT left out. */
  readonly statements?: number
  /** For `commit`: the start of each of those statements, in order. */
  readonly sql?: readonly string[]
}

export const TRACE_PATH = '/__trace'
