import type { ChangeListener, DatasetChange } from './change.js'

/** One open event stream, as the hub sees it. */
export interface SseConnection {
  /** The DeviceId the client connected with; changes that device wrote are not sent back to it. */
  readonly deviceId: string | null
  /** Queues a change for the client; must not throw or wait, since it runs in the writer's request. */
  send(change: DatasetChange): void
  /** Ends the stream: the server is shutting down. */
  end(): void
}

/**
 * The open SSE connections of this process, per identity. It is the live channel's ChangeListener:
 * `afterCommit` (alias `publish`) hands each committed change to the connections of its identity.
 * Only this process's connections hear of it; changes committed by other processes sharing the
 * store arrive through the store's bus (see push/change-bus.ts) and are published here too.
 */
export interface SseHub extends ChangeListener {
  /** Interval of the `: ping` comments that keep proxies and clients from timing out an idle stream. */
  readonly heartbeatMs: number
  /** Adds a connection; returns the function that removes it. After `close()` it ends the connection at once. */
  register(identityPoolId: string, identityId: string, connection: SseConnection): () => void
  publish(change: DatasetChange): void
  afterCommit(change: DatasetChange): void
  /** Ends every open connection and every later one, so shutdown is not held up by streams. */
  close(): void
  /** Open connections, of one identity or of all. */
  connectionCount(identity?: { readonly identityPoolId: string; readonly identityId: string }): number
}

export interface SseHubOptions {
  /** Default 15 s: below the 30-60 s idle timeouts common in proxies and load balancers. */
  readonly heartbeatMs?: number
}

export const DEFAULT_SSE_HEARTBEAT_MS = 15_000

export function createSseHub(options: SseHubOptions = {}): SseHub {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_SSE_HEARTBEAT_MS
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs <= 0) {
    throw new RangeError(`heartbeatMs must be a positive integer, not ${heartbeatMs}`)
  }
  // Keyed by pool and identity: a developer may connect to any pool's path, and a change names both.
  const byIdentity = new Map<string, Set<SseConnection>>()
  const keyOf = (identityPoolId: string, identityId: string) => `${identityPoolId}\n${identityId}`
  let closed = false

  const publish = (change: DatasetChange) => {
    const connections = byIdentity.get(keyOf(change.identityPoolId, change.identityId))
    if (connections === undefined) return
    // A copy: a connection may unregister itself while being told.
    for (const connection of [...connections]) {
      // The writer already has the change; echoing it would only make it sync for nothing.
      if (connection.deviceId !== null && connection.deviceId === change.originDeviceId) continue
      connection.send(change)
    }
  }

  return {
    heartbeatMs,
    register(identityPoolId, identityId, connection) {
      if (closed) {
        connection.end()
        return () => {}
      }
      const key = keyOf(identityPoolId, identityId)
      let connections = byIdentity.get(key)
      if (connections === undefined) {
        connections = new Set()
        byIdentity.set(key, connections)
      }
      connections.add(connection)
      return () => {
        const current = byIdentity.get(key)
        if (current === undefined) return
        current.delete(connection)
        if (current.size === 0) byIdentity.delete(key)
      }
    },
    publish,
    afterCommit: publish,
    close() {
      closed = true
      const all = [...byIdentity.values()].flatMap((connections) => [...connections])
      byIdentity.clear()
      for (const connection of all) connection.end()
    },
    connectionCount(identity) {
      if (identity !== undefined) {
        return byIdentity.get(keyOf(identity.identityPoolId, identity.identityId))?.size ?? 0
      }
      let count = 0
      for (const connections of byIdentity.values()) count += connections.size
      return count
    },
  }
}
