import {
  forceCloseDatabase,
  IDBCursor,
  IDBDatabase,
  IDBFactory,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBRequest,
  IDBTransaction,
} from 'fake-indexeddb'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { createIndexedDbStorage } from '../../../adapters/storage/indexeddb/index.js'
import type { StorageAdapter } from '../../../src/contracts/storage.js'
import { isSyncError, type SyncError } from '../../../src/errors.js'
import { runStorageConformance } from '../../../src/testing/index.js'
import { caught, record } from './helpers.js'

// idb recognises IndexedDB objects by their interface classes, which it expects as globals (as in a
// browser). Install fake-indexeddb's for this file, but not `indexedDB` itself: every test passes a
// factory of its own, so no state is shared and a forgotten option would fail.
const INTERFACES = {
  IDBCursor,
  IDBDatabase,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBRequest,
  IDBTransaction,
}
for (const [name, value] of Object.entries(INTERFACES)) vi.stubGlobal(name, value)
afterAll(() => {
  vi.unstubAllGlobals()
})

let factory = new IDBFactory()
runStorageConformance({
  name: 'indexeddb (fake-indexeddb)',
  create: async () => {
    factory = new IDBFactory()
    return createIndexedDbStorage({ name: 'pushsync', indexedDB: factory })
  },
  reopen: async () => createIndexedDbStorage({ name: 'pushsync', indexedDB: factory }),
})

const ID = 'eu-west-1:00000000-0000-4000-8000-000000000001'
const CURRENT_VERSION = 2

/** Opens a database by hand, as another tab or an older version of the app would. */
function openRaw(
  indexedDB: IDBFactory,
  name: string,
  version?: number,
  upgrade?: (db: globalThis.IDBDatabase) => void,
): Promise<globalThis.IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version)
    request.onupgradeneeded = () => upgrade?.(request.result)
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

/** The version 1 schema: the object stores without the dirty index. */
function schemaV1(db: globalThis.IDBDatabase): void {
  db.createObjectStore('datasets', { keyPath: ['identityId', 'name'] })
  db.createObjectStore('records', { keyPath: ['identityId', 'dataset', 'key'] })
  db.createObjectStore('devices', { keyPath: ['identityId', 'platform'] })
}

/** Closes a connection as a browser does when it loses the database: the `close` event fires. */
function forceClose(db: globalThis.IDBDatabase | undefined): void {
  // fake-indexeddb declares the parameter as the class rather than an instance.
  forceCloseDatabase(db as unknown as typeof IDBDatabase)
}

/** A factory that hands every connection it opens to the test, to close it underneath the adapter. */
function watchedFactory() {
  const inner = new IDBFactory()
  const connections: globalThis.IDBDatabase[] = []
  const indexedDB: IDBFactory = {
    open(name, version) {
      const request = inner.open(name, version)
      request.addEventListener('success', () => connections.push(request.result))
      return request
    },
    deleteDatabase: (name) => inner.deleteDatabase(name),
    cmp: (a, b) => inner.cmp(a, b),
    databases: () => inner.databases(),
  }
  return { indexedDB, connections }
}

