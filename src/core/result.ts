/**
 * Failures in the core are values, never exceptions: every function that can refuse its input
 * returns a `Result`, and the caller decides whether to throw, retry or report.
 */
export type Result<TValue, TFailure> = Ok<TValue> | Fail<TFailure>

/** A success and its value. */
export interface Ok<TValue> {
  readonly ok: true
  readonly value: TValue
}

/** A failure and why, as data. */
export interface Fail<TFailure> {
  readonly ok: false
  readonly failure: TFailure
}

/** Wraps a value as a success. */
export function ok<TValue>(value: TValue): Ok<TValue> {
  return { ok: true, value }
}

/** Wraps a failure. */
export function fail<TFailure>(failure: TFailure): Fail<TFailure> {
  return { ok: false, failure }
}
