/**
 * The storage conformance suite against the IndexedDB adapter in real Chromium: the browser's own
 * IndexedDB, its transactions and its structured clone, not fake-indexeddb's.
 */
import { afterEach, expect, it } from 'vitest'
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb/index.js'
import { runStorageConformance } from '../../src/testing/index.js'

let counter = 0
let name = ''
const created: string[] = []

function deleteDatabase(database: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(database)
    request.onsuccess = () => resolve()
    request.onerror = () => reject(request.error)
    // A connection the suite left open would block the deletion; every adapter is closed by then.
    request.onblocked = () => reject(new Error(`deleting ${database} is blocked by an open connection`))
  })
}

runStorageConformance({
  name: 'indexeddb (Chromium)',
  create: async () => {
    name = `pushsync-conformance-${++counter}`
    created.push(name)
    return createIndexedDbStorage({ name })
  },
  reopen: async () => createIndexedDbStorage({ name }),
  destroy: () => deleteDatabase(name),
  // The full 1,000 runs, with the time real IndexedDB needs for them (about 80 s).
  modelRuns: 1000,
})

it('runs in a real browser, not on a polyfill', () => {
  expect(navigator.userAgent).toMatch(/Chrome\//)
  expect(String(indexedDB)).toBe('[object IDBFactory]')
  expect(typeof (globalThis as { process?: unknown }).process).toBe('undefined')
})

afterEach(async () => {
  const databases = await indexedDB.databases()
  const leftovers = databases.filter((db) => db.name !== undefined && created.includes(db.name))
  expect(leftovers.map((db) => db.name)).toEqual([])
})
