/**
 * SQLite storage: datasets, records and push registrations in a SQLite database, through any
 * SQLite library that fits the small {@link SqliteDriver} interface. The adapter imports no SQLite
 * package; the app opens the database with the library of its platform and passes a driver:
 * {@link betterSqlite3Driver} (Node), {@link sqlJsDriver} (wasm, browsers and Node), or a few lines
 * of its own for React Native (op-sqlite, expo-sqlite) or wa-sqlite.
 *
 * Each `read` and `write` is one SQLite transaction (`BEGIN` / `BEGIN IMMEDIATE`, then `COMMIT`, or
 * `ROLLBACK` when the callback rejects or one of its statements failed), and a queue runs them one
 * at a time on the connection.
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
import { Connection } from './connection.js'
import type { SqliteDriver, SqlRow } from './driver.js'
import { migrate } from './schema.js'

export {
  type BetterSqlite3Database,
  type BetterSqlite3Statement,
  betterSqlite3Driver,
} from './better-sqlite3.js'
export type { SqliteDriver, SqlRow, SqlValue } from './driver.js'
export { type SqlJsDatabase, type SqlJsStatement, sqlJsDriver } from './sql-js.js'

/** What `createSqliteStorage` takes: a driver over the app's own SQLite handle. */
export interface SqliteStorageOptions {
  /**
   * An open connection. The adapter owns it from now on: `close()` closes it. Give the adapter a
   * connection of its own: its transactions span awaits, and statements the app runs on the same
   * connection meanwhile would land inside them.
   */
  readonly driver: SqliteDriver
  /** A label for this instance in error messages, to tell several databases apart. */
  readonly name?: string
}

const ADAPTER = 'storage:sqlite'

/**
 * Creates a storage on an open SQLite connection. The tables (all named `pushsync_*`) are created
 * or migrated by the first transaction, so the call itself does no I/O.
 */
export function createSqliteStorage(options: SqliteStorageOptions): StorageAdapter {
  const label = options.name
  const db = new Connection(options.driver, { adapter: ADAPTER, instance: label })
  // Each transaction chains onto the previous one's settlement: SQLite has one transaction per
  // connection, and an async driver would otherwise interleave two callbacks' statements.
  let queue: Promise<unknown> = Promise.resolve()
  let closed = false
  let closing: Promise<void> | undefined
  let migrated = false

  const closedError = (what: string) =>
    new SyncError('STORAGE_CLOSED', `${what}${label === undefined ? '' : ` (sqlite storage '${label}')`}`, {
      adapter: ADAPTER,
      ...(label === undefined ? {} : { details: { instance: label } }),
    })

  function enqueue<T>(run: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(closedError('the storage is closed'))
    const result = queue.then(run)
    queue = result.then(ignore, ignore)
    return result
  }

  async function transaction<T>(begin: string, fn: (scope: Scope) => Promise<T>): Promise<T> {
    if (!migrated) {
      // A failed migration leaves `migrated` false, so the next transaction tries again.
      await migrate(db, ADAPTER)
      migrated = true
    }
    await db.exec(begin)
    const scope = new Scope(closedError)
    let result: T
    try {
      result = await fn(scope)
    } catch (error) {
      await scope.end()
      await db.rollback()
      // The callback's own rejection value, unchanged: the caller may be waiting for exactly it.
      throw error
    }
    await scope.end()
    if (scope.failure !== undefined) {
      // A statement failed and the callback carried on. SQLite may already have rolled the
      // transaction back on its own (a full disk, an I/O error); commit nothing, as IndexedDB does
      // when a request fails.
      await db.rollback()
      throw scope.failure.error
    }
    try {
      await db.exec('COMMIT')
    } catch (error) {
      // A COMMIT that fails with SQLITE_BUSY leaves the transaction open; end it so the connection
      // is usable again and nothing of this write stays behind.
      await db.rollback()
      throw error
    }
    return result
  }

  return {
    name: ADAPTER,

    read(fn) {
      return enqueue(() => transaction('BEGIN', (scope) => fn(readTx(db, scope))))
    },

    write(fn) {
      // IMMEDIATE takes the write lock up front: a deferred transaction that reads first and writes
      // later can fail with SQLITE_BUSY halfway when another process writes meanwhile.
      return enqueue(() => transaction('BEGIN IMMEDIATE', (scope) => fn(writeTx(db, scope))))
    },

    close() {
      // Refuse new work at once, but let the transactions already queued finish, as IndexedDB does.
      closed = true
      closing ??= queue.then(() => db.close())
      return closing
    },
  }
}

