/**
 * IndexedDB storage for browsers and workers, on `idb`: datasets, records and push registrations
 * in one IndexedDB database per app (or per user), surviving reloads and offline periods.
 *
 * Each `read` and `write` is one IndexedDB transaction over all three object stores, readonly or
 * readwrite; a write whose callback rejects is aborted, so none of its changes stay. A queue runs
 * them one at a time. The connection opens on the first transaction, gives way when another tab
 * upgrades the database, and is reopened (once per transaction) when the browser closes it.
 *
 * `idb` checks values against IndexedDB's interface classes (`IDBRequest`, `IDBDatabase`...), so
 * those must be globals: browsers and workers have them; Node tests import `fake-indexeddb/auto`
 * or install them from `fake-indexeddb`.
 *
 * @module
 */
import { type DBSchema, type IDBPDatabase, type IDBPTransaction, unwrap, wrap } from 'idb'
import type {
  ListRecordsOptions,
  StorageAdapter,
  StorageReadTx,
  StorageWriteTx,
} from '../../../src/contracts/storage.js'
import type { DatasetMeta, DeviceRegistration, Platform, SyncRecord } from '../../../src/core/model.js'
import { isSyncError, SyncError } from '../../../src/errors.js'

/** What `createIndexedDbStorage` takes. */
export interface IndexedDbStorageOptions {
  /** The IndexedDB database name. Use one per app, or one per user to keep users' data apart. */
  readonly name: string
  /**
   * The factory to open the database with; `globalThis.indexedDB` when absent. Tests pass
   * fake-indexeddb's `new IDBFactory()` to get a fresh, private set of databases.
   */
  readonly indexedDB?: IDBFactory
}

const ADAPTER = 'storage:indexeddb'

/**
 * Creates a storage on the IndexedDB database `options.name`. Nothing is opened until the first
 * transaction. Throws `STORAGE_UNAVAILABLE` at once where there is no IndexedDB (server-side
 * rendering, a Node process without a polyfill).
 */
