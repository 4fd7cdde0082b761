/**
 * Getting started in a browser: datasets in IndexedDB, the HTTP transport over `fetch`, pushes
 * over server-sent events while the page is open. Compiled, not run (it needs a browser);
 * browser-dataset.ts shows a dataset on the page.
 */
// #region manager
import { createSyncManager, type SyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createHttpTransport } from 'pushsync/transport/http'
import { signInAsGuest } from './sign-in.js'

// The server behind the app's own origin (a reverse proxy maps /sync to pushsync-server).
const endpoint = '/sync'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

export async function startSync(): Promise<SyncManager> {
  // Keep the identity id: the next visit signs in as the same user.
  const session = await signInAsGuest(
    endpoint,
    identityPoolId,
    localStorage.getItem('identityId') ?? undefined,
  )
  localStorage.setItem('identityId', session.identityId)

  const remote = { endpoint, identityPoolId, identityId: session.identityId, getToken: session.getToken }
  const manager = createSyncManager({
    identityPoolId,
    identityId: session.identityId,
    storage: createIndexedDbStorage({ name: 'my-app-sync' }),
    transport: createHttpTransport(remote),
    // Sync the datasets with pending changes when the browser comes back online.
    connectivity: {
      isOnline: () => navigator.onLine,
      subscribe(listener) {
        const online = () => listener(true)
        const offline = () => listener(false)
        window.addEventListener('online', online)
        window.addEventListener('offline', offline)
        return () => {
          window.removeEventListener('online', online)
          window.removeEventListener('offline', offline)
        }
      },
    },
  })
  manager.addPushSource(createSsePushSource(remote))
  manager.on('pushSourceError', ({ error }) => console.warn('push:', error.code, error.message))
  // Ask the browser not to evict unsynced changes under storage pressure.
  void navigator.storage?.persist?.()
  return manager
}
// #endregion manager
