/**
 * `GET /identitypools/{pool}/identities/{identity}/socket`, upgraded to a WebSocket: one persistent
 * channel per device that carries both the identity's Cognito Sync operations and its `sync` events.
 * It is an addition to the HTTP API, not a replacement: every operation it carries goes through
 * what its HTTP request would (authentication, throttling, limits, metrics, logging) and gets the
 * same answer; the identity's own operations run directly (socket-runner.ts), without building a
 * web Request and Response, anything else through the app.
 *
 * The upgrade is authenticated before anything is upgraded: the bearer token comes from the offered
 * subprotocol `pushsync.bearer.<base64url(token)>` (browsers cannot set headers on a WebSocket) or
 * from `Authorization: Bearer`. A refusal is the same status and Cognito JSON an HTTP request gets,
 * written on the socket before it is destroyed.
 *
 * Client to server, JSON text: `{"id": 1, "method": "GET"|"POST"|"DELETE", "path": "...", "body"?: {}}`,
 * with `path` (query included) under the socket's own `/identitypools/{pool}/identities/{identity}/`.
 * Server to client: `{"id": 1, "status": 200, "body": "<response text>", "retryAfter"?: "1"}`, in any
 * order, and `{"event": "sync", "data": {...}}`, the events the SSE stream sends (an opening one per
 * dataset, then one per change not written by the socket's own `deviceId`).
 */
import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'
import type { SseHub } from '../push/sse-hub.js'
import type { SyncStore } from '../store/contract.js'
import { SOCKET_MESSAGE, SOCKET_UPGRADE } from './app.js'
import {
  eventData,
  MAX_UNSENT_EVENT_BYTES,
  openingEvents,
  registerLiveChannel,
  type SyncEvent,
} from './events.js'
import type { SocketAnswer, SocketCall } from './socket-runner.js'

/** The subprotocol the server answers with: the message format above. */
export const SOCKET_PROTOCOL = 'pushsync.v1'
/** The offered subprotocol carrying the bearer token: this prefix, then base64url of its UTF-8 bytes. */
export const BEARER_PROTOCOL_PREFIX = 'pushsync.bearer.'
/** Operations a socket may have running at once; more are answered 429. */
export const MAX_IN_FLIGHT = 32
/** Room for a message's envelope (id, method, path) around a body of the largest accepted size. */
const ENVELOPE_BYTES = 64 * 1024
/** How long a closing socket may take to answer the close before it is cut off. */
const CLOSE_GRACE_MS = 1000
/** `1008 Policy Violation`: a message that does not follow the protocol. */
const POLICY_VIOLATION = 1008
/** `1001 Going Away`: the server shuts down. */
const GOING_AWAY = 1001

const SOCKET_PATH = /^\/identitypools\/([^/]+)\/identities\/([^/]+)\/socket$/
const METHODS = new Set(['GET', 'POST', 'DELETE'])

export interface SocketServerOptions {
  /** The app's handler; the upgrade is authorized by calling it with `SOCKET_UPGRADE` in `env`. */
  readonly fetch: (request: Request, env?: unknown) => Response | Promise<Response>
  /**
   * Runs a message of the identity's own operations without a web Request, as the app would answer
   * it (see createSocketRunner); undefined for a path that only the app answers.
   */
  readonly run: (call: SocketCall) => Promise<SocketAnswer | undefined>
  readonly hub: SseHub
  readonly store: SyncStore
  /** The app's largest request body: a message may hold one, plus its envelope. */
  readonly bodyLimit: number
  readonly onError?: (error: unknown) => void
}

export interface SocketServer {
  /** The Node http server's `upgrade` listener. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Closes every socket (1001) and refuses later upgrades; settles once they are closed. */
  close(): Promise<void>
  /** Open sockets. */
  readonly size: number
}

