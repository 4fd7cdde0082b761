/**
 * The transport over one persistent WebSocket per device: Cognito Sync's operations and the
 * identity's push events share pushsync-server's `.../socket` channel, so a write costs one socket
 * message instead of an HTTP request. Whenever the socket is not open (connecting, reconnecting,
 * never started) every call goes over HTTP instead, exactly as `pushsync/transport/http` sends it:
 * no call waits for a reconnect. Answers are read by the same code as the HTTP transport's, so the
 * same answer is the same failure kind on either path.
 *
 * The socket belongs to the transport's `pushSource`: it opens when the sync manager starts that
 * source (`addPushSource`), reconnects with backoff, and asks `getToken` again on every connect.
 * Without it started, the transport is the HTTP transport.
 *
 * ```ts
 * import { WebSocket } from 'ws' // Node 20 has no global WebSocket; browsers need nothing
 *
 * const transport = createWebSocketTransport({ endpoint, identityPoolId, identityId, getToken, WebSocket })
 * const manager = createSyncManager({ identityPoolId, identityId, storage, transport })
 * manager.addPushSource(transport.pushSource)
 * ```
 *
 * It needs no Node built-in and no SDK. pushsync-server only: Amazon Cognito Sync has no socket.
 *
 * @module pushsync/transport/websocket
 */
import type { PushSource } from '../../../src/contracts/push-source.js'
import type { Transport } from '../../../src/contracts/transport.js'
import { SyncError } from '../../../src/errors.js'
import type { ReconnectOptions } from '../../push/sse/backoff.js'
import { requireConnectionTarget } from '../../push/sse/live-connection.js'
import type { Exchange } from '../http/answer.js'
import { createHttpExchange, type HttpTransportOptions } from '../http/index.js'
import { createRestTransport, identityPathOf } from '../http/operations.js'
import { Channel } from './channel.js'
import type { WebSocketConstructor } from './socket-like.js'

export type { ReconnectOptions } from '../../push/sse/backoff.js'
export type { FetchLike, FetchResponse } from '../http/index.js'
export { BEARER_PROTOCOL_PREFIX, SOCKET_PROTOCOL } from './channel.js'
export type { WebSocketConstructor, WebSocketEventLike, WebSocketLike } from './socket-like.js'

/** What `createWebSocketTransport` takes: the HTTP transport's options, and the socket's. */
export interface WebSocketTransportOptions extends HttpTransportOptions {
  /**
   * The WebSocket class. Default: the global `WebSocket` (browsers, workers, React Native, Deno,
   * Bun, Node 22+). On Node 20 pass `ws`'s: `import { WebSocket } from 'ws'`.
   */
  readonly WebSocket?: WebSocketConstructor
  /**
   * The device id the socket is opened with, so the server does not send this device's own writes
   * back to it. Default: the sync manager's (the push sink's) device id.
   */
  readonly deviceId?: string | (() => string | undefined)
  /** The backoff between reconnects (exponential with jitter), as for the SSE push source. */
  readonly reconnect?: ReconnectOptions
}

/** A transport whose calls travel over the socket its `pushSource` keeps open. */
export interface WebSocketTransport extends Transport {
  /** The push events of the same socket; starting it opens the socket. */
  readonly pushSource: PushSource
}

const NAME = 'transport:websocket'
const PUSH_NAME = 'push:websocket'

/** Creates the transport of one identity, with the push source that owns its socket. */
export function createWebSocketTransport(options: WebSocketTransportOptions): WebSocketTransport {
  const { identityPoolId, identityId } = options
  requireConnectionTarget(options, NAME)
  const WebSocketClass = options.WebSocket ?? globalWebSocket()
  if (WebSocketClass === undefined) {
    throw new SyncError(
      'INVALID_ARGUMENT',
      "no global WebSocket (Node 20 has none): pass the `WebSocket` option, such as `import { WebSocket } from 'ws'`",
      { adapter: NAME },
    )
  }
  const http = createHttpExchange(options, NAME)
  const identityPath = identityPathOf(identityPoolId, identityId)
  const socketUrl = (deviceId: string | undefined) => {
    const base = new URL(`${options.endpoint.replace(/\/+$/, '')}${identityPath}/socket`, baseHref())
    base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:'
    if (deviceId !== undefined && deviceId !== '') base.search = `?deviceId=${encodeURIComponent(deviceId)}`
    return base.href
  }
  const deviceId = options.deviceId
  const fixedDeviceId = (): string | undefined => (typeof deviceId === 'function' ? deviceId() : deviceId)

  // The channel of the started push source; undefined while none is started.
  let channel: Channel | undefined

  const exchange: Exchange = async (method, path, body, signal) => {
    // The socket carries the identity's own paths; RegisterDevice's (`/identity/`) goes over HTTP.
    const open = channel
    if (signal?.aborted !== true && path.startsWith(`${identityPath}/`) && open !== undefined) {
      const sent = open.call(method, path, body, signal)
      if (sent !== undefined) {
        const answer = await sent
        if (answer.ok || answer.failure.kind !== 'auth') return answer
        // The socket's token, taken when it opened, may have expired since: the socket reconnects
        // with a fresh one, and the call (refused before anything was applied) goes over HTTP,
        // which asks getToken again.
        open.renew()
      }
    }
    return http(method, path, body, signal)
  }

  const pushSource: PushSource = {
    name: PUSH_NAME,
    start(sink) {
      const started = new Channel(sink, {
        adapter: PUSH_NAME,
        url: socketUrl,
        getToken: options.getToken,
        WebSocket: WebSocketClass,
        reconnect: options.reconnect ?? {},
        deviceId: fixedDeviceId,
      })
      // One socket per transport: a second start takes over from the first.
      channel?.stop()
      channel = started
      started.run()
      return () => {
        started.stop()
        if (channel === started) channel = undefined
      }
    },
  }

  return Object.assign(createRestTransport(NAME, identityPoolId, identityId, exchange), { pushSource })
}

function globalWebSocket(): WebSocketConstructor | undefined {
  const candidate = (globalThis as { WebSocket?: unknown }).WebSocket
  return typeof candidate === 'function' ? (candidate as WebSocketConstructor) : undefined
}

/** A relative endpoint (`/sync`) is the page's origin's; elsewhere the endpoint must be absolute. */
function baseHref(): string | undefined {
  const location = (globalThis as { location?: { href?: unknown } }).location
  return typeof location?.href === 'string' ? location.href : undefined
}
