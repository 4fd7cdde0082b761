/**
 * A pushsync device in a page, one tab: `?storage=indexeddb|memory&pool=&identity=&token=`, the
 * HTTP transport and the SSE push source against the page's own origin (pushsync-page-server.ts).
 * A write is `put` then `synchronize()`, the one-round-trip sync of a device whose channel is live.
 */
import { createSyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createHttpTransport } from 'pushsync/transport/http'
import { createWebSocketTransport } from 'pushsync/transport/websocket'
import { type BenchPage, pageClock, pageSetting } from './page-api.js'

const storageName = pageSetting('storage')
const identityPoolId = pageSetting('pool')
const identityId = pageSetting('identity')
const token = pageSetting('token')
const endpoint = location.origin
const getToken = () => token

const transportName = new URLSearchParams(location.search).get('transport') ?? 'http'
const socket =
  transportName === 'websocket'
    ? createWebSocketTransport({ endpoint, identityPoolId, identityId, getToken })
    : undefined
const manager = createSyncManager({
  identityPoolId,
  identityId,
  storage: storageName === 'memory' ? createMemoryStorage() : createIndexedDbStorage({ name: 'bench' }),
  transport: socket ?? createHttpTransport({ endpoint, identityPoolId, identityId, getToken }),
})
const dataset = `bench-${storageName}-${transportName}`
const ds = await manager.openOrCreateDataset(dataset)
await ds.synchronize()
manager.addPushSource(
  socket?.pushSource ?? createSsePushSource({ endpoint, identityPoolId, identityId, getToken }),
)
while (!manager.getStatus().pushSources.every((source) => source.state === 'live')) {
  await new Promise((resolve) => setTimeout(resolve, 10))
}

const changes: BenchPage['changes'] = []
manager.on('datasetChanged', (event) => {
  if (event.source !== 'remote' || event.dataset !== dataset) return
  const at = pageClock()
  for (const key of event.keys) changes.push({ key, at })
})
const bench: BenchPage = {
  now: pageClock,
  async write(key, value) {
    await ds.put(key, value)
    await ds.synchronize()
  },
  changes,
}
Object.assign(globalThis, { bench })
document.title = 'ready'
