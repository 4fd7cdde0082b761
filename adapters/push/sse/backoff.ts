/** The reconnect delays of the SSE push source and the WebSocket transport's socket. */

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

/**
 * The waits between reconnect attempts of one connection: each failed attempt waits longer
 * (`next`), a connection that works starts the delays over (`connected`), and `interrupt` ends a
 * wait at once (the connection is being stopped).
 */
export class ReconnectWait {
  readonly #options: ReconnectOptions
  // Failed attempts since the last working connection; sets the next delay.
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #wake: (() => void) | undefined

  constructor(options: ReconnectOptions) {
    this.#options = options
  }

  connected(): void {
    this.#attempt = 0
  }

  /** Resolves after the delay of the next attempt, or at once when interrupted. */
  async next(): Promise<void> {
    const delay = reconnectDelay(this.#attempt, this.#options, Math.random())
    this.#attempt++
    await new Promise<void>((resolve) => {
      this.#wake = resolve
      this.#timer = setTimeout(resolve, delay)
    })
    this.#wake = undefined
    this.#timer = undefined
  }

  /**
   * Connects again and again until `stopped()`: `connectOnce` holds one connection until it ends
   * (reporting its failures rather than throwing), then the next delay passes.
   */
  async keepConnecting(connectOnce: () => Promise<void>, stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      await connectOnce()
      if (stopped()) return
      await this.next()
    }
  }

  interrupt(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#wake?.()
  }
}
