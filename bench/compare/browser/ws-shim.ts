/**
 * `ws` for RxDB's WebSocket client in a page: the browser's own WebSocket (the bundle aliases `ws`
 * to this file; `ws` itself refuses to run in browsers). The server class is never used there.
 */
export const WebSocket = globalThis.WebSocket
export const WebSocketServer = undefined
export default WebSocket
