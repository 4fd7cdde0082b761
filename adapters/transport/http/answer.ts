/**
 * How an answer of pushsync-server (or of Cognito Sync's REST API) becomes a result: the same
 * reading whatever carried it, `fetch` or the WebSocket, so the same answer is the same failure kind.
 *
 * @internal Shared by the HTTP and WebSocket transports.
 */
import type { TransportFailure } from '../../../src/contracts/transport.js'
import { fail, ok, type Result } from '../../../src/core/result.js'
import { errorTypeName, failureKindOf, retryAfterMs } from '../../../src/core/transport-failure.js'
import { isSyncError } from '../../../src/errors.js'

/** The answer's headers, as far as they are read: `x-amzn-errortype` and `retry-after`. */
export interface AnswerHeaders {
  get(name: string): string | null
}

/** One request of Cognito Sync's REST API: the JSON object answered, or the failure. */
export type Exchange = (
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body: object | undefined,
  signal: AbortSignal | undefined,
) => Promise<Result<Record<string, unknown>, TransportFailure>>

/**
 * An answer that arrived: the JSON object of a success, or the failure its status, headers and
 * body say.
 */
export function readAnswer(
  method: string,
  path: string,
  status: number,
  headers: AnswerHeaders,
  text: string,
): Result<Record<string, unknown>, TransportFailure> {
  const json = parseJson(text)
  if (status < 200 || status > 299) return fail(errorFailure(status, headers, json))
  if (json === undefined) {
    return fail({ kind: 'protocol', message: `the answer to ${method} ${path} is not a JSON object` })
  }
  return ok(json)
}

/** The bearer token, or the failure of asking for it. */
export async function bearerToken(
  getToken: () => string | Promise<string>,
): Promise<Result<string, TransportFailure>> {
  let token: string
  try {
    token = await getToken()
  } catch (error) {
    // A sign-in that could not reach its server (pushsync/session offline) is the network's
    // failure, to be retried, not a refusal of credentials.
    const offline = isSyncError(error, 'TRANSPORT_OFFLINE')
    return fail({
      kind: offline ? 'offline' : 'auth',
      message: `getToken failed: ${describeError(error)}`,
      ...(offline ? { cause: error } : {}),
    })
  }
  if (typeof token !== 'string') {
    return fail({ kind: 'auth', message: `getToken returned ${typeof token}, not a string` })
  }
  return ok(token)
}

/** A function, not `signal.aborted` inline: TypeScript would keep the value it narrowed before an `await`. */
export function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}

export function abortedFailure(signal: AbortSignal): TransportFailure {
  return { kind: 'offline', message: 'the request was aborted by the caller', cause: signal.reason }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}

/** The JSON object in `text`; `{}` for an empty body; `undefined` for anything else. */
function parseJson(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return {}
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/**
 * An error answer as a failure. The type comes from `x-amzn-ErrorType` (what iOS reads), else the
 * body's `__type` or `code` (what Android and the AWS SDKs fall back to): a browser only sees the
 * header when the server exposes it to CORS, the body always.
 */
function errorFailure(
  status: number,
  headers: AnswerHeaders,
  body: Record<string, unknown> | undefined,
): TransportFailure {
  const rawType =
    headers.get('x-amzn-errortype') ?? stringField(body, '__type') ?? stringField(body, 'code') ?? ''
  const type = errorTypeName(rawType)
  const detail = stringField(body, 'message') ?? stringField(body, 'Message') ?? ''
  const text = `${type === '' ? `HTTP ${status}` : type}${detail === '' ? '' : `: ${detail}`}`
  // A body too large for the server, or for a proxy in front of it (whose 413 has no type), is
  // refused for good: sending it again gets the same answer.
  const kind = status === 413 ? 'limit' : failureKindOf(type, status)
  switch (kind) {
    case 'throttled': {
      const wait = retryAfterMs(headers.get('retry-after'))
      return wait === undefined ? { kind, message: text } : { kind, message: text, retryAfterMs: wait }
    }
    case 'server':
      return { kind, message: `${text} (HTTP ${status})`, status }
    case 'protocol':
      return { kind, message: `unexpected answer: ${text} (HTTP ${status})` }
    default:
      return { kind, message: text }
  }
}

function stringField(body: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = body?.[name]
  return typeof value === 'string' ? value : undefined
}
