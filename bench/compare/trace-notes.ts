/** What trace-preload.ts notes in the server's process, as `GET /__trace` answers it. */
export interface TraceNote {
  /** Milliseconds on CLOCK_MONOTONIC (`process.hrtime`), comparable across processes. */
  readonly at: number
  readonly kind: 'request' | 'end' | 'sse'
  readonly method: string
  readonly path: string
  /** For `sse`: the sync count the event announces. */
  readonly syncCount?: number
}

export const TRACE_PATH = '/__trace'
