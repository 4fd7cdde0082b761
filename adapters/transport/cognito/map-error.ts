/**
 * Every error the AWS SDK v3 Cognito Sync client rejects with, as a transport failure. This is the
 * only place the Cognito transport interprets an SDK error.
 *
 * - An exception with a Cognito Sync error name maps by name (`ResourceConflictException` →
 *   `conflict`, ...: the table in src/core/transport-failure.ts, shared with the HTTP transport).
 * - An answer without a known name maps by HTTP status: 5xx → `server`, 429 → `throttled`.
 * - `CredentialsProviderError` (the client's credentials provider could not give credentials) → `auth`.
 * - An error without an HTTP status never got an answer: connection refused or reset, DNS,
 *   `TimeoutError`, `AbortError` → `offline`. The request may or may not have been applied.
 * - The caller's own signal aborting → `offline` too, with the signal's reason as `cause`: the
 *   request may have reached the server, and the caller knows it aborted.
 * - Anything else (an unknown exception name with a 4xx, an answer the SDK could not parse) →
 *   `protocol`.
 */
import type { TransportFailure } from '../../../src/contracts/transport.js'
import { failureKindOf, retryAfterMs } from '../../../src/core/transport-failure.js'

/** The failure for a request the caller aborted, before or while it ran. */
export function abortedFailure(signal: AbortSignal): TransportFailure {
  return { kind: 'offline', message: 'the request was aborted by the caller', cause: signal.reason }
}

/**
 * The transport failure for an error thrown by `CognitoSyncClient.send`. `signal` is the caller's
 * signal of that call, so that the caller's abort is told apart from an abort inside the SDK.
 */
export function mapCognitoError(error: unknown, signal?: AbortSignal): TransportFailure {
  if (signal?.aborted === true) return abortedFailure(signal)
  const { name, message, status, retryAfter } = inspect(error)
  if (name === 'CredentialsProviderError') {
    return { kind: 'auth', message: `no credentials for Cognito Sync: ${message}` }
  }
  if (status === undefined) {
    return {
      kind: 'offline',
      message: `Cognito Sync could not be reached (${name}: ${message})`,
      cause: error,
    }
  }
  const kind = failureKindOf(name, status)
  const text = `${name}: ${message}`
  switch (kind) {
    case 'throttled': {
      const wait = retryAfterMs(retryAfter)
      return wait === undefined ? { kind, message: text } : { kind, message: text, retryAfterMs: wait }
    }
    case 'server':
      return { kind, message: `${text} (HTTP ${status})`, status }
    case 'protocol':
      return { kind, message: `unexpected answer from Cognito Sync: ${text} (HTTP ${status})` }
    case 'offline':
      return { kind, message: text, cause: error }
    default:
      return { kind, message: text }
  }
}

interface Inspected {
  readonly name: string
  readonly message: string
  /** The HTTP status of the answer; absent when no answer arrived. */
  readonly status: number | undefined
  readonly retryAfter: string | undefined
}

/**
 * Reads what the SDK attaches to its errors (`$metadata.httpStatusCode`, `$response.headers`)
 * without trusting the shape: anything can be thrown, and a wrong guess must not throw here.
 */
function inspect(error: unknown): Inspected {
  if (typeof error !== 'object' || error === null) {
    return { name: typeof error, message: String(error), status: undefined, retryAfter: undefined }
  }
  const fields = error as {
    name?: unknown
    message?: unknown
    code?: unknown
    $metadata?: { httpStatusCode?: unknown }
    $response?: { headers?: Record<string, unknown> }
  }
  const status = fields.$metadata?.httpStatusCode
  const retryAfter = fields.$response?.headers?.['retry-after']
  // Node's network errors are plain `Error`s whose `code` (ECONNREFUSED, ECONNRESET...) says more.
  const name =
    fields.name === 'Error' && typeof fields.code === 'string'
      ? fields.code
      : typeof fields.name === 'string'
        ? fields.name
        : 'Error'
  return {
    name,
    message: typeof fields.message === 'string' ? fields.message : String(error),
    status: typeof status === 'number' ? status : undefined,
    retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
  }
}
