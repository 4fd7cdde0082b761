import Database from 'better-sqlite3'
import type {
  DatasetRow,
  DevicePlatform,
  DeviceRow,
  IdentityRow,
  ListDatasetsQuery,
  ListRecordsQuery,
  LoginRow,
  OutboxRow,
  OutboxSummary,
  PoolRow,
  RecordRow,
  StoreReadiness,
  StoreTx,
  SyncStore,
  UsageRow,
} from './contract.js'

/**
 * The schema, one entry per version; a database at version N runs entries N+1.. on open. Append
 * only: an applied migration never changes. The PostgreSQL store (postgres.ts) keeps the same
 * tables and versions in its own dialect: a change here needs its twin there.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE settings (
      name TEXT PRIMARY KEY,
      value TEXT NOT NULL
    )`,
    `CREATE TABLE identities (
      identity_id TEXT PRIMARY KEY,
      identity_pool_id TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      merged_into TEXT
    )`,
    'CREATE INDEX identities_by_pool ON identities (identity_pool_id)',
    `CREATE TABLE logins (
      identity_pool_id TEXT NOT NULL,
      provider TEXT NOT NULL,
      subject TEXT NOT NULL,
      identity_id TEXT NOT NULL,
      PRIMARY KEY (identity_pool_id, provider, subject)
    )`,
    `CREATE TABLE datasets (
      identity_id TEXT NOT NULL,
      name TEXT NOT NULL,
      identity_pool_id TEXT NOT NULL,
      sync_count BIGINT NOT NULL,
      dataset_exists INTEGER NOT NULL,
      deleted_at_sync_count BIGINT NOT NULL,
      creation_date BIGINT NOT NULL,
      last_modified_date BIGINT NOT NULL,
      last_modified_by TEXT,
      num_records BIGINT NOT NULL,
      data_storage BIGINT NOT NULL,
      merged_into TEXT,
      PRIMARY KEY (identity_id, name)
    )`,
    // Pool usage and bulk publish read a pool's datasets in (identity_id, name) order.
    'CREATE INDEX datasets_by_pool ON datasets (identity_pool_id, identity_id, name)',
    `CREATE TABLE records (
      identity_id TEXT NOT NULL,
      dataset TEXT NOT NULL,
      key TEXT NOT NULL,
      value TEXT,
      sync_count BIGINT NOT NULL,
      last_modified_date BIGINT NOT NULL,
      last_modified_by TEXT,
      device_last_modified_date BIGINT,
      PRIMARY KEY (identity_id, dataset, key)
    )`,
    // ListRecords reads a dataset's records above a sync count in (sync_count, key) order.
    'CREATE INDEX records_by_sync_count ON records (identity_id, dataset, sync_count, key)',
    `CREATE TABLE devices (
      device_id TEXT PRIMARY KEY,
      identity_pool_id TEXT NOT NULL,
      identity_id TEXT NOT NULL,
      platform TEXT NOT NULL,
      token TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      UNIQUE (identity_id, platform, token)
    )`,
    // The cascade is what makes deleting a device drop its subscriptions.
    `CREATE TABLE subscriptions (
      identity_id TEXT NOT NULL,
      dataset TEXT NOT NULL,
      device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      PRIMARY KEY (identity_id, dataset, device_id)
    )`,
    'CREATE INDEX subscriptions_by_device ON subscriptions (device_id)',
    `CREATE TABLE spent_sessions (
      token_id TEXT PRIMARY KEY,
      expires_at BIGINT NOT NULL
    )`,
    'CREATE INDEX spent_sessions_by_expiry ON spent_sessions (expires_at)',
    `CREATE TABLE pools (
      identity_pool_id TEXT PRIMARY KEY,
      push_sync TEXT,
      cognito_streams TEXT,
      events TEXT,
      sync_sessions_count BIGINT NOT NULL,
      bulk_publish_status TEXT NOT NULL,
      bulk_publish_start_time BIGINT,
      bulk_publish_complete_time BIGINT,
      bulk_publish_failure_message TEXT
    )`,
  ],
  // Push delivery: one pending push per (device, dataset). No foreign key to devices: a row of a
  // deleted device is dropped when it comes due, which keeps device deletion a single statement.
  [
    `CREATE TABLE outbox (
      device_id TEXT NOT NULL,
      dataset TEXT NOT NULL,
      identity_pool_id TEXT NOT NULL,
      identity_id TEXT NOT NULL,
      sync_count BIGINT NOT NULL,
      attempts INTEGER NOT NULL,
      not_before BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY (device_id, dataset)
    )`,
    // The dispatcher reads due rows in (not_before, device_id, dataset) order.
    'CREATE INDEX outbox_by_time ON outbox (not_before, device_id, dataset)',
  ],
  // When each pending push was first queued, for the outbox's age. Rows already waiting get their
  // enqueue time back from the expiry (queue time + TTL, of the default TTL), unless that is later
  // than their not_before, which for a row never retried is the enqueue time itself.
  [
    'ALTER TABLE outbox ADD COLUMN queued_at BIGINT NOT NULL DEFAULT 0',
    'UPDATE outbox SET queued_at = MIN(not_before, expires_at - 86400000)',
  ],
]

/** The schema version this code writes; `schema_version` holds one row per applied migration. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * The SQLite store on better-sqlite3: one connection, one transaction at a time.
 *
 * A file database runs in WAL mode with `synchronous = NORMAL`: a commit appends to the WAL without
 * an fsync; the WAL is synced only at checkpoints. A committed transaction therefore survives a crash
 * of the process (its pages are already in the OS's cache), while a power loss or OS crash may lose
 * the transactions committed since the last checkpoint, rolling back to a consistent state: it never
 * corrupts the database. That trade buys the write rate a sync server needs. `:memory:` is an
 * in-memory SQLite database, gone on close.
 */