export function createIndexedDbStorage(options: IndexedDbStorageOptions): StorageAdapter {
  const database = options.name
  const given = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB
  if (given === undefined) {
    throw new SyncError(
      'STORAGE_UNAVAILABLE',
      'there is no IndexedDB here: create the storage in a browser or a worker (not during server-side rendering), or pass the `indexedDB` option',
      { adapter: ADAPTER, retryable: false, details: { database } },
    )
  }
  const missing = IDB_INTERFACES.filter(
    (name) => typeof (globalThis as Record<string, unknown>)[name] !== 'function',
  )
  if (missing.length > 0) {
    throw new SyncError(
      'STORAGE_UNAVAILABLE',
      `idb needs IndexedDB's interfaces as globals and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: in Node, import 'fake-indexeddb/auto' first`,
      { adapter: ADAPTER, retryable: false, details: { database, missing } },
    )
  }
  const factory: IDBFactory = given

  // Each transaction chains onto the previous one's settlement. IndexedDB serialises overlapping
  // readwrite transactions itself, but only from their first request on: without the queue a
  // second callback would already be running while the first one's transaction is still open.
  let queue: Promise<unknown> = Promise.resolve()
  let closed = false
  let closing: Promise<void> | undefined
  let connection: Promise<IDBPDatabase<Schema>> | undefined

  const closedError = (what: string) =>
    new SyncError('STORAGE_CLOSED', `${what} (indexeddb '${database}')`, {
      adapter: ADAPTER,
      details: { database },
    })

  function enqueue<T>(run: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(closedError('the storage is closed'))
    const result = queue.then(run)
    queue = result.then(ignore, ignore)
    return result
  }

  function connect(): Promise<IDBPDatabase<Schema>> {
    if (connection === undefined) {
      const opening = open(factory, database, () => {
        // The connection is gone (we gave way to an upgrade, or the browser closed it): the next
        // transaction opens a new one.
        if (connection === opening) connection = undefined
      })
      connection = opening
      opening.catch(() => {
        if (connection === opening) connection = undefined
      })
    }
    return connection
  }

  async function transaction<Mode extends 'readonly' | 'readwrite', T>(
    mode: Mode,
    fn: (tx: Tx<Mode>, scope: Scope) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const pending = connect()
      const db = await pending
      // Only a connection lost underneath earns a retry, and only one: a second loss in a row is
      // reported rather than looped on.
      const retry = attempt === 1
      const reconnect = () => {
        if (connection === pending) connection = undefined
        db.close()
      }
      let tx: Tx<Mode>
      try {
        tx = db.transaction(STORE_NAMES, mode)
      } catch (error) {
        // InvalidStateError: the connection was closed since it was opened, before any work started.
        if (retry && nameOf(error) === 'InvalidStateError') {
          reconnect()
          continue
        }
        throw mapIdbError(error, database)
      }
      const scope = new Scope(closedError)
      let result: T
      try {
        result = await fn(tx, scope)
      } catch (error) {
        scope.end()
        abort(tx)
        await tx.done.catch(ignore)
        if (retry && lostConnection(db, tx)) {
          reconnect()
          continue
        }
        // The callback's own rejection value, unchanged: the caller may be waiting for exactly it.
        throw error
      }
      scope.end()
      const failure = scope.failure
      // A call failed and the callback carried on: commit nothing, as after a failed request.
      if (failure !== undefined) abort(tx)
      try {
        await tx.done
      } catch (error) {
        if (retry && lostConnection(db, tx)) {
          reconnect()
          continue
        }
        throw failure?.error ?? mapIdbError(tx.error ?? error, database)
      }
      if (failure !== undefined) throw failure.error
      return result
    }
  }

  return {
    name: ADAPTER,

    read(fn) {
      return enqueue(() =>
        transaction('readonly', (tx, scope) =>
          fn(readTx(tx, scope, (error) => mapIdbError(error, database))),
        ),
      )
    },

    write(fn) {
      return enqueue(() =>
        transaction('readwrite', (tx, scope) =>
          fn(writeTx(tx, scope, (error) => mapIdbError(error, database))),
        ),
      )
    },

    close() {
      // Refuse new work at once, but let the transactions already queued finish.
      closed = true
      closing ??= queue.then(async () => {
        const pending = connection
        connection = undefined
        const db = await pending?.catch(() => undefined)
        db?.close()
      })
      return closing
    },
  }
}

// --- Schema ---

/** A record as stored: its dataset's key parts added, `dirty` as 0/1 since booleans are no keys. */
interface StoredRecord {
  readonly identityId: string
  readonly dataset: string
  readonly key: string
  readonly value: string | null
  readonly syncCount: number
  readonly lastModifiedDate: number
  readonly lastModifiedBy: string | null
  readonly deviceLastModifiedDate: number
  readonly dirty: 0 | 1
}

interface Schema extends DBSchema {
  datasets: { key: [string, string]; value: DatasetMeta }
  records: {
    key: [string, string, string]
    value: StoredRecord
    indexes: { dirty: [string, string, 0 | 1] }
  }
  devices: { key: [string, Platform]; value: DeviceRegistration }
}

const STORE_NAMES = ['datasets', 'records', 'devices'] as const

type Tx<Mode extends IDBTransactionMode> = IDBPTransaction<Schema, typeof STORE_NAMES, Mode>

/**
 * Migration `i` (0-based) takes the database from version `i` to `i + 1`; the database version is
 * the length of the list. Released migrations are never edited: a change is a new entry at the end.
 * Migrations speak IndexedDB directly: they run inside the browser's `versionchange` transaction
 * and await nothing.
 *
 * Keys are arrays of strings, which IndexedDB orders element by element and, within a string, by
 * UTF-16 code unit: exactly the order the storage contract asks for, so lists need no sorting.
 */
