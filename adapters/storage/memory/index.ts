/**
 * In-memory storage: the reference implementation of the storage port and the test double of the
 * engine's tests. Nothing survives the process; use it for tests, demos and ephemeral sessions.
 *
 * @module
 */
import type {
  ListRecordsOptions,
  StorageAdapter,
  StorageReadTx,
  StorageWriteTx,
} from '../../../src/contracts/storage.js'
import type { DatasetMeta, DeviceRegistration, Platform, SyncRecord } from '../../../src/core/model.js'
import { SyncError } from '../../../src/errors.js'

/** What `createMemoryStorage` takes. */
export interface MemoryStorageOptions {
  /** A label for this instance in error messages, to tell several instances apart in a test. */
  readonly name?: string
}

const ADAPTER = 'storage:memory'

/** Creates an empty store. Every call gives a separate store; instances never share data. */
export function createMemoryStorage(options: MemoryStorageOptions = {}): StorageAdapter {
  const label = options.name
  const committed: Store = new Map()
  // Each transaction chains onto the previous one's settlement, so none ever sees another's partial state.
  let queue: Promise<unknown> = Promise.resolve()
  let closed = false

  const closedError = (what: string) =>
    new SyncError('STORAGE_CLOSED', `${what}${label === undefined ? '' : ` (memory storage '${label}')`}`, {
      adapter: ADAPTER,
      ...(label === undefined ? {} : { details: { instance: label } }),
    })

  function enqueue<T>(run: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(closedError('the storage is closed'))
    const result = queue.then(run)
    queue = result.then(ignore, ignore)
    return result
  }

  return {
    name: ADAPTER,

    read(fn) {
      return enqueue(async () => {
        const scope = new Scope(closedError)
        try {
          return await fn(readTx(committed, scope))
        } finally {
          scope.end()
        }
      })
    },

    write(fn) {
      return enqueue(async () => {
        // Transactions run one at a time (enqueue), so a write may change the committed store in
        // place: nothing can read it meanwhile. A failed one is undone from its journal.
        const journal = new Journal()
        const scope = new Scope(closedError)
        try {
          return await fn(writeTx(committed, journal, scope))
        } catch (error) {
          journal.undo()
          throw error
        } finally {
          scope.end()
        }
      })
    },

    async close() {
      // Refuse new work at once, but let the transactions already queued finish, as IndexedDB does.
      closed = true
      await queue
    },
  }
}

// --- Internal helpers ---

/** What one identity owns. */
interface IdentityData {
  readonly datasets: Map<string, DatasetMeta>
  /** Dataset name → key → record. A dataset's records exist with or without its metadata. */
  readonly records: Map<string, Map<string, SyncRecord>>
  readonly devices: Map<Platform, DeviceRegistration>
}

type Store = Map<string, IdentityData>

/**
 * How to take back what a write transaction changed: each change notes what its map held before,
 * and `undo` restores them newest first. A write costs what it touches, whatever the store holds.
 */
class Journal {
  readonly #undo: Array<() => void> = []

  set<K, V>(map: Map<K, V>, key: K, value: V): void {
    this.#remember(map, key)
    map.set(key, value)
  }

  delete<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return
    this.#remember(map, key)
    map.delete(key)
  }

  undo(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]?.()
    this.#undo.length = 0
  }

  #remember<K, V>(map: Map<K, V>, key: K): void {
    if (map.has(key)) {
      const before = map.get(key) as V
      this.#undo.push(() => map.set(key, before))
    } else {
      this.#undo.push(() => map.delete(key))
    }
  }
}

/** The identity's data, created (through the journal) if it has none yet. */
function identityData(store: Store, journal: Journal, identityId: string): IdentityData {
  let data = store.get(identityId)
  if (data === undefined) {
    data = { datasets: new Map(), records: new Map(), devices: new Map() }
    journal.set(store, identityId, data)
  }
  return data
}

/** Ends a transaction object's life: once its callback has settled, a leaked object must not act. */
class Scope {
  #active = true
  readonly #closedError: (what: string) => SyncError

  constructor(closedError: (what: string) => SyncError) {
    this.#closedError = closedError
  }

