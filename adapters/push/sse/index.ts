/**
 * A push source over server-sent events: pushsync-server's event stream of an identity, read with
 * `fetch` and the response body's reader. That works in Node, browsers, workers and the React Native
 * fetch polyfills that stream a body; `EventSource` is not used because it cannot send the
 * `Authorization` header. It imports no Node built-in and no SDK.
 *
 * The stream carries one `sync` event per changed dataset (`data` is the JSON push payload). On
 * every connect the server first sends the current sync count of every dataset of the identity,
 * so a device that was offline catches up, then the live changes; it leaves out the changes
 * written with this device's DeviceId. The source relays each event's `data` text as it is: the
 * sync manager parses it and decides whether to sync.
 *
 * ```ts
 * const stop = manager.addPushSource(
 *   createSsePushSource({ endpoint, identityPoolId, identityId, getToken: () => session.token }),
 * )
 * ```
 *
 * @module pushsync/push/sse
 */
import type { PushSink, PushSource } from '../../../src/contracts/push-source.js'
import { errorTypeName, failureKindOf } from '../../../src/core/transport-failure.js'
import { SyncError, type SyncErrorCode, TRANSPORT_ERROR_CODES } from '../../../src/errors.js'
import { type ReconnectOptions, ReconnectWait } from './backoff.js'
import { connectionToken, describeError, requireConnectionTarget } from './live-connection.js'
import { createSseParser } from './parser.js'

export type { ReconnectOptions } from './backoff.js'
export { createSseParser, type SseEvent, type SseParser } from './parser.js'

/** The reader of a streamed response body; the web `ReadableStreamDefaultReader` fits. */
export interface SseBodyReader {
  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | string | undefined }>
  cancel?(reason?: unknown): Promise<void>
}

/** The part of a fetch `Response` this source reads. */
export interface SseFetchResponse {
  readonly ok: boolean
  readonly status: number
  readonly headers: { get(name: string): string | null }
  /** `null` (or missing) when the fetch implementation cannot stream a body. */
  readonly body?: { getReader(): SseBodyReader } | null
  text(): Promise<string>
}

/** The part of `fetch` this source uses; the global `fetch` of every runtime fits. */
export type SseFetch = (
  url: string,
  init: {
    readonly method: 'GET'
    readonly headers: Record<string, string>
    readonly signal: AbortSignal
  },
) => Promise<SseFetchResponse>

/** What `createSsePushSource` takes: the server, the identity and its bearer token. */
export interface SsePushSourceOptions {
  /** The server's base URL, as for `pushsync/transport/http` (a path prefix is kept). */
  readonly endpoint: string
  readonly identityPoolId: string
  /** The identity whose changes are pushed; the token must be its own. */
  readonly identityId: string
  /** The bearer token, asked for before every connect, so a refreshed token is used on reconnect. */
  readonly getToken: () => string | Promise<string>
  /** Default: the global `fetch`, looked up on every connect. */
  readonly fetch?: SseFetch
  /** The backoff between reconnects (exponential with jitter). */
  readonly reconnect?: ReconnectOptions
}

const NAME = 'push:sse'
/** The only event type relayed; others are left for future kinds of event. */
const SYNC_EVENT = 'sync'

/**
 * Creates the SSE push source of one identity. Each `start` opens its own connection and keeps it
 * open, reconnecting with backoff after errors and after the server ends the stream, until the
 * function it returned is called.
 */
export function createSsePushSource(options: SsePushSourceOptions): PushSource {
  const { identityPoolId, identityId, getToken } = options
  if (typeof getToken !== 'function') {
    throw new SyncError('INVALID_ARGUMENT', 'getToken must be a function returning the bearer token', {
      adapter: NAME,
    })
  }
  requireConnectionTarget(options, NAME)
  const base = options.endpoint.replace(/\/+$/, '')
  const path = `/identitypools/${encodeURIComponent(identityPoolId)}/identities/${encodeURIComponent(identityId)}/events`
  const reconnect = options.reconnect ?? {}

  return {
    name: NAME,
    start(sink) {
      const connection = new Connection(sink, {
        url: (deviceId) => `${base}${path}?deviceId=${encodeURIComponent(deviceId)}`,
        getToken,
        fetch: options.fetch,
        reconnect,
      })
      connection.run()
      return () => connection.stop()
    },
  }
}

interface ConnectionOptions {
  readonly url: (deviceId: string) => string
  readonly getToken: () => string | Promise<string>
  readonly fetch: SseFetch | undefined
  readonly reconnect: ReconnectOptions
}

/** One started source: a loop of connect, read, wait. */
class Connection {
  readonly #sink: PushSink
  readonly #options: ConnectionOptions
  #stopped = false
  #controller: AbortController | undefined
  #reader: SseBodyReader | undefined
  // Kept across connections: sent as Last-Event-ID so the server knows where this device left off.
  #lastEventId = ''
  readonly #wait: ReconnectWait

  constructor(sink: PushSink, options: ConnectionOptions) {
    this.#sink = sink
    this.#options = options
    this.#wait = new ReconnectWait(options.reconnect)
  }

  run(): void {
    this.#wait
      .keepConnecting(
        () => this.#connectOnce(),
        () => this.#stopped,
      )
      .catch((error: unknown) => {
        // #connectOnce catches everything it awaits; reaching here is a bug, still never thrown at the caller.
        this.#report('TRANSPORT_PROTOCOL', `the event stream loop failed: ${describeError(error)}`, error)
      })
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#controller?.abort()
    // A fetch polyfill may ignore the signal once the body streams: cancel the reader as well.
    this.#reader?.cancel?.().catch(() => {})
    this.#wait.interrupt()
  }