const MIGRATIONS: ReadonlyArray<(db: IDBDatabase, tx: IDBTransaction) => void> = [
  // 1: the object stores.
  (db) => {
    db.createObjectStore('datasets', { keyPath: ['identityId', 'name'] })
    db.createObjectStore('records', { keyPath: ['identityId', 'dataset', 'key'] })
    db.createObjectStore('devices', { keyPath: ['identityId', 'platform'] })
  },
  // 2: the dirty listing. IndexedDB builds the index from the records already there.
  (_db, tx) => {
    tx.objectStore('records').createIndex('dirty', ['identityId', 'dataset', 'dirty'])
  },
]

const VERSION = MIGRATIONS.length

/** What idb tests values against; all are globals in browsers and workers. */
const IDB_INTERFACES = [
  'IDBRequest',
  'IDBDatabase',
  'IDBTransaction',
  'IDBObjectStore',
  'IDBIndex',
  'IDBCursor',
  'IDBKeyRange',
] as const

/**
 * Opens (creating or upgrading) the database. `openDB` from idb always uses the global factory, so
 * the request is made here on the given one and the resulting connection wrapped with idb's `wrap`.
 */
function open(factory: IDBFactory, database: string, onGone: () => void): Promise<IDBPDatabase<Schema>> {
  return new Promise((resolve, reject) => {
    let request: IDBOpenDBRequest
    try {
      request = factory.open(database, VERSION)
    } catch (error) {
      reject(mapIdbError(error, database))
      return
    }
    let abandoned = false
    request.addEventListener('upgradeneeded', (event) => {
      const tx = request.transaction
      if (tx === null) return
      for (const migration of MIGRATIONS.slice(event.oldVersion)) migration(request.result, tx)
    })
    request.addEventListener('blocked', (event) => {
      // Another tab holds an older version open and does not close it. The request stays pending
      // until that tab closes; the caller hears now, and the connection is closed if it ever opens.
      abandoned = true
      reject(
        new SyncError(
          'STORAGE_BLOCKED',
          `another tab keeps version ${event.oldVersion} of the database '${database}' open, so it cannot be upgraded to version ${VERSION}: close the app's other tabs, then retry`,
          { adapter: ADAPTER, details: { database, openVersion: event.oldVersion, version: VERSION } },
        ),
      )
    })
    request.addEventListener('success', () => {
      const db = request.result
      if (abandoned) {
        db.close()
        return
      }
      // Another tab wants to upgrade: close so it is not blocked. A later transaction here reopens
      // and learns (VersionError) that this code is now the older one.
      db.addEventListener('versionchange', () => {
        db.close()
        onGone()
      })
      // The browser closed the connection (storage cleared, disk failure): it aborts the running
      // transactions with an AbortError and fires `close`.
      db.addEventListener('close', () => {
        terminated.add(db)
        onGone()
      })
      resolve(wrap(db) as IDBPDatabase<Schema>)
    })
    request.addEventListener('error', () => {
      reject(mapIdbError(request.error, database))
    })
  })
}

function abort(tx: Tx<IDBTransactionMode>): void {
  try {
    tx.abort()
  } catch {
    // Already finished: IndexedDB aborted it itself (a failed request, a closed connection).
  }
}

/** Connections the browser closed on its own (their `close` event fired). */
const terminated = new WeakSet<IDBDatabase>()

/**
 * Whether a transaction failed because its connection went away rather than because of what it
 * did. A forced close aborts with an AbortError; our own `abort()` leaves `error` null, and a failed
 * request or commit sets its own error (ConstraintError, QuotaExceededError...).
 */
function lostConnection(db: IDBPDatabase<Schema>, tx: Tx<IDBTransactionMode>): boolean {
  return terminated.has(unwrap(db)) || nameOf(tx.error) === 'AbortError'
}

// --- Transactions ---

/**
 * Ends a transaction object's life: once its callback has settled, a leaked object must not act.
 *
 * It also remembers the first failed call. A failed request aborts the transaction by itself, but a
 * call can also throw before any request is made (a quota check, an invalid key); then, as after a
 * failed request, every later call fails with that error and the transaction commits nothing.
 */
class Scope {
  #active = true
  #failure: { readonly error: SyncError } | undefined
  readonly #closedError: (what: string) => SyncError