  check(): void {
    if (!this.#active) throw this.#closedError('the transaction has ended; use a new read() or write()')
  }

  end(): void {
    this.#active = false
  }
}

function readTx(store: Store, scope: Scope): StorageReadTx {
  // Async methods turn the scope check's throw into a rejection, as the contract's promises require.
  return {
    async getDataset(identityId, name) {
      scope.check()
      const meta = store.get(identityId)?.datasets.get(name)
      return meta === undefined ? undefined : { ...meta }
    },
    async listDatasets(identityId) {
      scope.check()
      return sortedBy(store.get(identityId)?.datasets.values(), (meta) => meta.name).map((meta) => ({
        ...meta,
      }))
    },
    async getRecord(identityId, dataset, key) {
      scope.check()
      const record = store.get(identityId)?.records.get(dataset)?.get(key)
      return record === undefined ? undefined : { ...record }
    },
    async listRecords(identityId, dataset, options?: ListRecordsOptions) {
      scope.check()
      const all = store.get(identityId)?.records.get(dataset)?.values()
      // Filtered before sorting: a sync lists the few dirty rows of a dataset of any size.
      const rows = options?.dirtyOnly === true ? Array.from(all ?? []).filter((record) => record.dirty) : all
      return sortedBy(rows, (record) => record.key).map((record) => ({ ...record }))
    },
    async getDevice(identityId, platform) {
      scope.check()
      const device = store.get(identityId)?.devices.get(platform)
      return device === undefined ? undefined : { ...device }
    },
    async listDevices(identityId) {
      scope.check()
      return sortedBy(store.get(identityId)?.devices.values(), (device) => device.platform).map((device) => ({
        ...device,
      }))
    },
  }
}

function writeTx(store: Store, journal: Journal, scope: Scope): StorageWriteTx {
  return {
    ...readTx(store, scope),
    async putDataset(meta) {
      scope.check()
      journal.set(identityData(store, journal, meta.identityId).datasets, meta.name, copyMeta(meta))
    },
    async deleteDataset(identityId, name) {
      scope.check()
      const data = store.get(identityId)
      if (data === undefined) return
      journal.delete(data.datasets, name)
      journal.delete(data.records, name)
    },
    async putRecords(identityId, dataset, records) {
      scope.check()
      const data = identityData(store, journal, identityId)
      let rows = data.records.get(dataset)
      if (rows === undefined) {
        rows = new Map()
        journal.set(data.records, dataset, rows)
      }
      for (const record of records) journal.set(rows, record.key, copyRecord(record))
    },
    async deleteRecords(identityId, dataset, keys) {
      scope.check()
      const rows = store.get(identityId)?.records.get(dataset)
      if (rows === undefined) return
      for (const key of keys) journal.delete(rows, key)
    },
    async putDevice(registration) {
      scope.check()
      const devices = identityData(store, journal, registration.identityId).devices
      journal.set(devices, registration.platform, copyDevice(registration))
    },
    async deleteDevice(identityId, platform) {
      scope.check()
      const devices = store.get(identityId)?.devices
      if (devices !== undefined) journal.delete(devices, platform)
    },
  }
}

// Stored values are frozen copies of the fields the model defines, so neither the caller's later
// changes to its input nor stray extra properties reach the store; readers get fresh copies.
function copyRecord(record: SyncRecord): SyncRecord {
  return Object.freeze({
    key: record.key,
    value: record.value,
    syncCount: record.syncCount,
    lastModifiedDate: record.lastModifiedDate,
    lastModifiedBy: record.lastModifiedBy,
    deviceLastModifiedDate: record.deviceLastModifiedDate,
    dirty: record.dirty,
  })
}

function copyMeta(meta: DatasetMeta): DatasetMeta {
  return Object.freeze({
    identityId: meta.identityId,
    name: meta.name,
    lastSyncCount: meta.lastSyncCount,
    creationDate: meta.creationDate,
    lastModifiedDate: meta.lastModifiedDate,
    lastModifiedBy: meta.lastModifiedBy,
    lastSyncDate: meta.lastSyncDate,
  })
}

function copyDevice(registration: DeviceRegistration): DeviceRegistration {
  return Object.freeze({
    identityId: registration.identityId,
    platform: registration.platform,
    deviceId: registration.deviceId,
    token: registration.token,
  })
}

/** UTF-16 code unit order (plain `<`), what the contract asks for; `localeCompare` would differ. */
function sortedBy<T>(items: Iterable<T> | undefined, by: (item: T) => string): T[] {
  return Array.from(items ?? []).sort((a, b) => {
    const x = by(a)
    const y = by(b)
    return x < y ? -1 : x > y ? 1 : 0
  })
}

function ignore(): void {}
