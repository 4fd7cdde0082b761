/**
 * How the server reads the AWS SDK's errors. Every protocol lands on an error whose `name` is the
 * error code AWS answered (`EndpointDisabled` for SNS's Query protocol maps to
 * `EndpointDisabledException`, Kinesis's JSON `__type` is the name itself), with `$metadata` for
 * HTTP answers and `$fault` telling the client's fault from the service's. Errors raised before any
 * answer (a refused connection, a timeout) carry no `$metadata`.
 */

interface SdkError {
  readonly name?: unknown
  readonly message?: unknown
  readonly $fault?: unknown
  readonly $metadata?: { readonly httpStatusCode?: number }
}

const asSdkError = (error: unknown): SdkError =>
  typeof error === 'object' && error !== null ? (error as SdkError) : {}

/** The error code, without the `Exception` suffix the SDK adds to modelled Query errors. */
export function awsErrorCode(error: unknown): string {
  const name = asSdkError(error).name
  return typeof name === 'string' ? name.replace(/Exception$/, '') : 'Error'
}

export function awsErrorMessage(error: unknown): string {
  const { message } = asSdkError(error)
  return typeof message === 'string' && message !== '' ? message : awsErrorCode(error)
}

/** `Code: message`, for logs and a row's reason. */
export function describeAwsError(error: unknown): string {
  return `${awsErrorCode(error)}: ${awsErrorMessage(error)}`
}

export function awsHttpStatus(error: unknown): number | undefined {
  return asSdkError(error).$metadata?.httpStatusCode
}

const THROTTLING = new Set([
  'Throttling',
  'Throttled',
  'TooManyRequests',
  'ProvisionedThroughputExceeded',
  'LimitExceeded',
  'RequestLimitExceeded',
  'KMSThrottling',
  'SlowDown',
  'EC2Throttled',
])

/** Credentials AWS no longer takes: the role's session is assumed again and the call repeated once. */
const CREDENTIALS_REFUSED = new Set([
  'ExpiredToken',
  'InvalidClientTokenId',
  'UnrecognizedClient',
  'InvalidSignature',
])

export function isCredentialsRefused(error: unknown): boolean {
  return CREDENTIALS_REFUSED.has(awsErrorCode(error))
}

/**
 * Worth trying again later: throttling, the service's own faults (5xx), and failures without an
 * answer (the network, a timeout). Anything else is the request or the account's configuration.
 */
export function isTransientAwsError(error: unknown): boolean {
  if (THROTTLING.has(awsErrorCode(error))) return true
  const status = awsHttpStatus(error)
  if (status === undefined) return true
  return status === 429 || status >= 500 || asSdkError(error).$fault === 'server'
}