  constructor(closedError: (what: string) => SyncError) {
    this.#closedError = closedError
  }

  get failure(): { readonly error: SyncError } | undefined {
    return this.#failure
  }

  check(): void {
    if (!this.#active) throw this.#closedError('the transaction has ended; use a new read() or write()')
    if (this.#failure !== undefined) throw this.#failure.error
  }

  fail(error: SyncError): SyncError {
    this.#failure ??= { error }
    return error
  }

  end(): void {
    this.#active = false
  }
}

/**
 * The key range of every key that starts with `prefix`: arrays sort after strings, so
 * `[...prefix, []]` is above any `[...prefix, string]`.
 */
function prefixRange(...prefix: string[]): IDBKeyRange {
  return IDBKeyRange.bound(prefix, [...prefix, []])
}

function readTx(
  tx: Tx<'readonly' | 'readwrite'>,
  scope: Scope,
  fail: (error: unknown) => SyncError,
): StorageReadTx {
  const datasets = tx.objectStore('datasets')
  const records = tx.objectStore('records')
  const devices = tx.objectStore('devices')
  // Async methods turn the scope check's throw into a rejection, as the contract's promises require.
  // They await only IndexedDB requests, so the transaction stays active between them.
  const ask = async <T>(request: () => Promise<T>): Promise<T> => {
    scope.check()
    try {
      return await request()
    } catch (error) {
      throw scope.fail(fail(error))
    }
  }
  return {
    getDataset: (identityId, name) =>
      ask(async () => {
        const meta = await datasets.get([identityId, name])
        return meta === undefined ? undefined : copyMeta(meta)
      }),
    listDatasets: (identityId) =>
      ask(async () => (await datasets.getAll(prefixRange(identityId))).map(copyMeta)),
    getRecord: (identityId, dataset, key) =>
      ask(async () => {
        const row = await records.get([identityId, dataset, key])
        return row === undefined ? undefined : fromStored(row)
      }),
    listRecords: (identityId, dataset, options?: ListRecordsOptions) =>
      ask(async () => {
        // Index entries with equal keys are ordered by primary key, so dirty rows come in key order too.
        const rows =
          options?.dirtyOnly === true
            ? await records.index('dirty').getAll([identityId, dataset, 1])
            : await records.getAll(prefixRange(identityId, dataset))
        return rows.map(fromStored)
      }),
    getDevice: (identityId, platform) =>
      ask(async () => {
        const device = await devices.get([identityId, platform])
        return device === undefined ? undefined : copyDevice(device)
      }),
    listDevices: (identityId) =>
      ask(async () => (await devices.getAll(prefixRange(identityId))).map(copyDevice)),
  }
}

function writeTx(tx: Tx<'readwrite'>, scope: Scope, fail: (error: unknown) => SyncError): StorageWriteTx {
  const datasets = tx.objectStore('datasets')
  const records = tx.objectStore('records')
  const devices = tx.objectStore('devices')
  const ask = async (requests: () => Array<Promise<unknown>>): Promise<void> => {
    scope.check()
    try {
      // Every request is made before the first await; IndexedDB runs them in order.
      await Promise.all(requests())
    } catch (error) {
      throw scope.fail(fail(error))
    }
  }
  return {
    ...readTx(tx, scope, fail),
    putDataset: (meta) => ask(() => [datasets.put(copyMeta(meta))]),
    deleteDataset: (identityId, name) =>
      ask(() => [datasets.delete([identityId, name]), records.delete(prefixRange(identityId, name))]),
    putRecords: (identityId, dataset, batch) =>
      ask(() => batch.map((record) => records.put(toStored(identityId, dataset, record)))),
    deleteRecords: (identityId, dataset, keys) =>
      ask(() => keys.map((key) => records.delete([identityId, dataset, key]))),
    putDevice: (registration) => ask(() => [devices.put(copyDevice(registration))]),
    deleteDevice: (identityId, platform) => ask(() => [devices.delete([identityId, platform])]),
  }
}

// Stored and returned values are copies of the fields the model defines, so neither stray extra
// properties nor later changes to the caller's objects reach the store, and readers get fresh objects.
function toStored(identityId: string, dataset: string, record: SyncRecord): StoredRecord {
  return {
    identityId,
    dataset,
    key: record.key,
    value: record.value,
    syncCount: record.syncCount,
    lastModifiedDate: record.lastModifiedDate,
    lastModifiedBy: record.lastModifiedBy,
    deviceLastModifiedDate: record.deviceLastModifiedDate,
    dirty: record.dirty ? 1 : 0,
  }
}

function fromStored(row: StoredRecord): SyncRecord {
  return {
    key: row.key,
    value: row.value,
    syncCount: row.syncCount,
    lastModifiedDate: row.lastModifiedDate,
    lastModifiedBy: row.lastModifiedBy,
    deviceLastModifiedDate: row.deviceLastModifiedDate,
    dirty: row.dirty === 1,
  }
}

function copyMeta(meta: DatasetMeta): DatasetMeta {
  return {
    identityId: meta.identityId,
    name: meta.name,
    lastSyncCount: meta.lastSyncCount,
    creationDate: meta.creationDate,
    lastModifiedDate: meta.lastModifiedDate,
    lastModifiedBy: meta.lastModifiedBy,
    lastSyncDate: meta.lastSyncDate,
  }
}

function copyDevice(registration: DeviceRegistration): DeviceRegistration {
  return {
    identityId: registration.identityId,
    platform: registration.platform,
    deviceId: registration.deviceId,
    token: registration.token,
  }
}

// --- Errors ---

/** The one place where IndexedDB's DOMExceptions become `SyncError`s, by their `name`. */
function mapIdbError(error: unknown, database: string): SyncError {
  if (isSyncError(error)) return error
  const name = nameOf(error)
  const options = {
    adapter: ADAPTER,
    cause: error,
    details: { database, ...(name === undefined ? {} : { exception: name }) },
  }
  switch (name) {
    case 'QuotaExceededError':
      return new SyncError(
        'STORAGE_QUOTA',
        "the browser's storage quota for this site is used up: free space (remove datasets), or ask for persistent storage with navigator.storage.persist()",
        options,
      )
    case 'VersionError':
      return new SyncError(
        'STORAGE_UNAVAILABLE',
        `the database '${database}' has a newer version than this code knows (a newer version of the app upgraded it, perhaps in another tab): reload the page`,
        { ...options, retryable: false },
      )
    case 'TransactionInactiveError':
      return new SyncError(
        'STORAGE_UNAVAILABLE',
        "the transaction ended while its callback awaited something else: inside read() and write(), await only the transaction's own methods",
        { ...options, retryable: false },
      )
    case 'InvalidStateError':
    case 'AbortError':
      return new SyncError(
        'STORAGE_UNAVAILABLE',
        'the browser closed the database connection or aborted the transaction: retry',
        { ...options, retryable: true },
      )
    case 'UnknownError':
      // What browsers report for transient disk and backing-store failures.
      return new SyncError('STORAGE_UNAVAILABLE', `IndexedDB failed: ${messageOf(error)}; retry`, {
        ...options,
        retryable: true,
      })
    case 'NotFoundError':
      return new SyncError(
        'STORAGE_CORRUPT',
        `the database '${database}' lacks an object store or index it should have: delete it and sync again`,
        options,
      )
    case 'SecurityError':
      return new SyncError(
        'STORAGE_UNAVAILABLE',
        'the browser does not allow IndexedDB here (private browsing, an opaque origin, or site data blocked)',
        { ...options, retryable: false },
      )
  }
  return new SyncError('STORAGE_UNAVAILABLE', `IndexedDB failed: ${messageOf(error)}`, {
    ...options,
    retryable: false,
  })
}

function nameOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('name' in error)) return undefined
  return typeof error.name === 'string' ? error.name : undefined
}

function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message)
  return String(error)
}

function ignore(): void {}
