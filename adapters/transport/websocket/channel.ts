/**
 * The socket of one WebSocket transport: the calls it carries while open, the events it relays to
 * the started push source, and the loop that keeps it open (connect, run, back off, reconnect).
 */
import type { PushSink } from '../../../src/contracts/push-source.js'
import type { TransportFailure } from '../../../src/contracts/transport.js'
import { fail, type Result } from '../../../src/core/result.js'
import { SyncError, type SyncErrorCode } from '../../../src/errors.js'
import { type ReconnectOptions, ReconnectWait } from '../../push/sse/backoff.js'
import { connectionToken } from '../../push/sse/live-connection.js'
import { abortedFailure, describeError, readAnswer } from '../http/answer.js'
import {
  OPEN,
  type WebSocketConstructor,
  type WebSocketEventLike,
  type WebSocketLike,
} from './socket-like.js'

/** The message format the client speaks; the server answers with it. */
export const SOCKET_PROTOCOL = 'pushsync.v1'
/** The bearer token travels as an offered subprotocol: browsers cannot set headers on a WebSocket. */
export const BEARER_PROTOCOL_PREFIX = 'pushsync.bearer.'

export interface ChannelOptions {
  readonly adapter: string
  /** The socket's URL (`ws:` or `wss:`), with the device's id in the query when there is one. */
  readonly url: (deviceId: string | undefined) => string
  readonly getToken: () => string | Promise<string>
  readonly WebSocket: WebSocketConstructor
  readonly reconnect: ReconnectOptions
  /** The device id of the query; the sink's when undefined. */
  readonly deviceId: () => string | undefined
}

interface PendingCall {
  readonly method: string
  readonly path: string
  readonly resolve: (result: Result<Record<string, unknown>, TransportFailure>) => void
}

/** The socket of one started push source, from `start` to its stop. */
export class Channel {
  readonly #options: ChannelOptions
  readonly #sink: PushSink
  #socket: WebSocketLike | undefined
  #stopped = false
  #nextId = 1
  readonly #pending = new Map<number, PendingCall>()
  readonly #wait: ReconnectWait

  constructor(sink: PushSink, options: ChannelOptions) {
    this.#sink = sink
    this.#options = options
    this.#wait = new ReconnectWait(options.reconnect)
  }

  /** The socket is open: calls go over it. */
  get open(): boolean {
    return !this.#stopped && this.#socket !== undefined && this.#socket.readyState === OPEN
  }

  run(): void {
    this.#wait
      .keepConnecting(
        () => this.#connectOnce(),
        () => this.#stopped,
      )
      .catch((error: unknown) => {
        // #connectOnce catches everything it awaits; reaching here is a bug, still never thrown at the caller.
        this.#report('TRANSPORT_PROTOCOL', `the socket loop failed: ${describeError(error)}`, error)
      })
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#socket?.close(1000, 'stopped')
    this.#failPending('the socket was closed by the client')
    this.#wait.interrupt()
  }

  /** Closes the socket so that the loop opens another, with a token asked for anew. */
  renew(): void {
    if (this.open) this.#socket?.close(1000, 'renewing the token')
  }