/** Handles the WebSocket upgrades of the Node http server the sync server listens on. */
export function createSocketServer(options: SocketServerOptions): SocketServer {
  const { hub } = options
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.bodyLimit + ENVELOPE_BYTES,
    // Answered only when offered: a client that sent its token as a header may offer none.
    handleProtocols: (protocols) => (protocols.has(SOCKET_PROTOCOL) ? SOCKET_PROTOCOL : false),
  })
  let closed = false

  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://socket')
    const match = SOCKET_PATH.exec(url.pathname)
    if (closed || match === null) {
      refuse(
        socket,
        closed ? 503 : 404,
        JSON.stringify({
          __type: closed ? 'InternalErrorException' : 'UnknownOperationException',
          message: closed ? 'The server is shutting down' : `No WebSocket endpoint at ${url.pathname}`,
        }),
      )
      return
    }
    const token = bearerToken(request)
    const answer = await options.fetch(
      new Request(`http://socket${url.pathname}${url.search}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      }),
      { [SOCKET_UPGRADE]: true },
    )
    if (answer.status !== 204 || token === undefined || closed) {
      refuse(socket, answer.status === 204 ? 503 : answer.status, await answer.text(), answer.headers)
      return
    }
    const identityPoolId = decodeURIComponent(match[1] as string)
    const identityId = decodeURIComponent(match[2] as string)
    const deviceId = url.searchParams.get('deviceId')
    wss.handleUpgrade(request, socket, head, (ws) => {
      serveSocket(ws, {
        fetch: options.fetch,
        run: options.run,
        bodyLimit: options.bodyLimit,
        hub,
        store: options.store,
        token,
        identityPoolId,
        identityId,
        deviceId: deviceId === null || deviceId === '' ? null : deviceId,
        onError: options.onError,
      })
    })
  }

  return {
    handleUpgrade(request, socket, head) {
      // A client that leaves mid-handshake must not crash the process.
      socket.on('error', () => {})
      upgrade(request, socket, head).catch((error: unknown) => {
        options.onError?.(error)
        refuse(socket, 500, JSON.stringify({ __type: 'InternalErrorException', message: 'Internal error' }))
      })
    },
    async close() {
      closed = true
      const open = [...wss.clients]
      await Promise.all(open.map((ws) => closeSocket(ws, GOING_AWAY, 'the server is shutting down')))
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
    get size() {
      return wss.clients.size
    },
  }
}

interface SocketContext {
  readonly fetch: SocketServerOptions['fetch']
  readonly run: SocketServerOptions['run']
  readonly bodyLimit: number
  readonly hub: SseHub
  readonly store: SyncStore
  readonly token: string
  readonly identityPoolId: string
  readonly identityId: string
  readonly deviceId: string | null
  readonly onError: ((error: unknown) => void) | undefined
}

/** One accepted socket: its events, its messages, its heartbeat, until it closes. */
function serveSocket(ws: WebSocket, context: SocketContext): void {
  const { hub, identityPoolId, identityId } = context
  let open = true
  let inFlight = 0
  ws.on('error', () => {
    // ws closes the socket itself (a message over maxPayload, a broken frame): nothing to add.
  })

  /** Sends a text; a client that leaves more than MAX_UNSENT_EVENT_BYTES unread is let go. */
  const send = (text: string) => {
    if (!open) return
    if (ws.bufferedAmount > MAX_UNSENT_EVENT_BYTES) {
      open = false
      ws.terminate()
      return
    }
    ws.send(text)
  }
  const sendEvent = (event: SyncEvent) => send(`{"event":"sync","data":${eventData(event)}}`)

  // As for the SSE stream: registered before the datasets are read, and held until the opening
  // events are sent.
  const channel = registerLiveChannel(hub, {
    identityPoolId,
    identityId,
    deviceId: context.deviceId,
    end: () => void closeSocket(ws, GOING_AWAY, 'the server is shutting down'),
  })

  // A ping each heartbeat; a socket that did not answer the previous one is gone.
  let alive = true
  ws.on('pong', () => {
    alive = true
  })
  const heartbeat = setInterval(() => {
    if (!alive) {
      ws.terminate()
      return
    }
    alive = false
    ws.ping()
  }, hub.heartbeatMs)

  ws.on('close', () => {
    open = false
    clearInterval(heartbeat)
    channel.unregister()
  })

  openingEvents(context.store, identityPoolId, identityId).then(
    (events) => {
      for (const event of events) sendEvent(event)
      channel.open(sendEvent)
    },
    (error: unknown) => {
      context.onError?.(error)
      void closeSocket(ws, 1011, 'the datasets could not be read')
    },
  )

  const prefix = { identityPoolId, identityId }
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const message = isBinary ? undefined : readMessage(data)
    if (message === undefined) {
      open = false
      ws.close(POLICY_VIOLATION, 'not a pushsync.v1 message')
      return
    }
    if (inFlight >= MAX_IN_FLIGHT) {
      send(
        answerText(
          message.id,
          429,
          cognitoBody('TooManyRequestsException', 'Too many operations in flight'),
          '1',
        ),
      )
      return
    }
    const url = ownUrl(message.path, prefix)
    if (url === undefined) {
      send(
        answerText(
          message.id,
          403,
          cognitoBody('NotAuthorizedException', 'Access to this path is not allowed on this socket'),
        ),
      )
      return
    }
    inFlight++
    run(context, url, message)
      .then(
        (answer) => send(answer),
        (error: unknown) => {
          context.onError?.(error)
          send(answerText(message.id, 500, cognitoBody('InternalErrorException', 'Internal error')))
        },
      )
      .finally(() => {
        inFlight--
      })
  })
}

interface SocketMessage {
  readonly id: number
  readonly method: 'GET' | 'POST' | 'DELETE'
  readonly path: string
  readonly body: object | undefined
  /** The whole message's size in bytes. */
  readonly bytes: number
}

/** A client's message, or undefined when it is not one. */
function readMessage(data: RawData): SocketMessage | undefined {
  let value: unknown
  const text = rawText(data)
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const { id, method, path, body } = value as Record<string, unknown>
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return undefined
  if (typeof method !== 'string' || !METHODS.has(method)) return undefined
  if (typeof path !== 'string') return undefined
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))
    return undefined
  return {
    id,
    method: method as SocketMessage['method'],
    path,
    body: body as object | undefined,
    bytes: Buffer.byteLength(text),
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8')
  return data.toString('utf8')
}

/**
 * The URL of `path` when it lies under the socket's own identity, else undefined. The path is
 * resolved first (`..`, percent-encoding), so it cannot climb out of the prefix.
 */
function ownUrl(path: string, own: { identityPoolId: string; identityId: string }): URL | undefined {
  if (!path.startsWith('/') || path.startsWith('//')) return undefined
  let url: URL
  try {
    url = new URL(`http://socket${path}`)
  } catch {
    return undefined
  }
  if (url.host !== 'socket') return undefined
  const segments = url.pathname.split('/')
  try {
    if (
      segments[1] !== 'identitypools' ||
      decodeURIComponent(segments[2] ?? '') !== own.identityPoolId ||
      segments[3] !== 'identities' ||
      decodeURIComponent(segments[4] ?? '') !== own.identityId ||
      segments.length < 6 ||
      segments[5] === ''
    )
      return undefined
  } catch {
    return undefined
  }
  return url
}

