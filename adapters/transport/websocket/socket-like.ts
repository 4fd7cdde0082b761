/** The part of the WHATWG `WebSocket` the WebSocket transport uses; `ws`'s `WebSocket` fits too. */

/** What the socket's listeners are handed: a message's `data`, a close's `code` and `reason`. */
export interface WebSocketEventLike {
  /** `open`, `message`, `close` or `error`. */
  readonly type: string
  readonly data?: unknown
  readonly code?: number
  readonly reason?: string
}

export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number
  /** The subprotocol the server chose. */
  readonly protocol: string
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: WebSocketEventLike) => void,
  ): void
}

/** A WebSocket constructor: the global `WebSocket` of browsers, Deno, Bun and Node 22+, or `ws`'s. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

export const OPEN = 1
