/**
 * A device on pushsync-server's WebSocket: its calls and its pushes share one socket, with HTTP
 * whenever the socket is not open.
 */
// #region node
import { createSyncManager, type SyncManager } from 'pushsync'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createWebSocketTransport } from 'pushsync/transport/websocket'
// Node 20 has no global WebSocket: `ws` provides one (browsers, Deno, Bun and Node 22+ need nothing).
import { WebSocket } from 'ws'
import type { GuestSession } from './sign-in.js'

export function openDevice(endpoint: string, identityPoolId: string, session: GuestSession): SyncManager {
  const transport = createWebSocketTransport({
    endpoint,
    identityPoolId,
    identityId: session.identityId,
    getToken: () => session.getToken(),
    WebSocket,
  })
  const manager = createSyncManager({
    identityPoolId,
    identityId: session.identityId,
    storage: createMemoryStorage(),
    transport,
  })
  // Starting the push source opens the socket; until it is open, calls go over HTTP.
  manager.addPushSource(transport.pushSource)
  return manager
}
// #endregion node
