/**
 * Failures in the core are values, never exceptions: every function that can refuse its input
 * returns a `Result`, and the caller decides whether to throw, retry or report.
 */
export type Result<TValue, TFailure> = Ok<TValue> | Fail<TFailure>

export interface Ok<TValue> {
  readonly ok: true
  readonly value: TValue
}

export interface Fail<TFailure> {
  readonly ok: false
  readonly failure: TFailure
}

export function ok<TValue>(value: TValue): Ok<TValue> {
  return { ok: true, value }
}

export function fail<TFailure>(failure: TFailure): Fail<TFailure> {
  return { ok: false, failure }
}
