/**
 * Several tabs of one app: every tab builds the same manager on the same IndexedDB database and
 * joins the same tab group; one tab leads and talks to the network. Compiled, not run (it needs a
 * browser; test/browser/multi-tab.test.ts runs the same setup in Chromium).
 */
import { createSyncManager, type SyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createWebLocksTabCoordinator } from 'pushsync/tabs/web-locks'
import { createHttpTransport } from 'pushsync/transport/http'

export function startTab(session: {
  identityPoolId: string
  identityId: string
  getToken: () => string
}): SyncManager {
  // #region tabs
  const remote = { endpoint: '/sync', ...session }
  const manager = createSyncManager({
    identityPoolId: session.identityPoolId,
    identityId: session.identityId,
    storage: createIndexedDbStorage({ name: 'my-app-sync' }),
    transport: createHttpTransport(remote),
    // The group's name goes with the database: tabs that share one must share the other.
    tabs: createWebLocksTabCoordinator({ name: 'my-app-sync' }),
  })
  // Started in whichever tab leads, and moved when the lead moves: one push connection per browser.
  manager.addPushSource(createSsePushSource(remote))
  // Every tab hears of every tab's writes and of what the leader's syncs brought, at once.
  manager.on('datasetChanged', ({ dataset, keys, source }) => {
    console.log(`${dataset}: ${keys.join(', ')} changed (${source})`)
  })
  // #endregion tabs
  return manager
}