describe('createIndexedDbStorage', () => {
  const opened: StorageAdapter[] = []
  const open = (indexedDB: IDBFactory, name = 'app') => {
    const storage = createIndexedDbStorage({ name, indexedDB })
    opened.push(storage)
    return storage
  }

  afterEach(async () => {
    for (const storage of opened.splice(0)) await storage.close()
  })

  describe('where there is no IndexedDB', () => {
    it('throws STORAGE_UNAVAILABLE without a factory', () => {
      expect(globalThis.indexedDB).toBeUndefined()
      let error: unknown
      try {
        createIndexedDbStorage({ name: 'app' })
      } catch (thrown) {
        error = thrown
      }
      expect(isSyncError(error, 'STORAGE_UNAVAILABLE')).toBe(true)
      expect(error).toMatchObject({ adapter: 'storage:indexeddb', retryable: false })
      expect((error as Error).message).toContain('`indexedDB` option')
    })

    it('uses globalThis.indexedDB by default', async () => {
      vi.stubGlobal('indexedDB', new IDBFactory())
      try {
        const storage = open(undefined as unknown as IDBFactory)
        await storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
        expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([record('a', '1')])
      } finally {
        vi.stubGlobal('indexedDB', undefined)
      }
    })

    it('throws STORAGE_UNAVAILABLE naming the interfaces idb needs when they are not globals', () => {
      vi.stubGlobal('IDBCursor', undefined)
      try {
        expect(() => createIndexedDbStorage({ name: 'app', indexedDB: new IDBFactory() })).toThrow(
          /IDBCursor is missing: in Node, import 'fake-indexeddb\/auto'/,
        )
      } finally {
        vi.stubGlobal('IDBCursor', IDBCursor)
      }
    })
  })

  describe('schema', () => {
    it('creates the database at the current version on the first transaction only', async () => {
      const indexedDB = new IDBFactory()
      const storage = open(indexedDB)
      expect(await indexedDB.databases()).toEqual([])
      await storage.read(async () => undefined)
      expect(await indexedDB.databases()).toEqual([{ name: 'app', version: CURRENT_VERSION }])
      const db = await openRaw(indexedDB, 'app')
      expect(Array.from(db.objectStoreNames)).toEqual(['datasets', 'devices', 'records'])
      expect(Array.from(db.transaction('records').objectStore('records').indexNames)).toEqual(['dirty'])
      db.close()
    })

    it('upgrades a version 1 database in place, keeping its rows', async () => {
      const indexedDB = new IDBFactory()
      const old = await openRaw(indexedDB, 'app', 1, schemaV1)
      const tx = old.transaction(['datasets', 'records'], 'readwrite')
      const meta = {
        identityId: ID,
        name: 'settings',
        lastSyncCount: 3,
        creationDate: 1,
        lastModifiedDate: 2,
        lastModifiedBy: null,
        lastSyncDate: 4,
      }
      tx.objectStore('datasets').put(meta)
      tx.objectStore('records').put({
        identityId: ID,
        dataset: 'settings',
        ...record('clean', 'c', false),
        dirty: 0,
      })
      tx.objectStore('records').put({
        identityId: ID,
        dataset: 'settings',
        ...record('dirty', null),
        dirty: 1,
      })
      await new Promise((resolve) => {
        tx.oncomplete = resolve
      })
      old.close()

      const storage = open(indexedDB)
      expect(await storage.read((tx) => tx.getDataset(ID, 'settings'))).toEqual(meta)
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([
        record('clean', 'c', false),
        record('dirty', null),
      ])
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings', { dirtyOnly: true }))).toEqual([
        record('dirty', null),
      ])
      expect(await indexedDB.databases()).toEqual([{ name: 'app', version: CURRENT_VERSION }])
    })

    it('rejects with STORAGE_BLOCKED while another tab holds an older version open, then recovers', async () => {
      const indexedDB = new IDBFactory()
      const otherTab = await openRaw(indexedDB, 'app', 1, schemaV1)
      // An old tab that ignores the request to close.
      otherTab.onversionchange = () => {}
      const storage = open(indexedDB)
      const error = await caught(storage.read(async () => 'read'))
      expect(isSyncError(error, 'STORAGE_BLOCKED')).toBe(true)
      expect(error).toMatchObject({
        adapter: 'storage:indexeddb',
        details: { database: 'app', openVersion: 1, version: CURRENT_VERSION },
      })
      expect((error as Error).message).toContain("close the app's other tabs")

      otherTab.close()
      expect(await storage.read(async () => 'read')).toBe('read')
      expect(await indexedDB.databases()).toEqual([{ name: 'app', version: CURRENT_VERSION }])
    })

    it('gives way when another tab upgrades the database, then reports that it is outdated', async () => {
      const indexedDB = new IDBFactory()
      const storage = open(indexedDB)
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
      // Not blocked: the adapter closes its connection on `versionchange`.
      const newer = await openRaw(indexedDB, 'app', CURRENT_VERSION + 1)
      newer.close()
      const error = await caught(storage.read(async () => undefined))
      expect(isSyncError(error, 'STORAGE_UNAVAILABLE')).toBe(true)
      expect(error).toMatchObject({ retryable: false, details: { exception: 'VersionError' } })
      expect((error as Error).message).toContain('reload the page')
    })
  })

  describe('a connection lost underneath', () => {
    it('is reopened and the transaction retried when it was closed', async () => {
      const { indexedDB, connections } = watchedFactory()
      const storage = open(indexedDB)
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
      expect(connections).toHaveLength(1)
      connections[0]?.close()

      let runs = 0
      await storage.write(async (tx) => {
        runs += 1
        await tx.putRecords(ID, 'settings', [record('b', '2')])
      })
      expect(runs).toBe(1)
      expect(connections).toHaveLength(2)
      expect((await storage.read((tx) => tx.listRecords(ID, 'settings'))).map((r) => r.key)).toEqual([
        'a',
        'b',
      ])
    })

    it('keeps working after the browser closed it (the close event)', async () => {
      const { indexedDB, connections } = watchedFactory()
      const storage = open(indexedDB)
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
      const closedEvent = new Promise((resolve) => connections[0]?.addEventListener('close', resolve))
      forceClose(connections[0])
      await closedEvent
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([record('a', '1')])
      expect(connections).toHaveLength(2)
    })

    it('retries a transaction the browser aborted by closing the connection, running the callback again', async () => {
      const { indexedDB, connections } = watchedFactory()
      const storage = open(indexedDB)
      await storage.read(async () => undefined)
      const first = connections[0] as globalThis.IDBDatabase
      // Hand out the raw transactions of the first connection, to abort one as a forced close does.
      const transactions: globalThis.IDBTransaction[] = []
      const transaction = first.transaction.bind(first)
      first.transaction = (...args: Parameters<typeof transaction>) => {
        const tx = transaction(...args)
        transactions.push(tx)
        return tx
      }

      let runs = 0
      await storage.write(async (tx) => {
        runs += 1
        await tx.putRecords(ID, 'settings', [record(`run ${runs}`, 'x')])
        if (runs === 1) {
          forceClose(first)
          transactions[0]?.abort()
        }
        await tx.putRecords(ID, 'settings', [record(`run ${runs}, second`, 'x')])
      })
      expect(runs).toBe(2)
      expect(connections).toHaveLength(2)
      expect((await storage.read((tx) => tx.listRecords(ID, 'settings'))).map((r) => r.key)).toEqual([
        'run 2',
        'run 2, second',
      ])
    })

    it('retries a transaction aborted with an AbortError before the close event arrives', async () => {
      // A browser that loses the database aborts the running transactions with an AbortError and
      // fires `close` only once they have finished, so the abort is all the adapter sees at first.
      const { indexedDB, connections } = watchedFactory()
      const storage = open(indexedDB)
      await storage.read(async () => undefined)
      const first = connections[0] as globalThis.IDBDatabase
      const transactions: globalThis.IDBTransaction[] = []
      const transaction = first.transaction.bind(first)
      first.transaction = (...args: Parameters<typeof transaction>) => {
        const tx = transaction(...args)
        transactions.push(tx)
        return tx
      }

      let runs = 0
      await storage.write(async (tx) => {
        runs += 1
        await tx.putRecords(ID, 'settings', [record(`run ${runs}`, 'x')])
        const raw = transactions[0]
        if (runs === 1 && raw !== undefined) {
          const aborted = new DOMException('The connection was closed.', 'AbortError')
          Object.defineProperty(raw, 'error', { get: () => aborted })
          raw.abort()
        }
        await tx.putRecords(ID, 'settings', [record(`run ${runs}, second`, 'x')])
      })
      expect(runs).toBe(2)
      expect(connections).toHaveLength(2)
      expect((await storage.read((tx) => tx.listRecords(ID, 'settings'))).map((r) => r.key)).toEqual([
        'run 2',
        'run 2, second',
      ])
    })

    it('is retried once only, then reported as retryable STORAGE_UNAVAILABLE', async () => {
      const { indexedDB, connections } = watchedFactory()
      const storage = open(indexedDB)
      await storage.read(async () => undefined)
      // From now on every connection is closed as soon as it opens.
      const push = connections.push.bind(connections)
      connections.push = (...dbs) => {
        for (const db of dbs) db.close()
        return push(...dbs)
      }
      connections[0]?.close()
      let runs = 0
      const error = await caught(
        storage.write(async () => {
          runs += 1
        }),
      )
      expect(runs).toBe(0)
      expect(isSyncError(error, 'STORAGE_UNAVAILABLE')).toBe(true)
      expect(error).toMatchObject({ retryable: true, details: { exception: 'InvalidStateError' } })
      expect(connections).toHaveLength(2)
    })
  })

  describe('errors', () => {
    it('maps QuotaExceededError to STORAGE_QUOTA and applies nothing', async () => {
      const { indexedDB, connections } = watchedFactory()
      const storage = open(indexedDB)
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('kept', '1')]))
      const db = connections[0] as globalThis.IDBDatabase
      const transaction = db.transaction.bind(db)
      const quota = new DOMException('The quota has been exceeded.', 'QuotaExceededError')
      db.transaction = (...args: Parameters<typeof transaction>) => {
        const tx = transaction(...args)
        const objectStore = tx.objectStore.bind(tx)
        tx.objectStore = (name) => {
          const store = objectStore(name)
          store.put = () => {
            throw quota
          }
          return store
        }
        return tx
      }
      const error = await caught(storage.write((tx) => tx.putRecords(ID, 'settings', [record('lost', '2')])))
      expect(isSyncError(error, 'STORAGE_QUOTA')).toBe(true)
      expect((error as SyncError).cause).toBe(quota)
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([record('kept', '1')])
    })

    it('commits nothing once a call failed, even when the callback carried on', async () => {
      const { indexedDB, connections } = watchedFactory()
      const storage = open(indexedDB)
      await storage.read(async () => undefined)
      const db = connections[0] as globalThis.IDBDatabase
      const transaction = db.transaction.bind(db)
      const invalid = new DOMException(
        'Data provided to an operation does not meet requirements.',
        'DataError',
      )
      db.transaction = (...args: Parameters<typeof transaction>) => {
        const tx = transaction(...args)
        const objectStore = tx.objectStore.bind(tx)
        tx.objectStore = (name) => {
          const store = objectStore(name)
          const put = store.put.bind(store)
          store.put = (value, key) => {
            if ((value as { key?: string }).key === 'fails') throw invalid
            return put(value, key)
          }
          return store
        }
        return tx
      }
      const seen: unknown[] = []
      const error = await caught(
        storage.write(async (tx) => {
          await tx.putRecords(ID, 'settings', [record('before', '1')])
          await tx.putRecords(ID, 'settings', [record('fails', '2')]).catch((e: unknown) => seen.push(e))
          await tx.putRecords(ID, 'settings', [record('after', '3')]).catch((e: unknown) => seen.push(e))
          return 'carried on'
        }),
      )
      expect(isSyncError(error, 'STORAGE_UNAVAILABLE')).toBe(true)
      expect((error as SyncError).cause).toBe(invalid)
      expect(seen).toEqual([error, error])
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([])
    })

    it('explains a transaction that ended because its callback awaited something else', async () => {
      const storage = open(new IDBFactory())
      const error = await caught(
        storage.write(async (tx) => {
          await new Promise((resolve) => setTimeout(resolve, 5))
          await tx.putRecords(ID, 'settings', [record('a', '1')])
        }),
      )
      expect(isSyncError(error, 'STORAGE_UNAVAILABLE')).toBe(true)
      expect(error).toMatchObject({ retryable: false, details: { exception: 'TransactionInactiveError' } })
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([])
    })

    it('names the database in its STORAGE_CLOSED errors', async () => {
      const storage = createIndexedDbStorage({ name: 'left tab', indexedDB: new IDBFactory() })
      await storage.close()
      const error = await caught(storage.read(async () => undefined))
      expect(isSyncError(error, 'STORAGE_CLOSED')).toBe(true)
      expect(error).toMatchObject({ adapter: 'storage:indexeddb', details: { database: 'left tab' } })
      expect((error as Error).message).toContain("'left tab'")
    })
  })

  describe('closing', () => {
    it('closes the connection, so the database can be deleted', async () => {
      const indexedDB = new IDBFactory()
      const storage = createIndexedDbStorage({ name: 'app', indexedDB })
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
      await storage.close()
      await storage.close()
      await new Promise((resolve, reject) => {
        const request = indexedDB.deleteDatabase('app')
        request.onsuccess = resolve
        request.onerror = reject
        request.onblocked = () => reject(new Error('blocked: the adapter kept its connection open'))
      })
    })
  })
})
