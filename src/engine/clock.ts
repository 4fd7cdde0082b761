/** Time for the engine, injectable so tests control it. Epoch milliseconds. */
/** Where the engine reads the time: record dates, the age of a kept session token. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
}

/** The system's clock, `Date.now()`: the manager's default. */
export const systemClock: Clock = { now: () => Date.now() }
