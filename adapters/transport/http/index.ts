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
import type {
  DeleteDatasetRequest,
  ListRecordsRequest,
  Transport,
  TransportFailure,
  UpdateRecordsRequest,
} from '../../../src/contracts/transport.js'
import type { Platform } from '../../../src/core/model.js'
import { fail, ok, type Result } from '../../../src/core/result.js'
import { errorTypeName, failureKindOf, retryAfterMs } from '../../../src/core/transport-failure.js'
import {
  type DatasetsListing,
  readDescribeDatasetAnswer,
  readEpochSeconds,
  readListDatasetsAnswer,
  readListRecordsAnswer,
  readRegisterDeviceAnswer,
  readUpdateRecordsResult,
} from '../../../src/core/wire.js'
import { isSyncError, SyncError } from '../../../src/errors.js'

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
/** The page size of ListDatasets, as Cognito's Android and JavaScript clients use. */
const DATASETS_PAGE_SIZE = 64

/** Creates the transport of one identity. It holds no state of its own besides the options. */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const { identityPoolId, identityId, getToken } = options
  if (typeof getToken !== 'function') {
    throw new SyncError('INVALID_ARGUMENT', 'getToken must be a function returning the bearer token', {
      adapter: NAME,
    })
  }
  // Called as a plain function, never as a method of `options`: browsers refuse a `fetch` whose
  // `this` is not the global object ("Illegal invocation").
  const send: FetchLike = options.fetch ?? globalFetch()
  const base = options.endpoint.replace(/\/+$/, '')
  const identityPath = `/identitypools/${segment(identityPoolId)}/identities/${segment(identityId)}`
  const datasetPath = (datasetName: string) => `${identityPath}/datasets/${segment(datasetName)}`

  /**
   * One request: the JSON object the server answered, or the failure. Every exception of the token
   * provider, of `fetch` and of reading the body is turned into a failure here.
   */
  async function request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: object | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Result<Record<string, unknown>, TransportFailure>> {
    if (signal?.aborted === true) return fail(abortedFailure(signal))
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
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}` }
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
    const json = parseJson(text)
    if (!response.ok) return fail(errorFailure(response, json))
    if (json === undefined) {
      return fail({ kind: 'protocol', message: `the answer to ${method} ${path} is not a JSON object` })
    }
    return ok(json)
  }

  /** Runs a request and reads its answer; `read` turns an answer of the wrong shape into `protocol`. */
  async function call<TValue>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: object | undefined,
    signal: AbortSignal | undefined,
    read: (answer: Record<string, unknown>) => Result<TValue, TransportFailure>,
  ): Promise<Result<TValue, TransportFailure>> {
    const answer = await request(method, path, body, signal)
    if (!answer.ok) return answer
    return read(answer.value)
  }

  return {
    name: NAME,
    identityPoolId,
    identityId,

    listRecords(request: ListRecordsRequest, signal?: AbortSignal) {
      const query = [
        `lastSyncCount=${request.lastSyncCount}`,
        ...(request.maxResults === undefined ? [] : [`maxResults=${request.maxResults}`]),
        ...(request.nextToken === undefined ? [] : [`nextToken=${segment(request.nextToken)}`]),
        ...(request.syncSessionToken === undefined
          ? []
          : [`syncSessionToken=${segment(request.syncSessionToken)}`]),
      ]
      return call(
        'GET',
        `${datasetPath(request.datasetName)}/records?${query.join('&')}`,
        undefined,
        signal,
        (answer) => readListRecordsAnswer(answer, readEpochSeconds),
      )
    },

    updateRecords(request: UpdateRecordsRequest, signal?: AbortSignal) {
      const body = {
        SyncSessionToken: request.syncSessionToken,
        ...(request.deviceId === undefined ? {} : { DeviceId: request.deviceId }),
        RecordPatches: request.patches.map((patch) => ({
          Op: patch.op,
          Key: patch.key,
          // A remove carries no value: Cognito reads a missing value as a deletion.
          ...(patch.value === null ? {} : { Value: patch.value }),
          SyncCount: patch.syncCount,
          DeviceLastModifiedDate: toEpochSeconds(patch.deviceLastModifiedDate),
        })),
      }
      return call('POST', datasetPath(request.datasetName), body, signal, (answer) =>
        readUpdateRecordsResult(answer, readEpochSeconds),
      )
    },

    async listDatasets(signal?: AbortSignal) {
      let listing: DatasetsListing | undefined
      do {
        const before = listing
        const token = before?.nextToken ?? null
        const query =
          token === null
            ? `maxResults=${DATASETS_PAGE_SIZE}`
            : `maxResults=${DATASETS_PAGE_SIZE}&nextToken=${segment(token)}`
        const page = await call('GET', `${identityPath}/datasets?${query}`, undefined, signal, (answer) =>
          readListDatasetsAnswer(answer, readEpochSeconds, before),
        )
        if (!page.ok) return page
        listing = page.value
      } while (listing.nextToken !== null)
      return ok(listing.datasets)
    },

    describeDataset(datasetName: string, signal?: AbortSignal) {
      return call('GET', datasetPath(datasetName), undefined, signal, (answer) =>
        readDescribeDatasetAnswer(answer, readEpochSeconds),
      )
    },

    deleteDataset(request: DeleteDatasetRequest, signal?: AbortSignal) {
      // pushsync-server reads the writer's device id from the query, as the event stream does.
      const query = request.deviceId === undefined ? '' : `?deviceId=${segment(request.deviceId)}`
      return call('DELETE', `${datasetPath(request.datasetName)}${query}`, undefined, signal, () =>
        ok(undefined),
      )
    },

    registerDevice(platform: Platform, token: string, signal?: AbortSignal) {
      // The one path with a singular `identity`, as in Cognito's API.
      const path = `/identitypools/${segment(identityPoolId)}/identity/${segment(identityId)}/device`
      return call('POST', path, { Platform: platform, Token: token }, signal, readRegisterDeviceAnswer)
    },

    subscribe(datasetName: string, deviceId: string, signal?: AbortSignal) {
      const path = `${datasetPath(datasetName)}/subscriptions/${segment(deviceId)}`
      return call('POST', path, undefined, signal, () => ok(undefined))
    },

    unsubscribe(datasetName: string, deviceId: string, signal?: AbortSignal) {
      const path = `${datasetPath(datasetName)}/subscriptions/${segment(deviceId)}`
      return call('DELETE', path, undefined, signal, () => ok(undefined))
    },
  }
}

function globalFetch(): FetchLike {
  if (typeof globalThis.fetch !== 'function') {
    throw new SyncError('INVALID_ARGUMENT', 'no global fetch: pass the `fetch` option', { adapter: NAME })
  }
  return (url, init) => globalThis.fetch(url, init)
}

/** Ids, names and tokens may hold `:`, `/`, `?`, `#`...: each travels as one encoded path segment. */
function segment(value: string): string {
  return encodeURIComponent(value)
}

