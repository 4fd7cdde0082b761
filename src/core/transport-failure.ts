/**
 * Which kind of transport failure a Cognito Sync error answer is. The Cognito transport reads the
 * error type from the AWS SDK's exception name, the HTTP transport from the `x-amzn-ErrorType` header
 * or the body's `__type`; both read the same names off the same wire (spec §2.3), so the table is
 * kept once, here.
 */

/**
 * The kinds of the transport port's `TransportFailure`. The core imports nothing outside itself, so
 * it spells them out; a type test keeps the two lists equal.
 *
 * @internal The transports' mapping of error answers; apps see `SyncError` codes.
 */
export type TransportFailureKindName =
  | 'offline'
  | 'conflict'
  | 'auth'
  | 'throttled'
  | 'limit'
  | 'notFound'
  | 'invalid'
  | 'server'
  | 'protocol'

// A Map, not an object literal: a type such as `constructor` must not find Object.prototype's.
const KIND_BY_ERROR_TYPE: ReadonlyMap<string, TransportFailureKindName> = new Map([
  ['ResourceConflictException', 'conflict'],
  ['NotAuthorizedException', 'auth'],
  ['TooManyRequestsException', 'throttled'],
  // The sync trigger was throttled: the same request succeeds later, like any throttling.
  ['LambdaThrottledException', 'throttled'],
  ['LimitExceededException', 'limit'],
  ['ResourceNotFoundException', 'notFound'],
  ['InvalidParameterException', 'invalid'],
  // The pool's sync trigger answered badly: retrying the same patches gets the same answer.
  ['InvalidLambdaFunctionOutputException', 'invalid'],
  // Push sync is not configured for the pool: no retry fixes it, only a change of configuration.
  ['InvalidConfigurationException', 'invalid'],
  ['InternalErrorException', 'server'],
])

/**
 * The bare shape name of an error type as servers send it: `x-amzn-ErrorType` may carry a URI after
 * `:` (`ResourceConflictException:http://internal.amazon.com/...`), and a body's `__type` may be
 * qualified by a namespace before `#` (`com.amazonaws.cognitosync#ResourceConflictException`).
 *
 * @internal The transports' mapping of error answers; apps see `SyncError` codes.
 */
export function errorTypeName(errorType: string): string {
  const unqualified = errorType.slice(errorType.lastIndexOf('#') + 1)
  const colon = unqualified.indexOf(':')
  return (colon < 0 ? unqualified : unqualified.slice(0, colon)).trim()
}

/**
 * The failure kind of an error answer: by its error type when the type is one of Cognito Sync's, else
 * by the HTTP status (a proxy or load balancer answers without a type: 5xx is `server`, 429
 * `throttled`), else `protocol` (an answer this client does not understand).
 *
 * Answers that never arrived (network errors, timeouts, aborts) are `offline`; they have no type and
 * no status, so the adapters decide that before calling this.
 *
 * @internal The transports' mapping of error answers; apps see `SyncError` codes.
 */
export function failureKindOf(errorType: string, status?: number): TransportFailureKindName {
  const byType = KIND_BY_ERROR_TYPE.get(errorTypeName(errorType))
  if (byType !== undefined) return byType
  if (status !== undefined && status >= 500 && status <= 599) return 'server'
  if (status === 429) return 'throttled'
  return 'protocol'
}

/**
 * Milliseconds to wait from a `Retry-After` header, when it holds delay-seconds. The HTTP-date form
 * needs a clock, which the core does not read, and no Cognito server sends it: it gives `undefined`.
 *
 * @internal The transports' mapping of error answers; apps see `SyncError` codes.
 */
export function retryAfterMs(header: string | null | undefined): number | undefined {
  if (header === null || header === undefined) return undefined
  const text = header.trim()
  if (!/^\d+$/.test(text)) return undefined
  const seconds = Number(text)
  return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined
}