/**
 * One operation, answered as the app answers its HTTP request: the identity's own operations
 * directly, anything else through the app. Its answer's text.
 */
async function run(context: SocketContext, url: URL, message: SocketMessage): Promise<string> {
  const direct = await context.run({
    method: message.method,
    url,
    body: message.method === 'POST' ? message.body : undefined,
    bodyBytes: bodyBytes(message, context.bodyLimit),
    token: context.token,
  })
  if (direct !== undefined) return answerText(message.id, direct.status, direct.body, direct.retryAfter)
  const headers: Record<string, string> = { authorization: `Bearer ${context.token}` }
  const withBody = message.method === 'POST'
  if (withBody) headers['content-type'] = 'application/json'
  const response = await context.fetch(
    new Request(url.href, {
      method: message.method,
      headers,
      ...(withBody ? { body: message.body === undefined ? '' : JSON.stringify(message.body) } : {}),
    }),
    { [SOCKET_MESSAGE]: true },
  )
  const text = await response.text()
  return answerText(message.id, response.status, text, response.headers.get('retry-after') ?? undefined)
}

/**
 * The size of a message's body as an HTTP request would carry it (JSON text; only POST has one).
 * A message within the limit as a whole has a body within it: only a larger one is measured.
 */
function bodyBytes(message: SocketMessage, limit: number): number {
  if (message.method !== 'POST' || message.body === undefined) return 0
  return message.bytes <= limit ? message.bytes : Buffer.byteLength(JSON.stringify(message.body))
}

function answerText(id: number, status: number, body: string, retryAfter?: string): string {
  return JSON.stringify({ id, status, body, ...(retryAfter === undefined ? {} : { retryAfter }) })
}

function cognitoBody(type: string, message: string): string {
  return JSON.stringify({ __type: type, message })
}

/** The bearer token of an upgrade: from the offered subprotocol, else the Authorization header. */
function bearerToken(request: IncomingMessage): string | undefined {
  const offered = request.headers['sec-websocket-protocol']
  if (typeof offered === 'string') {
    for (const protocol of offered.split(',')) {
      const name = protocol.trim()
      if (name.startsWith(BEARER_PROTOCOL_PREFIX)) {
        const token = Buffer.from(name.slice(BEARER_PROTOCOL_PREFIX.length), 'base64url').toString('utf8')
        return token === '' ? undefined : token
      }
    }
  }
  const authorization = request.headers.authorization
  if (typeof authorization === 'string' && /^bearer /i.test(authorization)) {
    const token = authorization.slice('bearer '.length).trim()
    return token === '' ? undefined : token
  }
  return undefined
}

/** Answers an upgrade with an HTTP error and closes the connection: nothing is upgraded. */
function refuse(socket: Duplex, status: number, body: string, headers?: Headers): void {
  if (socket.destroyed) return
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`]
  const kept = ['content-type', 'x-amzn-errortype', 'x-amzn-requestid', 'retry-after']
  let typed = false
  if (headers !== undefined) {
    for (const name of kept) {
      const value = headers.get(name)
      if (value === null) continue
      if (name === 'content-type') typed = true
      lines.push(`${name}: ${value}`)
    }
  }
  if (!typed) lines.push('content-type: application/json')
  lines.push(`content-length: ${Buffer.byteLength(body)}`, 'connection: close')
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy())
}

/** Closes a socket with `code`; one that does not answer the close is cut off after a grace period. */
function closeSocket(ws: WebSocket, code: number, reason: string): Promise<void> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS)
    ws.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    if (ws.readyState === ws.OPEN) ws.close(code, reason)
  })
}