// --- Internal helpers ---

/**
 * Ends a transaction object's life: once its callback has settled, a leaked object must not act.
 *
 * It also tracks the calls in flight, so COMMIT or ROLLBACK waits for a call the callback started
 * without awaiting it: with an async driver that call could otherwise run after ROLLBACK, outside
 * any transaction, and be committed on its own. And it remembers the first failed call: SQLite
 * ends the transaction itself after some failures, and later statements would then each commit
 * on their own, so once a call has failed every later one fails with the same error.
 */
class Scope {
  #active = true
  #failure: { readonly error: unknown } | undefined
  readonly #pending = new Set<Promise<unknown>>()
  readonly #closedError: (what: string) => SyncError

  constructor(closedError: (what: string) => SyncError) {
    this.#closedError = closedError
  }

  get failure(): { readonly error: unknown } | undefined {
    return this.#failure
  }

  run<T>(operation: () => Promise<T>): Promise<T> {
    if (!this.#active) {
      return Promise.reject(this.#closedError('the transaction has ended; use a new read() or write()'))
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error)
    const pending = operation().catch((error: unknown) => {
      this.#failure ??= { error }
      throw error
    })
    this.#pending.add(pending)
    const settle = () => {
      this.#pending.delete(pending)
    }
    pending.then(settle, settle)
    return pending
  }

  async end(): Promise<void> {
    this.#active = false
    await Promise.allSettled(this.#pending)
  }
}

const DATASET_COLUMNS =
  'identity_id, name, last_sync_count, creation_date, last_modified_date, last_modified_by, last_sync_date'
const RECORD_COLUMNS =
  'key, value, sync_count, last_modified_date, last_modified_by, device_last_modified_date, dirty'
const DEVICE_COLUMNS = 'identity_id, platform, device_id, token'

function readTx(db: Connection, scope: Scope): StorageReadTx {
  const toMeta = (row: SqlRow): DatasetMeta => ({
    identityId: db.text(row, 'identity_id'),
    name: db.text(row, 'name'),
    lastSyncCount: db.number(row, 'last_sync_count'),
    creationDate: db.number(row, 'creation_date'),
    lastModifiedDate: db.number(row, 'last_modified_date'),
    lastModifiedBy: db.text(row, 'last_modified_by', true),
    lastSyncDate: db.number(row, 'last_sync_date'),
  })
  const toRecord = (row: SqlRow): SyncRecord => ({
    key: db.text(row, 'key'),
    value: db.text(row, 'value', true),
    syncCount: db.number(row, 'sync_count'),
    lastModifiedDate: db.number(row, 'last_modified_date'),
    lastModifiedBy: db.text(row, 'last_modified_by', true),
    deviceLastModifiedDate: db.number(row, 'device_last_modified_date'),
    dirty: db.number(row, 'dirty') === 1,
  })
  const toDevice = (row: SqlRow): DeviceRegistration => ({
    identityId: db.text(row, 'identity_id'),
    platform: db.text(row, 'platform') as Platform,
    deviceId: db.text(row, 'device_id'),
    token: db.text(row, 'token'),
  })

  // Every row becomes a new object, so what a caller gets is already a copy.
  return {
    getDataset: (identityId, name) =>
      scope.run(async () => {
        const [row] = await db.all(
          `SELECT ${DATASET_COLUMNS} FROM pushsync_datasets WHERE identity_id = ? AND name = ?`,
          [identityId, name],
        )
        return row === undefined ? undefined : toMeta(row)
      }),
    listDatasets: (identityId) =>
      scope.run(async () => {
        const rows = await db.all(`SELECT ${DATASET_COLUMNS} FROM pushsync_datasets WHERE identity_id = ?`, [
          identityId,
        ])
        return sortedBy(rows.map(toMeta), (meta) => meta.name)
      }),
    getRecord: (identityId, dataset, key) =>
      scope.run(async () => {
        const [row] = await db.all(
          `SELECT ${RECORD_COLUMNS} FROM pushsync_records WHERE identity_id = ? AND dataset = ? AND key = ?`,
          [identityId, dataset, key],
        )
        return row === undefined ? undefined : toRecord(row)
      }),
    listRecords: (identityId, dataset, options?: ListRecordsOptions) =>
      scope.run(async () => {
        // `dirty = 1` spelled out so SQLite can use the partial index pushsync_records_dirty.
        const where = options?.dirtyOnly === true ? ' AND dirty = 1' : ''
        const rows = await db.all(
          `SELECT ${RECORD_COLUMNS} FROM pushsync_records WHERE identity_id = ? AND dataset = ?${where}`,
          [identityId, dataset],
        )
        return sortedBy(rows.map(toRecord), (record) => record.key)
      }),
    getDevice: (identityId, platform) =>
      scope.run(async () => {
        const [row] = await db.all(
          `SELECT ${DEVICE_COLUMNS} FROM pushsync_devices WHERE identity_id = ? AND platform = ?`,
          [identityId, platform],
        )
        return row === undefined ? undefined : toDevice(row)
      }),
    listDevices: (identityId) =>
      scope.run(async () => {
        const rows = await db.all(`SELECT ${DEVICE_COLUMNS} FROM pushsync_devices WHERE identity_id = ?`, [
          identityId,
        ])
        return sortedBy(rows.map(toDevice), (device) => device.platform)
      }),
  }
}

function writeTx(db: Connection, scope: Scope): StorageWriteTx {
  return {
    ...readTx(db, scope),
    putDataset: (meta) =>
      scope.run(() =>
        db.run(`INSERT OR REPLACE INTO pushsync_datasets (${DATASET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
          meta.identityId,
          meta.name,
          meta.lastSyncCount,
          meta.creationDate,
          meta.lastModifiedDate,
          meta.lastModifiedBy,
          meta.lastSyncDate,
        ]),
      ),
    deleteDataset: (identityId, name) =>
      scope.run(async () => {
        await db.run('DELETE FROM pushsync_datasets WHERE identity_id = ? AND name = ?', [identityId, name])
        await db.run('DELETE FROM pushsync_records WHERE identity_id = ? AND dataset = ?', [identityId, name])
      }),
    putRecords: (identityId, dataset, records) =>
      scope.run(async () => {
        // Read every field before the first await: the caller may change its objects meanwhile.
        const rows = records.map((record) => [
          identityId,
          dataset,
          record.key,
          record.value,
          record.syncCount,
          record.lastModifiedDate,
          record.lastModifiedBy,
          record.deviceLastModifiedDate,
          record.dirty ? 1 : 0,
        ])
        for (const row of rows) {
          await db.run(
            `INSERT OR REPLACE INTO pushsync_records (identity_id, dataset, ${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            row,
          )
        }
      }),
    deleteRecords: (identityId, dataset, keys) =>
      scope.run(async () => {
        for (const key of [...keys]) {
          await db.run('DELETE FROM pushsync_records WHERE identity_id = ? AND dataset = ? AND key = ?', [
            identityId,
            dataset,
            key,
          ])
        }
      }),
    putDevice: (registration) =>
      scope.run(() =>
        db.run(`INSERT OR REPLACE INTO pushsync_devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?)`, [
          registration.identityId,
          registration.platform,
          registration.deviceId,
          registration.token,
        ]),
      ),
    deleteDevice: (identityId, platform) =>
      scope.run(() =>
        db.run('DELETE FROM pushsync_devices WHERE identity_id = ? AND platform = ?', [identityId, platform]),
      ),
  }
}

/**
 * UTF-16 code unit order (plain `<`), what the contract asks for. SQLite compares TEXT byte by
 * byte in UTF-8, which is code point order: it puts U+E000–U+FFFF before astral characters where
 * UTF-16 puts them after. So lists are sorted here rather than by `ORDER BY`. A list holds one
 * identity's datasets or devices, or one dataset's records (at most 1024 by the service's limits).
 */
function sortedBy<T>(items: T[], by: (item: T) => string): T[] {
  return items.sort((a, b) => {
    const x = by(a)
    const y = by(b)
    return x < y ? -1 : x > y ? 1 : 0
  })
}

function ignore(): void {}
