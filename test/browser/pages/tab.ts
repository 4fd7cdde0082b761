/**
 * One tab of an app, for the multi-tab tests: the manager on the profile's IndexedDB database, the
 * HTTP transport and the SSE push source against the page's own origin, and the Web Locks tab
 * coordinator. The test drives it through `window.tab`.
 */
import { createSyncManager, type SyncEvents } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createWebLocksTabCoordinator } from 'pushsync/tabs/web-locks'
import { createHttpTransport } from 'pushsync/transport/http'
import { pageIdentity } from './settings.js'

const { identityPoolId, identityId, token } = pageIdentity()
const endpoint = location.origin
const getToken = () => token

const manager = createSyncManager({
  identityPoolId,
  identityId,
  storage: createIndexedDbStorage({ name: 'app' }),
  transport: createHttpTransport({ endpoint, identityPoolId, identityId, getToken }),
  // Short checks, so a hung leader is replaced within the test's patience.
  tabs: createWebLocksTabCoordinator({ name: 'app', checkIntervalMs: 250, leaderTimeoutMs: 750 }),
})
const pushSource = createSsePushSource({ endpoint, identityPoolId, identityId, getToken })
let sseConnects = 0
manager.addPushSource({
  name: pushSource.name,
  start(sink) {
    sseConnects++
    return pushSource.start(sink)
  },
})

/** Each change with the time it was seen, on a clock all pages share (for the browser benchmark). */
const changes: Array<SyncEvents['datasetChanged'][0] & { at: number }> = []
const now = () => performance.timeOrigin + performance.now()
const pushes: number[] = []
manager.on('datasetChanged', (event) => void changes.push({ ...event, at: now() }))
manager.on('pushReceived', ({ update }) => void pushes.push(update.syncCount))
const ds = await manager.openOrCreateDataset('settings')

const tab = {
  isLeader: () => manager.isLeader,
  sseConnects: () => sseConnects,
  changes,
  pushes,
  now,
  put: (key: string, value: string) => ds.put(key, value),
  get: (key: string) => ds.get(key),
  getAll: async () => ({ ...(await ds.getAll()) }),
  pending: () => ds.getStatus().pendingChanges,
  synchronize: async () => {
    const { pushed, lastSyncCount } = await ds.synchronize()
    return { pushed, lastSyncCount }
  },
  lastSyncCount: () => ds.getLastSyncCount(),
  /** Blocks this tab's thread, as a long task or a hung script does. */
  hang(ms: number) {
    const until = Date.now() + ms
    while (Date.now() < until) {
      // busy
    }
  },
}
Object.assign(globalThis, { tab })
document.title = 'ready'
