/**
 * Getting started in Node: each device keeps its datasets in a SQLite file (better-sqlite3), talks
 * to pushsync-server over HTTP and hears of changes over server-sent events.
 */
import { join } from 'node:path'
// #region device
import Database from 'better-sqlite3'
import { createSyncManager, type SyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { betterSqlite3Driver, createSqliteStorage } from 'pushsync/storage/sqlite'
import { createHttpTransport } from 'pushsync/transport/http'
import { type GuestSession, signInAsGuest } from './sign-in.js'

const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

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

/** Resolves once a synchronize brought a change of `key` from the server. */
function remoteChange(manager: SyncManager, dataset: string, key: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = manager.on('datasetChanged', (event) => {
      if (event.dataset === dataset && event.source === 'remote' && event.keys.includes(key)) {
        stop()
        resolve()
      }
    })
  })
}

export async function nodeQuickstart(
  endpoint: string,
  directory: string,
): Promise<{ synced: Record<string, string>; pushed: string | undefined }> {
  // #region sync
  const session = await signInAsGuest(endpoint, identityPoolId)
  const phone = openDevice(endpoint, session, join(directory, 'phone.db'))
  const laptop = openDevice(endpoint, session, join(directory, 'laptop.db'))

  const settings = await phone.openOrCreateDataset('settings')
  await settings.putAll({ theme: 'dark', language: 'en' }) // local and immediate, even offline
  await settings.synchronize() // pull, resolve conflicts, push

  const onLaptop = await laptop.openOrCreateDataset('settings')
  await onLaptop.synchronize()
  const synced = { ...(await onLaptop.getAll()) } // { theme: 'dark', language: 'en' }
  // #endregion sync

  // #region push
  // The laptop learns of the next change by push: no synchronize() call on its side.
  const arrived = remoteChange(laptop, 'settings', 'theme')
  await settings.put('theme', 'light')
  await settings.synchronize()
  await arrived
  const pushed = await onLaptop.get('theme') // 'light'
  // #endregion push

  await phone.close() // stops the push sources and closes the SQLite files
  await laptop.close()
  return { synced, pushed }
}
