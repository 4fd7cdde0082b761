/**
 * Getting started in Node, one device: its datasets in a SQLite file (better-sqlite3), the HTTP
 * transport to pushsync-server and pushes over server-sent events. node-devices.ts runs two.
 */
// #region device
import Database from 'better-sqlite3'
import { createSyncManager, type SyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { betterSqlite3Driver, createSqliteStorage } from 'pushsync/storage/sqlite'
import { createHttpTransport } from 'pushsync/transport/http'
import type { GuestSession } from './sign-in.js'

export const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

export function openDevice(endpoint: string, session: GuestSession, file: string): SyncManager {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  const remote = {
    endpoint,
    identityPoolId,
    identityId: session.identityId,
    getToken: () => session.getToken(),
  }
  const manager = createSyncManager({
    identityPoolId,
    identityId: session.identityId,
    storage: createSqliteStorage({ driver: betterSqlite3Driver(db) }),
    transport: createHttpTransport(remote),
  })
  // Pushes over server-sent events: a change made elsewhere makes this device synchronize.
  manager.addPushSource(createSsePushSource(remote))
  return manager
}
// #endregion device