export function openSqliteStore(path: string): SyncStore {
  const db = new Database(path)
  let statements: Statements
  try {
    if (!db.memory) db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    // better-sqlite3's build already defaults to ON; the cascade from devices to subscriptions must not
    // depend on how SQLite was compiled.
    db.pragma('foreign_keys = ON')
    // Only another process (a backup, the sqlite3 shell) can hold the lock; wait for it a while.
    db.pragma('busy_timeout = 5000')
    migrate(db)
    statements = prepare(db)
  } catch (error) {
    db.close()
    throw error
  }
  const s = statements

  // better-sqlite3 is synchronous but a transaction's callback is async: while it awaits, other
  // callers must not run statements on the connection, or they would land inside its transaction.
  let tail: Promise<unknown> = Promise.resolve()
  let closed = false

  const run = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    s.begin.run()
    const tx = new SqliteTx(s)
    let result: T
    try {
      result = await fn(tx)
    } catch (error) {
      tx.end()
      rollback(db, s, error)
      throw error
    }
    tx.end()
    try {
      s.commit.run()
    } catch (error) {
      rollback(db, s, error)
      throw error
    }
    return result
  }

  return {
    kind: 'sqlite',
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      // One transaction at a time serialises every identity, which is what `lock` asks for.
      if (closed) return Promise.reject(new Error('The store is closed'))
      const result = tail.then(() => run(fn))
      tail = result.catch(() => undefined)
      return result
    },
    async close(): Promise<void> {
      closed = true
      await tail
      if (db.open) db.close()
    },
    async readiness(): Promise<StoreReadiness> {
      if (closed || !db.open) return { ready: false, reason: 'the store is closed' }
      // Read outside the transaction queue: a read of one row cannot disturb a transaction in
      // progress on the connection, and a probe must not wait behind a long one.
      try {
        const version = s.schemaVersion.get()?.version ?? 0
        return version === SCHEMA_VERSION
          ? { ready: true }
          : { ready: false, reason: `the schema is at version ${version}, not ${SCHEMA_VERSION}` }
      } catch (error) {
        return { ready: false, reason: `the database cannot be read: ${(error as Error).message}` }
      }
    },
  }
}

/** Rolls back unless SQLite already did (it does on some errors, such as a full disk). */
const rollback = (db: Database.Database, s: Statements, cause: unknown): void => {
  if (!db.inTransaction) return
  try {
    s.rollback.run()
  } catch (error) {
    throw new AggregateError([cause, error], 'A transaction failed and could not be rolled back')
  }
}

const migrate = (db: Database.Database): void => {
  // Reading the version inside the write transaction keeps two processes opening a new file at
  // once from both migrating it.
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    )
    const current = db
      .prepare<[], { version: number | null }>('SELECT MAX(version) AS version FROM schema_version')
      .get()?.version
    const version = current ?? 0
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `The database has schema version ${version}, newer than this server's ${SCHEMA_VERSION}; upgrade the server`,
      )
    }
    const record = db.prepare<[number, number]>(
      'INSERT INTO schema_version (version, applied_at) VALUES (?, ?)',
    )
    for (let v = version + 1; v <= SCHEMA_VERSION; v++) {
      for (const sql of MIGRATIONS[v - 1] ?? []) db.exec(sql)
      record.run(v, Date.now())
    }
    db.exec('COMMIT')
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw error
  }
}

// Column names as SQL returns them.

