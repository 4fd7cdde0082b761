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
  let committed: Store = new Map()
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
        const draft = new Draft(committed)
        const scope = new Scope(closedError)
        try {
          const result = await fn(writeTx(draft, scope))
          committed = draft.store
          return result
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

/** What one identity owns. Only a draft's own copies are ever mutated; committed ones are shared. */
interface IdentityData {
  readonly datasets: Map<string, DatasetMeta>
  /** Dataset name → key → record. A dataset's records exist with or without its metadata. */
  readonly records: Map<string, Map<string, SyncRecord>>
  readonly devices: Map<Platform, DeviceRegistration>
}

type Store = Map<string, IdentityData>

/**
 * A copy-on-write view of the committed store: an identity is copied the first time the transaction
 * changes it, so a rejected transaction is dropped by not swapping its store in.
 */
class Draft {
  readonly store: Store
  readonly #owned = new Set<string>()

  constructor(committed: Store) {
    this.store = new Map(committed)
  }

  mutable(identityId: string): IdentityData {
    const current = this.store.get(identityId)
    if (current !== undefined && this.#owned.has(identityId)) return current
    const copy: IdentityData = {
      datasets: new Map(current?.datasets),
      records: new Map(Array.from(current?.records ?? [], ([name, rows]) => [name, new Map(rows)])),
      devices: new Map(current?.devices),
    }
    this.store.set(identityId, copy)
    this.#owned.add(identityId)
    return copy
  }
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
      const rows = sortedBy(store.get(identityId)?.records.get(dataset)?.values(), (record) => record.key)
      return (options?.dirtyOnly === true ? rows.filter((record) => record.dirty) : rows).map((record) => ({
        ...record,
      }))
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

function writeTx(draft: Draft, scope: Scope): StorageWriteTx {
  return {
    ...readTx(draft.store, scope),
    async putDataset(meta) {
      scope.check()
      draft.mutable(meta.identityId).datasets.set(meta.name, copyMeta(meta))
    },
    async deleteDataset(identityId, name) {
      scope.check()
      const data = draft.mutable(identityId)
      data.datasets.delete(name)
      data.records.delete(name)
    },
    async putRecords(identityId, dataset, records) {
      scope.check()
      const data = draft.mutable(identityId)
      let rows = data.records.get(dataset)
      if (rows === undefined) {
        rows = new Map()
        data.records.set(dataset, rows)
      }
      for (const record of records) rows.set(record.key, copyRecord(record))
    },
    async deleteRecords(identityId, dataset, keys) {
      scope.check()
      const rows = draft.mutable(identityId).records.get(dataset)
      for (const key of keys) rows?.delete(key)
    },
    async putDevice(registration) {
      scope.check()
      draft.mutable(registration.identityId).devices.set(registration.platform, copyDevice(registration))
    },
    async deleteDevice(identityId, platform) {
      scope.check()
      draft.mutable(identityId).devices.delete(platform)
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