  /**
   * One call over the open socket. Its answer is read as the HTTP transport reads one; a socket that
   * closes first fails it as `offline`, and an abort resolves it at once (a late answer is ignored).
   */
  call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: object | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Result<Record<string, unknown>, TransportFailure>> | undefined {
    const socket = this.#socket
    if (!this.open || socket === undefined) return undefined
    const id = this.#nextId++
    const text = JSON.stringify({ id, method, path, ...(body === undefined ? {} : { body }) })
    return new Promise((resolve) => {
      const onAbort = () => {
        if (signal === undefined) return
        this.#pending.delete(id)
        resolve(fail(abortedFailure(signal)))
      }
      this.#pending.set(id, {
        method,
        path,
        resolve: (result) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(result)
        },
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        socket.send(text)
      } catch (error) {
        this.#settle(
          id,
          fail({
            kind: 'offline',
            message: `the socket could not send (${describeError(error)})`,
            cause: error,
          }),
        )
      }
    })
  }

  /** One socket, from the token to its close; every failure is reported, none thrown. */
  async #connectOnce(): Promise<void> {
    const taken = await connectionToken(this.#options.getToken)
    if ('failure' in taken) {
      this.#report('TRANSPORT_AUTH', taken.failure, taken.cause)
      return
    }
    const { token } = taken
    if (this.#stopped) return
    let socket: WebSocketLike
    try {
      // Read here, after the token: the manager may have learnt its registered device id meanwhile.
      const url = this.#options.url(this.#options.deviceId() ?? this.#sink.deviceId)
      socket = new this.#options.WebSocket(url, [
        SOCKET_PROTOCOL,
        `${BEARER_PROTOCOL_PREFIX}${base64url(token)}`,
      ])
    } catch (error) {
      this.#report('TRANSPORT_OFFLINE', `the socket could not be opened: ${describeError(error)}`, error)
      return
    }
    this.#socket = socket
    await new Promise<void>((done) => {
      let opened = false
      socket.addEventListener('open', () => {
        if (this.#stopped) {
          socket.close(1000, 'stopped')
          return
        }
        opened = true
        this.#wait.connected()
        this.#callSink(() => this.#sink.onConnected?.())
      })
      socket.addEventListener('message', (event) => this.#receive(event))
      socket.addEventListener('error', () => {
        // The close that follows says what happened.
      })
      socket.addEventListener('close', (event: WebSocketEventLike) => {
        if (this.#socket === socket) this.#socket = undefined
        this.#failPending('the socket closed before the answer arrived')
        // A socket that worked and closed (a server restart, a proxy's timeout) is not an error on
        // its own: the loop reconnects. A refused upgrade (a bad token, another identity's path)
        // closes before it opens, and WebSocket APIs do not tell its status: it is reported.
        if (!opened && !this.#stopped) {
          this.#report(
            'TRANSPORT_OFFLINE',
            `the socket could not be opened${event.code === undefined ? '' : ` (close code ${event.code})`}`,
          )
        }
        done()
      })
    })
  }

  #receive(event: WebSocketEventLike): void {
    if (this.#stopped || typeof event.data !== 'string') return
    let message: unknown
    try {
      message = JSON.parse(event.data)
    } catch {
      return
    }
    if (typeof message !== 'object' || message === null) return
    const { id, status, body, retryAfter, event: kind, data } = message as Record<string, unknown>
    if (typeof id === 'number') {
      const call = this.#pending.get(id)
      if (call === undefined || typeof status !== 'number') return
      const text = typeof body === 'string' ? body : ''
      const headers = {
        get: (name: string) =>
          name.toLowerCase() === 'retry-after' && typeof retryAfter === 'string' ? retryAfter : null,
      }
      this.#settle(id, readAnswer(call.method, call.path, status, headers, text))
      return
    }
    // The payload as an object, which the manager parses as it parses the SSE source's text.
    if (kind === 'sync') this.#callSink(() => this.#sink.onPayload(data))
  }

  #settle(id: number, result: Result<Record<string, unknown>, TransportFailure>): void {
    const call = this.#pending.get(id)
    if (call === undefined) return
    this.#pending.delete(id)
    call.resolve(result)
  }

  /** Calls whose answer can no longer come fail as `offline`: a retry is safe, as after a lost request. */
  #failPending(message: string): void {
    const calls = [...this.#pending.values()]
    this.#pending.clear()
    for (const call of calls) call.resolve(fail({ kind: 'offline', message }))
  }

  #report(code: SyncErrorCode, message: string, cause?: unknown): void {
    if (this.#stopped) return
    const error = new SyncError(code, message, {
      adapter: this.#options.adapter,
      ...(cause === undefined ? {} : { cause }),
    })
    this.#callSink(() => this.#sink.onError(error))
  }

  /** A sink that throws must not stop the socket. */
  #callSink(call: () => void): void {
    try {
      call()
    } catch {
      // The sink's failure is its own; the manager's sink never throws.
    }
  }
}

/** base64url without padding of the UTF-8 bytes of `text`, with no Node built-in. */
export function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
