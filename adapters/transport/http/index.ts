/**
 * The transport over plain `fetch`: Cognito Sync's REST protocol (the same paths, query names and
 * JSON bodies as the AWS SDK sends) with an `Authorization: Bearer` token instead of SigV4 signing.
 * It needs no AWS SDK and no Node built-in, so it runs in browsers, workers, React Native and Node.
 *
 * pushsync-server accepts as bearer token the `SessionToken` of credentials from its Cognito Identity
 * endpoint, or a JWT of a configured issuer. Amazon Cognito Sync itself only takes SigV4: use the
 * Cognito transport (`pushsync/transport/cognito`) for it.
 *
 * @module
 */
import type { Transport } from '../../../src/contracts/transport.js'
import { fail } from '../../../src/core/result.js'
import { SyncError } from '../../../src/errors.js'
import { abortedFailure, bearerToken, describeError, type Exchange, isAborted, readAnswer } from './answer.js'
import { createRestTransport } from './operations.js'

/**
 * The part of `fetch` this transport uses. The global `fetch` of browsers, Node, Deno, Bun and
 * React Native fits, as do wrappers (for logging, proxies, tests).
 */
export type FetchLike = (
  url: string,
  init: {
    readonly method: string
    readonly headers: Record<string, string>
    readonly body?: string
    readonly signal?: AbortSignal
  },
) => Promise<FetchResponse>

/** The part of a fetch `Response` this transport reads. */
export interface FetchResponse {
  readonly ok: boolean
  readonly status: number
  readonly headers: { get(name: string): string | null }
  text(): Promise<string>
}

/** What `createHttpTransport` takes: the server, the identity and its bearer token. */
export interface HttpTransportOptions {
  /**
   * The server's base URL, such as `https://sync.example.com` or `https://example.com/sync` (a path
   * prefix is kept; a trailing `/` is ignored). In a browser, a path such as `/sync` targets the
   * page's own origin.
   */
  readonly endpoint: string
  readonly identityPoolId: string
  /** The identity whose data this transport reads and writes; the token must be its own. */
  readonly identityId: string
  /**
   * The bearer token, asked for before every request, so it can be refreshed when it expires. A
   * rejection (or a throw) fails the request with `auth`.
   */
  readonly getToken: () => string | Promise<string>
  /** Default: the global `fetch`, looked up on every request (so a polyfill installed later is used). */
  readonly fetch?: FetchLike
}

const NAME = 'transport:http'

/** Creates the transport of one identity. It holds no state of its own besides the options. */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const { identityPoolId, identityId } = options
  return createRestTransport(NAME, identityPoolId, identityId, createHttpExchange(options, NAME))
}

/**
 * One request over `fetch`: the JSON object the server answered, or the failure. Every exception of
 * the token provider, of `fetch` and of reading the body is turned into a failure here.
 *
 * @internal Also the WebSocket transport's way while its socket is not open.
 */
export function createHttpExchange(options: HttpTransportOptions, adapter: string): Exchange {
  const { getToken } = options
  if (typeof getToken !== 'function') {
    throw new SyncError('INVALID_ARGUMENT', 'getToken must be a function returning the bearer token', {
      adapter,
    })
  }
  // Called as a plain function, never as a method of `options`: browsers refuse a `fetch` whose
  // `this` is not the global object ("Illegal invocation").
  const send: FetchLike = options.fetch ?? globalFetch(adapter)
  const base = options.endpoint.replace(/\/+$/, '')

  return async (method, path, body, signal) => {
    if (signal?.aborted === true) return fail(abortedFailure(signal))
    const token = await bearerToken(getToken)
    if (!token.ok) return token
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${token.value}`,
    }
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: FetchResponse
    let text: string
    try {
      response = await send(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      })
      // A connection dropped while the body streams in is as much a lost answer as a refused one.
      text = await response.text()
    } catch (error) {
      // The caller's abort rejects fetch with an AbortError; the signal says whose abort it was.
      if (signal !== undefined && isAborted(signal)) return fail(abortedFailure(signal))
      return fail({
        kind: 'offline',
        message: `the server could not be reached (${describeError(error)})`,
        cause: error,
      })
    }
    return readAnswer(method, path, response.status, response.headers, text)
  }
}

function globalFetch(adapter: string): FetchLike {
  if (typeof globalThis.fetch !== 'function') {
    throw new SyncError('INVALID_ARGUMENT', 'no global fetch: pass the `fetch` option', { adapter })
  }
  return (url, init) => globalThis.fetch(url, init)
}