interface IdentitySql {
  identity_id: string
  identity_pool_id: string
  created_at: number
  merged_into: string | null
}

interface LoginSql {
  identity_pool_id: string
  provider: string
  subject: string
  identity_id: string
}

interface DatasetSql {
  identity_id: string
  name: string
  identity_pool_id: string
  sync_count: number
  dataset_exists: number
  deleted_at_sync_count: number
  creation_date: number
  last_modified_date: number
  last_modified_by: string | null
  num_records: number
  data_storage: number
  merged_into: string | null
}

interface RecordSql {
  key: string
  value: string | null
  sync_count: number
  last_modified_date: number
  last_modified_by: string | null
  device_last_modified_date: number | null
}

interface DeviceSql {
  device_id: string
  identity_pool_id: string
  identity_id: string
  platform: DevicePlatform
  token: string
  created_at: number
}

interface PoolSql {
  identity_pool_id: string
  push_sync: string | null
  cognito_streams: string | null
  events: string | null
  sync_sessions_count: number
  bulk_publish_status: PoolRow['bulkPublishStatus']
  bulk_publish_start_time: number | null
  bulk_publish_complete_time: number | null
  bulk_publish_failure_message: string | null
}

interface OutboxSql {
  device_id: string
  dataset: string
  identity_pool_id: string
  identity_id: string
  sync_count: number
  attempts: number
  not_before: number
  expires_at: number
  queued_at: number
}

interface UsageSql {
  dataset_count: number
  data_storage: number
  last_modified_date: number | null
}

const DATASET_COLUMNS = `identity_id, name, identity_pool_id, sync_count, dataset_exists, deleted_at_sync_count,
  creation_date, last_modified_date, last_modified_by, num_records, data_storage, merged_into`
const RECORD_COLUMNS =
  'key, value, sync_count, last_modified_date, last_modified_by, device_last_modified_date'
const DEVICE_COLUMNS = 'device_id, identity_pool_id, identity_id, platform, token, created_at'
const POOL_COLUMNS = `identity_pool_id, push_sync, cognito_streams, events, sync_sessions_count, bulk_publish_status,
  bulk_publish_start_time, bulk_publish_complete_time, bulk_publish_failure_message`
const OUTBOX_COLUMNS =
  'device_id, dataset, identity_pool_id, identity_id, sync_count, attempts, not_before, expires_at, queued_at'
const USAGE_COLUMNS = `COUNT(*) AS dataset_count, COALESCE(SUM(data_storage), 0) AS data_storage,
  MAX(last_modified_date) AS last_modified_date`

type DatasetParams = [
  identityId: string,
  name: string,
  identityPoolId: string,
  syncCount: number,
  exists: number,
  deletedAtSyncCount: number,
  creationDate: number,
  lastModifiedDate: number,
  lastModifiedBy: string | null,
  numRecords: number,
  dataStorage: number,
  mergedInto: string | null,
]
type RecordParams = [
  identityId: string,
  dataset: string,
  key: string,
  value: string | null,
  syncCount: number,
  lastModifiedDate: number,
  lastModifiedBy: string | null,
  deviceLastModifiedDate: number | null,
]
type DeviceParams = [
  deviceId: string,
  identityPoolId: string,
  identityId: string,
  platform: string,
  token: string,
  createdAt: number,
]
type PoolParams = [
  identityPoolId: string,
  pushSync: string | null,
  cognitoStreams: string | null,
  events: string | null,
  syncSessionsCount: number,
  bulkPublishStatus: string,
  bulkPublishStartTime: number | null,
  bulkPublishCompleteTime: number | null,
  bulkPublishFailureMessage: string | null,
]

type OutboxParams = [
  deviceId: string,
  dataset: string,
  identityPoolId: string,
  identityId: string,
  syncCount: number,
  attempts: number,
  notBefore: number,
  expiresAt: number,
  queuedAt: number,
]

type Statements = ReturnType<typeof prepare>

