/**
 * An RxDB device in a page: `?storage=dexie|localstorage|memory&url=ws://...`, one of RxDB's free
 * storages, live WebSocket replication of the collection named like the storage to rxdb-server.ts.
 */
import { createRxDatabase, type RxCollection, type RxStorage } from 'rxdb'
import { replicateWithWebsocketServer } from 'rxdb/plugins/replication-websocket'
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie'
import { getRxStorageLocalstorage } from 'rxdb/plugins/storage-localstorage'
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory'
import { KEY_VALUE_SCHEMA, type KeyValueDoc } from '../rxdb-schema.js'
import { type BenchPage, pageClock, pageSetting } from './page-api.js'

const storageName = pageSetting('storage')
const storages: Record<string, () => RxStorage<unknown, unknown>> = {
  dexie: () => getRxStorageDexie() as RxStorage<unknown, unknown>,
  localstorage: () => getRxStorageLocalstorage() as RxStorage<unknown, unknown>,
  memory: () => getRxStorageMemory() as RxStorage<unknown, unknown>,
}
const storage = storages[storageName]
if (storage === undefined) throw new Error(`unknown storage ${storageName}`)

// One tab per device here, so no multi-instance machinery (as pushsync's page has no tab coordinator).
const database = await createRxDatabase({
  name: `bench-${storageName}`,
  storage: storage(),
  multiInstance: false,
})
await database.addCollections({ [storageName]: { schema: KEY_VALUE_SCHEMA } })
const docs = database.collections[storageName] as RxCollection<KeyValueDoc>
const replication = await replicateWithWebsocketServer<KeyValueDoc, unknown>({
  collection: docs,
  url: pageSetting('url'),
  replicationIdentifier: `bench-${storageName}`,
  live: true,
})
await replication.awaitInitialReplication()

// Only the other device writes to this page's collection while it is watched: every event is one.
const changes: BenchPage['changes'] = []
docs.$.subscribe((event) => {
  changes.push({ key: event.documentId, at: pageClock() })
})
const bench: BenchPage = {
  now: pageClock,
  async write(key, value) {
    await docs.insert({ id: key, value })
  },
  changes,
}
Object.assign(globalThis, { bench })
document.title = 'ready'
