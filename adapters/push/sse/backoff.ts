/** The reconnect delays of the SSE push source. */

export interface ReconnectOptions {
  /** The delay before the first reconnect after a working connection; default 1000 ms. */
  readonly initialDelayMs?: number
  /** The longest delay between attempts; default 30000 ms. */
  readonly maxDelayMs?: number
}

export const DEFAULT_INITIAL_DELAY_MS = 1000
export const DEFAULT_MAX_DELAY_MS = 30_000

/**
 * The delay before reconnect attempt `attempt` (0 for the first after a working connection):
 * exponential, capped at `maxDelayMs`, with "equal jitter" (a random point in the upper half), so
 * devices dropped together by a server restart do not all come back at the same instant, while
 * every delay stays within `[base / 2, base]`.
 *
 * @param random - a number in `[0, 1)`; `Math.random()` in the adapter, fixed in tests.
 */
export function reconnectDelay(attempt: number, options: ReconnectOptions, random: number): number {
  const initial = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS
  const max = Math.max(options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS, initial)
  // 2^attempt overflows to Infinity after ~1000 attempts; min() keeps that harmless.
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 64))
  return base / 2 + (base / 2) * random
}