/** Every statement, prepared once per connection: parsing SQL per call would dominate a small write. */
const prepare = (db: Database.Database) => ({
  begin: db.prepare<[]>('BEGIN IMMEDIATE'),
  commit: db.prepare<[]>('COMMIT'),
  rollback: db.prepare<[]>('ROLLBACK'),

  getSetting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE name = ?'),
  putSetting: db.prepare<[string, string]>(
    'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
  ),

  getIdentity: db.prepare<[string], IdentitySql>(
    'SELECT identity_id, identity_pool_id, created_at, merged_into FROM identities WHERE identity_id = ?',
  ),
  putIdentity: db.prepare<[string, string, number, string | null]>(
    `INSERT INTO identities (identity_id, identity_pool_id, created_at, merged_into) VALUES (?, ?, ?, ?)
     ON CONFLICT (identity_id) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
       created_at = excluded.created_at, merged_into = excluded.merged_into`,
  ),
  findLogin: db.prepare<[string, string, string], LoginSql>(
    `SELECT identity_pool_id, provider, subject, identity_id FROM logins
     WHERE identity_pool_id = ? AND provider = ? AND subject = ?`,
  ),
  putLogin: db.prepare<[string, string, string, string]>(
    `INSERT INTO logins (identity_pool_id, provider, subject, identity_id) VALUES (?, ?, ?, ?)
     ON CONFLICT (identity_pool_id, provider, subject) DO UPDATE SET identity_id = excluded.identity_id`,
  ),
  poolHasIdentities: db.prepare<[string], { one: number }>(
    'SELECT 1 AS one FROM identities WHERE identity_pool_id = ? LIMIT 1',
  ),
  listPoolIds: db.prepare<[number], { identity_pool_id: string }>(
    'SELECT DISTINCT identity_pool_id FROM identities ORDER BY identity_pool_id LIMIT ?',
  ),
  listPoolIdsAfter: db.prepare<[string, number], { identity_pool_id: string }>(
    'SELECT DISTINCT identity_pool_id FROM identities WHERE identity_pool_id > ? ORDER BY identity_pool_id LIMIT ?',
  ),

  getDataset: db.prepare<[string, string], DatasetSql>(
    `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = ? AND name = ?`,
  ),
  putDataset: db.prepare<DatasetParams>(
    `INSERT INTO datasets (${DATASET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (identity_id, name) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
       sync_count = excluded.sync_count, dataset_exists = excluded.dataset_exists,
       deleted_at_sync_count = excluded.deleted_at_sync_count, creation_date = excluded.creation_date,
       last_modified_date = excluded.last_modified_date, last_modified_by = excluded.last_modified_by,
       num_records = excluded.num_records, data_storage = excluded.data_storage, merged_into = excluded.merged_into`,
  ),
  listDatasets: db.prepare<[string, number], DatasetSql>(
    `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = ? AND dataset_exists = 1 ORDER BY name LIMIT ?`,
  ),
  listDatasetsAfter: db.prepare<[string, string, number], DatasetSql>(
    `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = ? AND dataset_exists = 1 AND name > ?
     ORDER BY name LIMIT ?`,
  ),
  listPoolDatasets: db.prepare<[string, number], DatasetSql>(
    `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_pool_id = ? AND dataset_exists = 1
     ORDER BY identity_id, name LIMIT ?`,
  ),
  listPoolDatasetsAfter: db.prepare<[string, string, string, number], DatasetSql>(
    `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_pool_id = ? AND dataset_exists = 1
       AND (identity_id, name) > (?, ?)
     ORDER BY identity_id, name LIMIT ?`,
  ),
  listMergedDatasetNames: db.prepare<[string, string], { name: string }>(
    'SELECT name FROM datasets WHERE identity_id = ? AND dataset_exists = 1 AND merged_into = ? ORDER BY name',
  ),
  identityUsage: db.prepare<[string], UsageSql>(
    `SELECT ${USAGE_COLUMNS} FROM datasets WHERE identity_id = ? AND dataset_exists = 1`,
  ),
  poolUsage: db.prepare<[string], UsageSql>(
    `SELECT ${USAGE_COLUMNS} FROM datasets WHERE identity_pool_id = ? AND dataset_exists = 1`,
  ),

  getRecord: db.prepare<[string, string, string], RecordSql>(
    `SELECT ${RECORD_COLUMNS} FROM records WHERE identity_id = ? AND dataset = ? AND key = ?`,
  ),
  listRecords: db.prepare<[string, string, number, number], RecordSql>(
    `SELECT ${RECORD_COLUMNS} FROM records WHERE identity_id = ? AND dataset = ? AND sync_count > ?
     ORDER BY sync_count, key LIMIT ?`,
  ),
  // A row value comparison, so the index range starts at the cursor instead of filtering up to it.
  listRecordsAfter: db.prepare<[string, string, number, string, number], RecordSql>(
    `SELECT ${RECORD_COLUMNS} FROM records WHERE identity_id = ? AND dataset = ? AND (sync_count, key) > (?, ?)
     ORDER BY sync_count, key LIMIT ?`,
  ),
  putRecord: db.prepare<RecordParams>(
    `INSERT INTO records (identity_id, dataset, ${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (identity_id, dataset, key) DO UPDATE SET value = excluded.value, sync_count = excluded.sync_count,
       last_modified_date = excluded.last_modified_date, last_modified_by = excluded.last_modified_by,
       device_last_modified_date = excluded.device_last_modified_date`,
  ),
  deleteAllRecords: db.prepare<[string, string]>('DELETE FROM records WHERE identity_id = ? AND dataset = ?'),
  // A moved record replaces a target record of the same key.
  copyRecords: db.prepare<[string, string, string, string]>(
    `INSERT INTO records (identity_id, dataset, ${RECORD_COLUMNS})
     SELECT ?, ?, ${RECORD_COLUMNS} FROM records WHERE identity_id = ? AND dataset = ?
     ON CONFLICT (identity_id, dataset, key) DO UPDATE SET value = excluded.value, sync_count = excluded.sync_count,
       last_modified_date = excluded.last_modified_date, last_modified_by = excluded.last_modified_by,
       device_last_modified_date = excluded.device_last_modified_date`,
  ),

  getDevice: db.prepare<[string], DeviceSql>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = ?`),
  findDevice: db.prepare<[string, string, string], DeviceSql>(
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE identity_id = ? AND platform = ? AND token = ?`,
  ),
  putDevice: db.prepare<DeviceParams>(
    `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (device_id) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
       identity_id = excluded.identity_id, platform = excluded.platform, token = excluded.token,
       created_at = excluded.created_at`,
  ),
  deleteDevice: db.prepare<[string]>('DELETE FROM devices WHERE device_id = ?'),
  putSubscription: db.prepare<[string, string, string]>(
    'INSERT INTO subscriptions (identity_id, dataset, device_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  ),
  deleteSubscription: db.prepare<[string, string, string]>(
    'DELETE FROM subscriptions WHERE identity_id = ? AND dataset = ? AND device_id = ?',
  ),
  listSubscribedDevices: db.prepare<[string, string], DeviceSql>(
    `SELECT d.device_id, d.identity_pool_id, d.identity_id, d.platform, d.token, d.created_at FROM subscriptions s
     JOIN devices d ON d.device_id = s.device_id
     WHERE s.identity_id = ? AND s.dataset = ? ORDER BY d.device_id`,
  ),

  isSessionSpent: db.prepare<[string], { token_id: string }>(
    'SELECT token_id FROM spent_sessions WHERE token_id = ?',
  ),
  pruneSessions: db.prepare<[number]>('DELETE FROM spent_sessions WHERE expires_at < ?'),
  spendSession: db.prepare<[string, number]>(
    `INSERT INTO spent_sessions (token_id, expires_at) VALUES (?, ?)
     ON CONFLICT (token_id) DO UPDATE SET expires_at = excluded.expires_at`,
  ),

  getPool: db.prepare<[string], PoolSql>(`SELECT ${POOL_COLUMNS} FROM pools WHERE identity_pool_id = ?`),
  putPool: db.prepare<PoolParams>(
    `INSERT INTO pools (${POOL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (identity_pool_id) DO UPDATE SET push_sync = excluded.push_sync,
       cognito_streams = excluded.cognito_streams, events = excluded.events,
       sync_sessions_count = excluded.sync_sessions_count, bulk_publish_status = excluded.bulk_publish_status,
       bulk_publish_start_time = excluded.bulk_publish_start_time,
       bulk_publish_complete_time = excluded.bulk_publish_complete_time,
       bulk_publish_failure_message = excluded.bulk_publish_failure_message`,
  ),

  // Coalescing: a pending row is replaced only by a newer change of its dataset, keeping the time
  // the first one was queued.
  putOutbox: db.prepare<OutboxParams>(
    `INSERT INTO outbox (${OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (device_id, dataset) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
       identity_id = excluded.identity_id, sync_count = excluded.sync_count, attempts = excluded.attempts,
       not_before = excluded.not_before, expires_at = excluded.expires_at,
       queued_at = MIN(outbox.queued_at, excluded.queued_at)
     WHERE excluded.sync_count > outbox.sync_count`,
  ),
  dueOutbox: db.prepare<[number, number], OutboxSql>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE not_before <= ? ORDER BY not_before, device_id, dataset LIMIT ?`,
  ),
  nextOutboxTime: db.prepare<[], { next: number | null }>('SELECT MIN(not_before) AS next FROM outbox'),
  deleteOutbox: db.prepare<[string, string, number]>(
    'DELETE FROM outbox WHERE device_id = ? AND dataset = ? AND sync_count = ?',
  ),
  rescheduleOutbox: db.prepare<[number, number, string, string, number]>(
    'UPDATE outbox SET attempts = ?, not_before = ? WHERE device_id = ? AND dataset = ? AND sync_count = ?',
  ),
  countOutbox: db.prepare<[], { count: number }>('SELECT COUNT(*) AS count FROM outbox'),
  outboxSummary: db.prepare<[], { rows: number; oldest: number | null }>(
    'SELECT COUNT(*) AS rows, MIN(queued_at) AS oldest FROM outbox',
  ),
  schemaVersion: db.prepare<[], { version: number | null }>(
    'SELECT MAX(version) AS version FROM schema_version',
  ),
})

class SqliteTx implements StoreTx {
  readonly #s: Statements
  #open = true

  constructor(statements: Statements) {
    this.#s = statements
  }

  end(): void {
    this.#open = false
  }

  // A call that outlives its callback (a forgotten await) would otherwise run in the next
  // transaction on the connection, or in none.
  #check(): void {
    if (!this.#open) throw new Error('The transaction has ended; a store call ran after its callback settled')
  }

  async getSetting(name: string): Promise<string | undefined> {
    this.#check()
    return this.#s.getSetting.get(name)?.value
  }

  async putSetting(name: string, value: string): Promise<void> {
    this.#check()
    this.#s.putSetting.run(name, value)
  }

  async getIdentity(identityId: string): Promise<IdentityRow | undefined> {
    this.#check()
    const row = this.#s.getIdentity.get(identityId)
    return (
      row && {
        identityId: row.identity_id,
        identityPoolId: row.identity_pool_id,
        createdAt: row.created_at,
        mergedInto: row.merged_into,
      }
    )
  }

  async putIdentity(row: IdentityRow): Promise<void> {
    this.#check()
    this.#s.putIdentity.run(row.identityId, row.identityPoolId, row.createdAt, row.mergedInto)
  }

  async findLogin(identityPoolId: string, provider: string, subject: string): Promise<LoginRow | undefined> {
    this.#check()
    const row = this.#s.findLogin.get(identityPoolId, provider, subject)
    return (
      row && {
        identityPoolId: row.identity_pool_id,
        provider: row.provider,
        subject: row.subject,
        identityId: row.identity_id,
      }
    )
  }

  async putLogin(row: LoginRow): Promise<void> {
    this.#check()
    this.#s.putLogin.run(row.identityPoolId, row.provider, row.subject, row.identityId)
  }

  async poolHasIdentities(identityPoolId: string): Promise<boolean> {
    this.#check()
    return this.#s.poolHasIdentities.get(identityPoolId) !== undefined
  }

  async listPoolIds(query: { readonly afterPoolId?: string; readonly limit?: number }): Promise<string[]> {
    this.#check()
    const limit = pageSize(query.limit)
    const rows =
      query.afterPoolId === undefined
        ? this.#s.listPoolIds.all(limit)
        : this.#s.listPoolIdsAfter.all(query.afterPoolId, limit)
    return rows.map((row) => row.identity_pool_id)
  }

  async getDataset(identityId: string, name: string): Promise<DatasetRow | undefined> {
    this.#check()
    const row = this.#s.getDataset.get(identityId, name)
    return row && toDataset(row)
  }

  async listDatasets(identityId: string, query: ListDatasetsQuery = {}): Promise<DatasetRow[]> {
    this.#check()
    const limit = pageSize(query.limit)
    const rows =
      query.afterName === undefined
        ? this.#s.listDatasets.all(identityId, limit)
        : this.#s.listDatasetsAfter.all(identityId, query.afterName, limit)
    return rows.map(toDataset)
  }

  async putDataset(row: DatasetRow): Promise<void> {
    this.#check()
    this.#s.putDataset.run(
      row.identityId,
      row.name,
      row.identityPoolId,
      row.syncCount,
      row.exists ? 1 : 0,
      row.deletedAtSyncCount,
      row.creationDate,
      row.lastModifiedDate,
      row.lastModifiedBy,
      row.numRecords,
      row.dataStorage,
      row.mergedInto,
    )
  }

  async listPoolDatasets(
    identityPoolId: string,
    query: {
      readonly after?: { readonly identityId: string; readonly name: string }
      readonly limit?: number
    },
  ): Promise<DatasetRow[]> {
    this.#check()
    const { after } = query
    const limit = pageSize(query.limit)
    const rows =
      after === undefined
        ? this.#s.listPoolDatasets.all(identityPoolId, limit)
        : this.#s.listPoolDatasetsAfter.all(identityPoolId, after.identityId, after.name, limit)
    return rows.map(toDataset)
  }

  async listMergedDatasetNames(identityId: string, name: string): Promise<string[]> {
    this.#check()
    return this.#s.listMergedDatasetNames.all(identityId, name).map((row) => row.name)
  }

  async identityUsage(identityId: string): Promise<UsageRow> {
    this.#check()
    return toUsage(this.#s.identityUsage.get(identityId))
  }

  async poolUsage(identityPoolId: string): Promise<UsageRow> {
    this.#check()
    return toUsage(this.#s.poolUsage.get(identityPoolId))
  }

  async getRecords(identityId: string, dataset: string, keys: readonly string[]): Promise<RecordRow[]> {
    this.#check()
    // One indexed lookup per key reuses a single prepared statement, where `IN (...)` would need a
    // statement per key count.
    const rows: RecordRow[] = []
    for (const key of new Set(keys)) {
      const row = this.#s.getRecord.get(identityId, dataset, key)
      if (row !== undefined) rows.push(toRecord(row))
    }
    return rows
  }

  async listRecords(identityId: string, dataset: string, query: ListRecordsQuery): Promise<RecordRow[]> {
    this.#check()
    const { afterSyncCount, after } = query
    const limit = pageSize(query.limit)
    // Every row past a cursor at or above the floor is above the floor; a cursor below the floor
    // excludes nothing the floor keeps.
    const rows =
      after !== undefined && after.syncCount >= afterSyncCount
        ? this.#s.listRecordsAfter.all(identityId, dataset, after.syncCount, after.key, limit)
        : this.#s.listRecords.all(identityId, dataset, afterSyncCount, limit)
    return rows.map(toRecord)
  }

  async putRecords(identityId: string, dataset: string, rows: readonly RecordRow[]): Promise<void> {
    this.#check()
    for (const row of rows) {
      this.#s.putRecord.run(
        identityId,
        dataset,
        row.key,
        row.value,
        row.syncCount,
        row.lastModifiedDate,
        row.lastModifiedBy,
        row.deviceLastModifiedDate,
      )
    }
  }

  async deleteAllRecords(identityId: string, dataset: string): Promise<void> {
    this.#check()
    this.#s.deleteAllRecords.run(identityId, dataset)
  }

  async moveRecords(
    from: { identityId: string; dataset: string },
    to: { identityId: string; dataset: string },
  ): Promise<void> {
    this.#check()
    // Copy-then-delete would delete everything when moving a dataset onto itself.
    if (from.identityId === to.identityId && from.dataset === to.dataset) return
    this.#s.copyRecords.run(to.identityId, to.dataset, from.identityId, from.dataset)
    this.#s.deleteAllRecords.run(from.identityId, from.dataset)
  }

  async getDevice(deviceId: string): Promise<DeviceRow | undefined> {
    this.#check()
    const row = this.#s.getDevice.get(deviceId)
    return row && toDevice(row)
  }

  async findDevice(
    identityId: string,
    platform: DevicePlatform,
    token: string,
  ): Promise<DeviceRow | undefined> {
    this.#check()
    const row = this.#s.findDevice.get(identityId, platform, token)
    return row && toDevice(row)
  }

  async putDevice(row: DeviceRow): Promise<void> {
    this.#check()
    this.#s.putDevice.run(
      row.deviceId,
      row.identityPoolId,
      row.identityId,
      row.platform,
      row.token,
      row.createdAt,
    )
  }

  async deleteDevice(deviceId: string): Promise<void> {
    this.#check()
    this.#s.deleteDevice.run(deviceId)
  }

  async putSubscription(identityId: string, dataset: string, deviceId: string): Promise<void> {
    this.#check()
    this.#s.putSubscription.run(identityId, dataset, deviceId)
  }

  async deleteSubscription(identityId: string, dataset: string, deviceId: string): Promise<boolean> {
    this.#check()
    return this.#s.deleteSubscription.run(identityId, dataset, deviceId).changes > 0
  }

  async listSubscribedDevices(identityId: string, dataset: string): Promise<DeviceRow[]> {
    this.#check()
    return this.#s.listSubscribedDevices.all(identityId, dataset).map(toDevice)
  }

  async isSessionSpent(tokenId: string): Promise<boolean> {
    this.#check()
    return this.#s.isSessionSpent.get(tokenId) !== undefined
  }

  async spendSession(tokenId: string, expiresAt: number, now: number): Promise<void> {
    this.#check()
    // A token expiring exactly now may still be accepted by a `now <= expiry` check, so only
    // entries strictly in the past are dropped.
    this.#s.pruneSessions.run(now)
    this.#s.spendSession.run(tokenId, expiresAt)
  }

  async getPool(identityPoolId: string): Promise<PoolRow | undefined> {
    this.#check()
    const row = this.#s.getPool.get(identityPoolId)
    return (
      row && {
        identityPoolId: row.identity_pool_id,
        pushSync: row.push_sync,
        cognitoStreams: row.cognito_streams,
        events: row.events,
        syncSessionsCount: row.sync_sessions_count,
        bulkPublishStatus: row.bulk_publish_status,
        bulkPublishStartTime: row.bulk_publish_start_time,
        bulkPublishCompleteTime: row.bulk_publish_complete_time,
        bulkPublishFailureMessage: row.bulk_publish_failure_message,
      }
    )
  }

  async putPool(row: PoolRow): Promise<void> {
    this.#check()
    this.#s.putPool.run(
      row.identityPoolId,
      row.pushSync,
      row.cognitoStreams,
      row.events,
      row.syncSessionsCount,
      row.bulkPublishStatus,
      row.bulkPublishStartTime,
      row.bulkPublishCompleteTime,
      row.bulkPublishFailureMessage,
    )
  }

  async putOutbox(rows: readonly OutboxRow[]): Promise<void> {
    this.#check()
    for (const row of rows) {
      this.#s.putOutbox.run(
        row.deviceId,
        row.datasetName,
        row.identityPoolId,
        row.identityId,
        row.syncCount,
        row.attempts,
        row.notBefore,
        row.expiresAt,
        row.queuedAt,
      )
    }
  }

  async dueOutbox(now: number, limit: number): Promise<OutboxRow[]> {
    this.#check()
    return this.#s.dueOutbox.all(now, pageSize(limit)).map(toOutbox)
  }

  async nextOutboxTime(): Promise<number | undefined> {
    this.#check()
    return this.#s.nextOutboxTime.get()?.next ?? undefined
  }

  async deleteOutbox(deviceId: string, datasetName: string, syncCount: number): Promise<boolean> {
    this.#check()
    return this.#s.deleteOutbox.run(deviceId, datasetName, syncCount).changes > 0
  }

  async rescheduleOutbox(
    deviceId: string,
    datasetName: string,
    syncCount: number,
    attempts: number,
    notBefore: number,
  ): Promise<boolean> {
    this.#check()
    return this.#s.rescheduleOutbox.run(attempts, notBefore, deviceId, datasetName, syncCount).changes > 0
  }

  async countOutbox(): Promise<number> {
    this.#check()
    return this.#s.countOutbox.get()?.count ?? 0
  }

  async outboxSummary(): Promise<OutboxSummary> {
    this.#check()
    const row = this.#s.outboxSummary.get()
    return { rows: row?.rows ?? 0, oldestQueuedAt: row?.oldest ?? undefined }
  }
}

/**
 * `undefined` is no limit; a negative one returns nothing, like a limit of 0. (SQLite reads a
 * negative LIMIT as none, and LIMIT takes integers only.)
 */
const pageSize = (limit: number | undefined): number =>
  limit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.trunc(limit))

const toDataset = (row: DatasetSql): DatasetRow => ({
  identityPoolId: row.identity_pool_id,
  identityId: row.identity_id,
  name: row.name,
  syncCount: row.sync_count,
  exists: row.dataset_exists === 1,
  deletedAtSyncCount: row.deleted_at_sync_count,
  creationDate: row.creation_date,
  lastModifiedDate: row.last_modified_date,
  lastModifiedBy: row.last_modified_by,
  numRecords: row.num_records,
  dataStorage: row.data_storage,
  mergedInto: row.merged_into,
})

const toRecord = (row: RecordSql): RecordRow => ({
  key: row.key,
  value: row.value,
  syncCount: row.sync_count,
  lastModifiedDate: row.last_modified_date,
  lastModifiedBy: row.last_modified_by,
  deviceLastModifiedDate: row.device_last_modified_date,
})

const toDevice = (row: DeviceSql): DeviceRow => ({
  deviceId: row.device_id,
  identityPoolId: row.identity_pool_id,
  identityId: row.identity_id,
  platform: row.platform,
  token: row.token,
  createdAt: row.created_at,
})

// An aggregate always yields one row; the fallback only satisfies the types.
const toUsage = (row: UsageSql | undefined): UsageRow => ({
  datasetCount: row?.dataset_count ?? 0,
  dataStorage: row?.data_storage ?? 0,
  lastModifiedDate: row?.last_modified_date ?? null,
})

const toOutbox = (row: OutboxSql): OutboxRow => ({
  deviceId: row.device_id,
  identityPoolId: row.identity_pool_id,
  identityId: row.identity_id,
  datasetName: row.dataset,
  syncCount: row.sync_count,
  attempts: row.attempts,
  notBefore: row.not_before,
  expiresAt: row.expires_at,
  queuedAt: row.queued_at,
})
