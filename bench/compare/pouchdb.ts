/**
 * PouchDB's rows: devices with memory storage syncing live (`db.sync(remote, { live: true, retry:
 * true })`, PouchDB's documented setup) with express-pouchdb in pouchdb-server.ts. Device B sees a
 * write when its sync reports the pulled document written locally.
 */
import type { Database, PouchDocument } from 'pouchdb-core'
import { Pouch } from './pouchdb-setup.js'
import {
  COLD_RECORDS,
  coldKey,
  coldProbe,
  coldValue,
  type LiveDevices,
  liveProbe,
  type Probe,
} from './workload.js'

let devices = 0
const openDevice = (): Database => new Pouch(`device-${devices++}`, { adapter: 'memory' })

export async function pouchdbLive(label: string, url: string): Promise<Probe> {
  let requests = 0
  // Each device talks to the server through its own remote handle, as two devices would.
  const remote = () =>
    new Pouch(`${url}/writes`, {
      fetch: (input, options) => {
        requests++
        return Pouch.fetch(input, options)
      },
    })
  await new Pouch(`${url}/writes`).info()
  const a = openDevice()
  const b = openDevice()
  const syncs = [a.sync(remote(), { live: true, retry: true }), b.sync(remote(), { live: true, retry: true })]

  const waiting = new Map<string, { value: string; resolve(at: number): void }>()
  syncs[1]?.on('change', (info) => {
    if (info.direction !== 'pull') return
    const at = performance.now()
    for (const doc of info.change?.docs ?? []) {
      const waiter = waiting.get(doc._id)
      if (waiter === undefined || doc.value !== waiter.value) continue
      waiting.delete(doc._id)
      waiter.resolve(at)
    }
  })
  const live: LiveDevices = {
    expect: (key, value) => new Promise((resolve) => waiting.set(key, { value, resolve })),
    async write(key, value) {
      await a.put({ _id: key, value })
    },
    requests: () => requests,
    async close() {
      for (const sync of syncs) sync.cancel()
      await a.destroy()
      await b.destroy()
    },
  }
  return liveProbe(label, 'pouchdb', live)
}

/** Writes the seeded records into the server's `cold` database. */
export async function seedPouchdb(url: string): Promise<void> {
  const docs: PouchDocument[] = Array.from({ length: COLD_RECORDS }, (_, i) => ({
    _id: coldKey(i),
    value: coldValue(i),
  }))
  const server = new Pouch(`${url}/cold`)
  await server.bulkDocs(docs)
  await server.close()
}

/** A fresh device replicates the seeded database once (`replicate.from`), until it completes. */
export function pouchdbCold(label: string, url: string): Probe {
  return coldProbe(label, 'pouchdb', async () => {
    const device = openDevice()
    try {
      const start = performance.now()
      await device.replicate.from(new Pouch(`${url}/cold`))
      const ms = performance.now() - start
      const { doc_count } = await device.info()
      if (doc_count !== COLD_RECORDS) throw new Error(`${label}: a cold pull brought ${doc_count} documents`)
      return ms
    } finally {
      await device.destroy()
    }
  })
}
