/**
 * The React guide's sync manager: signs in with `pushsync/session` (the same guest on the next
 * visit), keeps the datasets in IndexedDB, sends each write as it happens and hears of other
 * devices' changes over server-sent events. The Chromium tests run it (test/browser/react.test.ts).
 */
// #region manager
import { createSyncManager, type SyncManager } from 'pushsync'
import { createBrowserConnectivity } from 'pushsync/connectivity/browser'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIdentitySession, localStorageIdentityStore } from 'pushsync/session'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createHttpTransport } from 'pushsync/transport/http'

const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

// The browser's online and offline events: the manager waits while offline and sends what is
// pending when it is back; useSyncStatus reads the same source.
export const connectivity = createBrowserConnectivity()

export async function startSync(endpoint: string): Promise<SyncManager> {
  // The identity id is kept in localStorage: once signed in, the app starts offline too.
  const session = createIdentitySession({
    endpoint,
    identityPoolId,
    identityStore: localStorageIdentityStore(),
  })
  const identityId = await session.identityId()
  const remote = { endpoint, identityPoolId, identityId, getToken: session.getToken }
  const manager = createSyncManager({
    identityPoolId,
    identityId,
    storage: createIndexedDbStorage({ name: 'settings-app' }),
    transport: createHttpTransport(remote),
    connectivity,
    writeThrough: true, // every write goes out by itself, a burst in one request
  })
  manager.addPushSource(createSsePushSource(remote))
  return manager
}
// #endregion manager
