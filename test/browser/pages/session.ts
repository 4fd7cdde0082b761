/**
 * A page that signs in with `pushsync/session` (GetId, then GetCredentialsForIdentity, from the
 * page, the identity kept in localStorage) and runs a manager on IndexedDB with the browser's
 * connectivity source (`pushsync/connectivity/browser`). The test drives it through `window.app`.
 */
import { createSyncManager } from 'pushsync'
import { createBrowserConnectivity } from 'pushsync/connectivity/browser'
import { createIdentitySession, localStorageIdentityStore } from 'pushsync/session'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createHttpTransport } from 'pushsync/transport/http'
import { pageSetting } from './settings.js'

const endpoint = location.origin
const POOL = pageSetting('pool')
const session = createIdentitySession({
  endpoint,
  identityPoolId: POOL,
  identityStore: localStorageIdentityStore(),
})
const connectivity = createBrowserConnectivity()
/** What the connectivity source told, in order. */
const heard: boolean[] = []
connectivity.subscribe((online) => heard.push(online))

const identityId = await session.identityId()
const manager = createSyncManager({
  identityPoolId: POOL,
  identityId,
  storage: createIndexedDbStorage({ name: 'session-page' }),
  transport: createHttpTransport({ endpoint, identityPoolId: POOL, identityId, getToken: session.getToken }),
  connectivity,
})
const settings = await manager.openOrCreateDataset('settings')
const synced: number[] = []
manager.on('syncSucceeded', ({ result }) => void synced.push(result.lastSyncCount))

const app = {
  identityId,
  storedIdentityId: () => localStorage.getItem('pushsync:identity-id'),
  token: () => session.getToken(),
  isOnline: () => connectivity.isOnline(),
  heard,
  synced,
  put: (key: string, value: string) => settings.put(key, value),
  pending: () => settings.getStatus().pendingChanges,
  synchronize: async () => (await settings.synchronize()).lastSyncCount,
}
Object.assign(globalThis, { app })
document.title = 'ready'