/** A function, not `signal.aborted` inline: TypeScript would keep the value it narrowed before an `await`. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}

function abortedFailure(signal: AbortSignal): TransportFailure {
  return { kind: 'offline', message: 'the request was aborted by the caller', cause: signal.reason }
}

function describeError(error: unknown): string {
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
function errorFailure(response: FetchResponse, body: Record<string, unknown> | undefined): TransportFailure {
  const rawType =
    response.headers.get('x-amzn-errortype') ?? stringField(body, '__type') ?? stringField(body, 'code') ?? ''
  const type = errorTypeName(rawType)
  const detail = stringField(body, 'message') ?? stringField(body, 'Message') ?? ''
  const text = `${type === '' ? `HTTP ${response.status}` : type}${detail === '' ? '' : `: ${detail}`}`
  // A body too large for the server, or for a proxy in front of it (whose 413 has no type), is
  // refused for good: sending it again gets the same answer.
  const kind = response.status === 413 ? 'limit' : failureKindOf(type, response.status)
  switch (kind) {
    case 'throttled': {
      const wait = retryAfterMs(response.headers.get('retry-after'))
      return wait === undefined ? { kind, message: text } : { kind, message: text, retryAfterMs: wait }
    }
    case 'server':
      return { kind, message: `${text} (HTTP ${response.status})`, status: response.status }
    case 'protocol':
      return { kind, message: `unexpected answer: ${text} (HTTP ${response.status})` }
    default:
      return { kind, message: text }
  }
}

function stringField(body: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = body?.[name]
  return typeof value === 'string' ? value : undefined
}

function toEpochSeconds(ms: number): number {
  return ms / 1000
}
