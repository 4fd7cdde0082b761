/**
 * A page of an app that learns of changes by Web Push: its service worker relays each push
 * (`relayPush`) and `createWebPushSource` hands it to the manager. The test drives it through
 * `window.app`.
 */
import { createSyncManager } from 'pushsync'
import { createWebPushSource } from 'pushsync/push/webpush'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createHttpTransport } from 'pushsync/transport/http'
import { pageIdentity } from './settings.js'

const { identityPoolId, identityId, token } = pageIdentity()

const manager = createSyncManager({
  identityPoolId,
  identityId,
  storage: createMemoryStorage(),
  transport: createHttpTransport({
    endpoint: location.origin,
    identityPoolId,
    identityId,
    getToken: () => token,
  }),
})
const received: number[] = []
const ignored: string[] = []
manager.on('pushReceived', ({ update }) => void received.push(update.syncCount))
manager.on('pushIgnored', ({ reason }) => void ignored.push(reason))
manager.addPushSource(createWebPushSource())
const ds = await manager.openOrCreateDataset('settings')

await navigator.serviceWorker.register('/sw.js', { type: 'module' })
await navigator.serviceWorker.ready

Object.assign(globalThis, {
  app: {
    received,
    ignored,
    get: (key: string) => ds.get(key),
    lastSyncCount: () => ds.getLastSyncCount(),
    controlled: () => navigator.serviceWorker.controller !== null,
  },
})
document.title = 'ready'