  /** One connection, from the token to the end of the stream; every failure is reported, none thrown. */
  async #connectOnce(): Promise<void> {
    const taken = await connectionToken(this.#options.getToken)
    if ('failure' in taken) {
      this.#report('TRANSPORT_AUTH', taken.failure, taken.cause)
      return
    }
    const { token } = taken
    if (this.#stopped) return
    const send = this.#options.fetch ?? globalFetch()
    if (send === undefined) {
      this.#report('INVALID_ARGUMENT', 'no global fetch: pass the `fetch` option')
      return
    }
    const controller = new AbortController()
    this.#controller = controller
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization: `Bearer ${token}`,
      'cache-control': 'no-cache',
    }
    if (this.#lastEventId !== '') headers['last-event-id'] = this.#lastEventId

    let response: SseFetchResponse
    try {
      // Read here, after the token: the manager may have learnt its registered device id meanwhile.
      response = await send(this.#options.url(this.#sink.deviceId), {
        method: 'GET',
        headers,
        signal: controller.signal,
      })
    } catch (error) {
      if (!this.#stopped)
        this.#report('TRANSPORT_OFFLINE', `connecting failed: ${describeError(error)}`, error)
      return
    }
    if (!response.ok) {
      await this.#reportAnswer(response)
      return
    }
    const contentType = response.headers.get('content-type') ?? ''
    if (!/^text\/event-stream\b/i.test(contentType.trim())) {
      controller.abort()
      this.#report(
        'TRANSPORT_PROTOCOL',
        `the server answered ${contentType || 'no content type'}, not text/event-stream`,
      )
      return
    }
    const body = response.body
    if (body === null || body === undefined || typeof body.getReader !== 'function') {
      controller.abort()
      this.#report('TRANSPORT_PROTOCOL', 'this fetch cannot stream a response body (no body.getReader())')
      return
    }
    const reader = body.getReader()
    this.#reader = reader
    this.#wait.connected()
    this.#callSink(() => this.#sink.onConnected?.())
    await this.#read(reader)
    this.#reader = undefined
  }

  async #read(reader: SseBodyReader): Promise<void> {
    // The id carries over: an event without an `id` field still has the last one, as EventSource does.
    const parser = createSseParser(this.#lastEventId)
    const decoder = new TextDecoder()
    try {
      while (!this.#stopped) {
        const { done, value } = await reader.read()
        if (done) break
        if (value === undefined) continue
        const text = typeof value === 'string' ? value : decoder.decode(value, { stream: true })
        for (const event of parser.feed(text)) {
          if (this.#stopped) return
          this.#lastEventId = event.id
          // The data text as it came, valid or not: the manager parses and reports.
          if (event.type === SYNC_EVENT) this.#callSink(() => this.#sink.onPayload(event.data))
        }
      }
      // The stream ended (server restart, proxy timeout): the loop reconnects with backoff. Not an
      // error worth reporting on its own; a server that keeps refusing is reported when it refuses.
    } catch (error) {
      if (!this.#stopped)
        this.#report('TRANSPORT_OFFLINE', `the event stream broke: ${describeError(error)}`, error)
    } finally {
      reader.cancel?.().catch(() => {})
    }
  }

  async #reportAnswer(response: SseFetchResponse): Promise<void> {
    let text = ''
    try {
      text = await response.text()
    } catch {
      // The status alone still says what went wrong.
    }
    const body = parseJson(text)
    const type = errorTypeName(
      response.headers.get('x-amzn-errortype') ??
        stringField(body, '__type') ??
        stringField(body, 'code') ??
        '',
    )
    const detail = stringField(body, 'message') ?? stringField(body, 'Message') ?? ''
    const message = `the server refused the event stream: ${type === '' ? 'HTTP' : `${type}, HTTP`} ${response.status}${detail === '' ? '' : `: ${detail}`}`
    // 401/403 are auth whatever the type says: the token may be refreshed, so the loop keeps trying.
    const code: SyncErrorCode =
      response.status === 401 || response.status === 403
        ? 'TRANSPORT_AUTH'
        : TRANSPORT_ERROR_CODES[failureKindOf(type, response.status)]
    this.#report(code, message, undefined, {
      status: response.status,
      ...(type === '' ? {} : { errorType: type }),
    })
  }

  #report(code: SyncErrorCode, message: string, cause?: unknown, details?: Record<string, unknown>): void {
    if (this.#stopped) return
    const error = new SyncError(code, message, {
      adapter: NAME,
      ...(cause === undefined ? {} : { cause }),
      ...(details === undefined ? {} : { details }),
    })
    this.#callSink(() => this.#sink.onError(error))
  }

  /** A sink that throws must not stop the stream. */
  #callSink(call: () => void): void {
    try {
      call()
    } catch {
      // The sink's failure is its own; the manager's sink never throws.
    }
  }
}

function globalFetch(): SseFetch | undefined {
  if (typeof globalThis.fetch !== 'function') return undefined
  // Called as a plain function: browsers refuse a `fetch` whose `this` is not the global object.
  return (url, init) => globalThis.fetch(url, init) as Promise<SseFetchResponse>
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

function stringField(body: Record<string, unknown> | undefined, name: string): string | undefined {
  if (body === undefined || !Object.hasOwn(body, name)) return undefined
  const value = body[name]
  return typeof value === 'string' ? value : undefined
}
