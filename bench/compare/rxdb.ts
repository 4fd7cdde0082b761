/**
 * RxDB's rows: devices with memory storage (`getRxStorageMemory`) replicating live with RxDB's
 * WebSocket replication (`replicateWithWebsocketServer`) against rxdb-server.ts. Device B sees a
 * write when its collection's change stream emits the replicated document.
 */

import { createRequire } from 'node:module'
import { createRxDatabase, type RxCollection, type RxDatabase } from 'rxdb'
import { replicateWithWebsocketServer } from 'rxdb/plugins/replication-websocket'
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory'
import type { WebSocket } from 'ws'
import { KEY_VALUE_SCHEMA, type KeyValueDoc, type RxdbCollectionName } from './rxdb-schema.js'
import { COLD_RECORDS, coldProbe, type LiveDevices, liveProbe, type Probe } from './workload.js'

type Device = RxDatabase<Record<string, RxCollection<KeyValueDoc>>>

// RxDB's client sends through `ws`'s WebSocket (its own copy of `ws`, resolved from rxdb's folder):
// counting its sends counts the devices' messages.
const rxdbWs = createRequire(new URL('../../node_modules/rxdb/package.json', import.meta.url))('ws') as {
  WebSocket: typeof WebSocket
}
let messagesSent = 0
type Send = (this: WebSocket, ...args: unknown[]) => void
const send = rxdbWs.WebSocket.prototype.send as Send
rxdbWs.WebSocket.prototype.send = function counted(this: WebSocket, ...args: unknown[]) {
  messagesSent++
  send.apply(this, args)
} as typeof WebSocket.prototype.send

let devices = 0
async function openDevice(
  collection: RxdbCollectionName,
): Promise<{ db: Device; docs: RxCollection<KeyValueDoc> }> {
  const db: Device = await createRxDatabase({
    name: `device-${devices++}`,
    storage: getRxStorageMemory(),
    multiInstance: false,
  })
  await db.addCollections({ [collection]: { schema: KEY_VALUE_SCHEMA } })
  return { db, docs: db.collections[collection] as RxCollection<KeyValueDoc> }
}

function replicate(docs: RxCollection<KeyValueDoc>, url: string, batchSize?: number) {
  return replicateWithWebsocketServer<KeyValueDoc, unknown>({
    collection: docs,
    url,
    replicationIdentifier: `bench-${docs.name}`,
    live: true,
    ...(batchSize === undefined ? {} : { batchSize }),
  })
}

export async function rxdbLive(label: string, url: string): Promise<Probe> {
  const a = await openDevice('writes')
  const b = await openDevice('writes')
  const replications = [await replicate(a.docs, url), await replicate(b.docs, url)]
  for (const replication of replications) await replication.awaitInitialReplication()

  const waiting = new Map<string, { value: string; resolve(at: number): void }>()
  const subscription = b.docs.$.subscribe((event) => {
    const at = performance.now()
    const waiter = waiting.get(event.documentId)
    if (waiter === undefined || event.documentData?.value !== waiter.value) return
    waiting.delete(event.documentId)
    waiter.resolve(at)
  })
  const live: LiveDevices = {
    expect: (key, value) => new Promise((resolve) => waiting.set(key, { value, resolve })),
    async write(key, value) {
      await a.docs.insert({ id: key, value })
    },
    requests: () => messagesSent,
    async close() {
      subscription.unsubscribe()
      for (const replication of replications) await replication.cancel()
      await a.db.remove()
      await b.db.remove()
    },
  }
  return liveProbe(label, 'rxdb', live)
}

/**
 * A fresh device pulls the seeded collection: from starting the replication until its initial
 * replication is done. `batchSize` undefined is RxDB's default (100 documents per pull).
 */
export function rxdbCold(label: string, url: string, batchSize?: number): Probe {
  return coldProbe(label, 'rxdb', async () => {
    const device = await openDevice('cold')
    try {
      const start = performance.now()
      const replication = await replicate(device.docs, url, batchSize)
      await replication.awaitInitialReplication()
      const ms = performance.now() - start
      const held = await device.docs.count().exec()
      await replication.cancel()
      if (held !== COLD_RECORDS) throw new Error(`${label}: a cold pull brought ${held} documents`)
      return ms
    } finally {
      await device.db.remove()
    }
  })
}
