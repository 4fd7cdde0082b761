import { createHash, randomUUID } from 'node:crypto'
import pg, { type PoolClient, type PoolConfig, type QueryResult, type QueryResultRow } from 'pg'
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
  StoreBus,
  StoreReadiness,
  StoreTx,
  SyncStore,
  TransactionOptions,
  UsageRow,
} from './contract.js'

/**
 * The schema, one entry per version, numbered like the SQLite store's; a database at version N runs
 * entries N+1.. on open. Append only: an applied migration never changes.
 *
 * Text columns use the "C" collation, so keys, names and ids sort by code point (UTF-8 byte order),
 * as they do in SQLite, whatever the database's default collation. Counts and times are BIGINT.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE settings (
      name TEXT COLLATE "C" PRIMARY KEY,
      value TEXT NOT NULL
    )`,
    `CREATE TABLE identities (
      identity_id TEXT COLLATE "C" PRIMARY KEY,
      identity_pool_id TEXT COLLATE "C" NOT NULL,
      created_at BIGINT NOT NULL,
      merged_into TEXT COLLATE "C"
    )`,
    'CREATE INDEX identities_by_pool ON identities (identity_pool_id)',
    `CREATE TABLE logins (
      identity_pool_id TEXT COLLATE "C" NOT NULL,
      provider TEXT COLLATE "C" NOT NULL,
      subject TEXT COLLATE "C" NOT NULL,
      identity_id TEXT COLLATE "C" NOT NULL,
      PRIMARY KEY (identity_pool_id, provider, subject)
    )`,
    `CREATE TABLE datasets (
      identity_id TEXT COLLATE "C" NOT NULL,
      name TEXT COLLATE "C" NOT NULL,
      identity_pool_id TEXT COLLATE "C" NOT NULL,
      sync_count BIGINT NOT NULL,
      dataset_exists BOOLEAN NOT NULL,
      deleted_at_sync_count BIGINT NOT NULL,
      creation_date BIGINT NOT NULL,
      last_modified_date BIGINT NOT NULL,
      last_modified_by TEXT,
      num_records BIGINT NOT NULL,
      data_storage BIGINT NOT NULL,
      merged_into TEXT COLLATE "C",
      PRIMARY KEY (identity_id, name)
    )`,
    // Pool usage and bulk publish read a pool's datasets in (identity_id, name) order.
    'CREATE INDEX datasets_by_pool ON datasets (identity_pool_id, identity_id, name)',
    `CREATE TABLE records (
      identity_id TEXT COLLATE "C" NOT NULL,
      dataset TEXT COLLATE "C" NOT NULL,
      key TEXT COLLATE "C" NOT NULL,
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
      device_id TEXT COLLATE "C" PRIMARY KEY,
      identity_pool_id TEXT COLLATE "C" NOT NULL,
      identity_id TEXT COLLATE "C" NOT NULL,
      platform TEXT COLLATE "C" NOT NULL,
      token TEXT COLLATE "C" NOT NULL,
      created_at BIGINT NOT NULL,
      UNIQUE (identity_id, platform, token)
    )`,
    // The cascade is what makes deleting a device drop its subscriptions.
    `CREATE TABLE subscriptions (
      identity_id TEXT COLLATE "C" NOT NULL,
      dataset TEXT COLLATE "C" NOT NULL,
      device_id TEXT COLLATE "C" NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
      PRIMARY KEY (identity_id, dataset, device_id)
    )`,
    'CREATE INDEX subscriptions_by_device ON subscriptions (device_id)',
    `CREATE TABLE spent_sessions (
      token_id TEXT COLLATE "C" PRIMARY KEY,
      expires_at BIGINT NOT NULL
    )`,
    'CREATE INDEX spent_sessions_by_expiry ON spent_sessions (expires_at)',
    `CREATE TABLE pools (
      identity_pool_id TEXT COLLATE "C" PRIMARY KEY,
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
  // Push delivery: one pending push per (device, dataset), as in SQLite, plus the claim a dispatcher
  // takes on the rows it is delivering, so that the dispatcher of another process leaves them alone.
  [
    `CREATE TABLE outbox (
      device_id TEXT COLLATE "C" NOT NULL,
      dataset TEXT COLLATE "C" NOT NULL,
      identity_pool_id TEXT COLLATE "C" NOT NULL,
      identity_id TEXT COLLATE "C" NOT NULL,
      sync_count BIGINT NOT NULL,
      attempts INTEGER NOT NULL,
      not_before BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      claimed_by TEXT,
      claimed_until BIGINT,
      PRIMARY KEY (device_id, dataset)
    )`,
    // The dispatcher reads due rows in (not_before, device_id, dataset) order.
    'CREATE INDEX outbox_by_time ON outbox (not_before, device_id, dataset)',
  ],
  // When each pending push was first queued, for the outbox's age, as in SQLite: rows already
  // waiting get it back from their expiry (of the default TTL) or their not_before.
  [
    'ALTER TABLE outbox ADD COLUMN queued_at BIGINT NOT NULL DEFAULT 0',
    'UPDATE outbox SET queued_at = LEAST(not_before, expires_at - 86400000)',
    'ALTER TABLE outbox ALTER COLUMN queued_at DROP DEFAULT',
  ],
]

/** The schema version this code writes; `schema_version` holds one row per applied migration. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length

export interface PostgresStoreOptions {
  /**
   * How long outbox rows handed out by `dueOutbox` stay claimed by this store, in the dispatcher's
   * clock: the dispatcher of another process skips them meanwhile. Settling a row (delete or
   * reschedule) or closing the store releases the claim; a claim of a process that died lapses after
   * this time. Default 5 minutes.
   */
  readonly outboxLeaseMs?: number
  /** The LISTEN/NOTIFY channel of the store's bus (default `pushsync_changes`). */
  readonly busChannel?: string
}

export const DEFAULT_OUTBOX_LEASE_MS = 5 * 60 * 1000

/**
 * The PostgreSQL store on a `pg` connection pool, for one or several server processes sharing a
 * database. Opening it applies the migrations, once, whoever opens the database at the same time.
 *
 * `connection` is a `postgres://` URL or `pg` pool options. A URL may carry `max`, the pool size
 * (default 10); anything else in it is read by `pg` (host, port, database, user, password,
 * `sslmode`, `options=-c search_path=...`, `application_name`).
 *
 * Every transaction runs on one connection, at READ COMMITTED, and rolls back entirely when its
 * callback rejects. Transactions naming the same identity in `lock` take
 * `pg_advisory_xact_lock(hash of the identity)` before anything else, so they never overlap, in this
 * process or another; within a process they also start in the order they were asked for. Reading a
 * pool row or a setting locks that row's name the same way until the transaction ends, so that a
 * read-modify-write of these rows shared by many identities (a pool's SyncSessionsCount, the token
 * secret) is not lost either. Other transactions run side by side, up to the pool's size.
 *
 * PostgreSQL text cannot hold U+0000, which keys, values and names may contain: text is stored with
 * U+0000 written as U+0001 U+0001 and U+0001 as U+0001 U+0002, an escape that keeps code point order.
 */
export async function openPostgresStore(
  connection: string | PoolConfig,
  options: PostgresStoreOptions = {},
): Promise<SyncStore> {
  const leaseMs = options.outboxLeaseMs ?? DEFAULT_OUTBOX_LEASE_MS
  if (!Number.isSafeInteger(leaseMs) || leaseMs <= 0) {
    throw new RangeError(`outboxLeaseMs must be a positive integer, not ${leaseMs}`)
  }
  const pool = new pg.Pool(poolConfig(connection))
  // A connection that breaks while idle in the pool is dropped from it and replaced on next use; an
  // 'error' event without a listener would end the process instead.
  pool.on('error', () => {})
  try {
    await migrate(pool)
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw error
  }

  // The id under which this store claims outbox rows, and signs what it publishes on the bus.
  const claimer = randomUUID()
  const bus = createNotifyBus(connection, options.busChannel ?? 'pushsync_changes', claimer, pool)
  // Per lock name, the last transaction asked for: the next one waits for it.
  const tails = new Map<string, Promise<unknown>>()
  const running = new Set<Promise<unknown>>()
  let closed = false
  let closing: Promise<void> | undefined

  const run = async <T>(fn: (tx: StoreTx) => Promise<T>, locks: readonly string[]): Promise<T> => {
    const client = await pool.connect()
    let broken: Error | undefined
    // The connection may fail while the callback awaits something else: without a listener, that
    // 'error' event would end the process. The next statement fails, and the connection is dropped.
    const onError = (error: Error): void => {
      broken = error
    }
    client.on('error', onError)
    try {
      await client.query('BEGIN').catch((error: Error) => {
        broken = error
        throw error
      })
      const tx = new PostgresTx(client, claimer, leaseMs)
      let result: T
      try {
        // Always in one order (sorted), so two transactions locking the same identities cannot deadlock.
        for (const name of locks) await tx.lock('identity', name)
        result = await fn(tx)
      } catch (error) {
        tx.end()
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          // PostgreSQL rolls back the transaction of a connection that goes away.
          broken = rollbackError
        })
        throw error
      }
      tx.end()
      try {
        await client.query('COMMIT')
      } catch (error) {
        broken = error as Error
        throw error
      }
      return result
    } finally {
      client.off('error', onError)
      // A connection whose state is unknown is closed rather than handed to the next transaction.
      client.release(broken)
    }
  }

  const track = <T>(promise: Promise<T>): Promise<T> => {
    running.add(promise)
    const settled = (): void => {
      running.delete(promise)
    }
    promise.then(settled, settled)
    return promise
  }

  return {
    kind: 'postgres',
    transaction<T>(fn: (tx: StoreTx) => Promise<T>, txOptions: TransactionOptions = {}): Promise<T> {
      if (closed) return Promise.reject(new Error('The store is closed'))
      const locks = lockNames(txOptions.lock)
      if (locks.length === 0) return track(run(fn, locks))
      // Queued here as well as locked in PostgreSQL: transactions of one identity start in the order
      // they were asked for, and do not hold connections of the pool while they wait for each other.
      const previous = Promise.all(locks.map((name) => tails.get(name)))
      const result = previous.then(() => run(fn, locks))
      const tail = result.catch(() => undefined)
      for (const name of locks) tails.set(name, tail)
      void tail.then(() => {
        for (const name of locks) if (tails.get(name) === tail) tails.delete(name)
      })
      return track(result)
    },
    bus: bus.bus,
    async readiness(): Promise<StoreReadiness> {
      if (closed) return { ready: false, reason: 'the store is closed' }
      let version: number
      try {
        // One statement through the pool, outside any transaction and lock.
        const row = (
          await pool.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_version')
        ).rows[0]
        version = row?.version ?? 0
      } catch (error) {
        return { ready: false, reason: `the database does not answer: ${(error as Error).message}` }
      }
      if (version !== POSTGRES_SCHEMA_VERSION)
        return { ready: false, reason: `the schema is at version ${version}, not ${POSTGRES_SCHEMA_VERSION}` }
      if (bus.state() === 'down') return { ready: false, reason: 'the change bus is not listening' }
      return { ready: true }
    },
    close(): Promise<void> {
      closed = true
      closing ??= (async () => {
        await bus.close()
        while (running.size > 0) await Promise.allSettled([...running])
        // Another process may deliver what this one had claimed without waiting for the lease.
        await pool
          .query('UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1', [claimer])
          .catch(() => undefined)
        await pool.end()
      })()
      return closing
    },
  }
}

/** NOTIFY carries at most 8000 bytes; a message near that is dropped rather than cut. */
const MAX_NOTIFY_BYTES = 7900

/**
 * The bus over LISTEN/NOTIFY. Publishing is one `pg_notify` through the pool; listening holds one
 * connection of its own, opened on the first subscriber and reopened (after a pause) when it
 * breaks. Messages are signed with the store's id, so a process does not hear itself.
 */
function createNotifyBus(
  connection: string | PoolConfig,
  channel: string,
  origin: string,
  pool: pg.Pool,
): { bus: StoreBus; state(): 'idle' | 'listening' | 'down'; close(): Promise<void> } {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel))
    throw new Error(`busChannel must be a lowercase SQL name, not ${channel}`)
  const listeners = new Set<(message: string) => void>()
  let client: pg.Client | undefined
  /** Whether `client` has run its LISTEN and not broken since. */
  let listeningNow = false
  let closed = false
  let retry: ReturnType<typeof setTimeout> | undefined
  let firstAttempt: (() => void) | undefined
  const listening = new Promise<void>((resolve) => {
    firstAttempt = resolve
  })

  const listen = async (): Promise<void> => {
    if (closed || client !== undefined) return
    const next = new pg.Client(poolConfig(connection))
    client = next
    const reopen = () => {
      if (client !== next) return
      client = undefined
      listeningNow = false
      next.end().catch(() => undefined)
      if (!closed && listeners.size > 0) retry = setTimeout(() => void listen(), 1000)
    }
    next.on('error', reopen)
    next.on('end', reopen)
    next.on('notification', (notification) => {
      const payload = notification.payload ?? ''
      const space = payload.indexOf(' ')
      if (notification.channel !== channel || space < 0 || payload.slice(0, space) === origin) return
      const message = payload.slice(space + 1)
      for (const listener of [...listeners]) {
        try {
          listener(message)
        } catch {
          // One subscriber's failure is not another's.
        }
      }
    })
    try {
      await next.connect()
      await next.query(`LISTEN ${channel}`)
      if (client === next) listeningNow = true
    } catch {
      reopen()
    } finally {
      firstAttempt?.()
    }
  }

  return {
    bus: {
      publish(message) {
        const payload = `${origin} ${message}`
        if (closed || Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) return
        pool.query('SELECT pg_notify($1, $2)', [channel, payload]).catch(() => undefined)
      },
      subscribe(listener) {
        listeners.add(listener)
        void listen()
        return () => void listeners.delete(listener)
      },
      listening: () => listening,
    },
    // Without subscribers nothing needs the bus to listen; with some, a broken connection is down
    // until it is reopened.
    state: () => (listeners.size === 0 ? 'idle' : listeningNow ? 'listening' : 'down'),
    async close() {
      closed = true
      firstAttempt?.()
      if (retry !== undefined) clearTimeout(retry)
      const open = client
      client = undefined
      await open?.end().catch(() => undefined)
    },
  }
}

/** Pool options from a URL (its `max` parameter taken out) or from options as they are. */
function poolConfig(connection: string | PoolConfig): PoolConfig {
  const defaults = { application_name: 'pushsync-server', connectionTimeoutMillis: 10_000 }
  if (typeof connection !== 'string') return { ...defaults, ...connection }
  let connectionString = connection
  let max: number | undefined
  if (/[?&]max=/.test(connection)) {
    const url = new URL(connection)
    const text = url.searchParams.get('max') ?? ''
    if (!/^[1-9]\d{0,3}$/.test(text)) throw new Error(`The max parameter must be a pool size, not ${text}`)
    max = Number(text)
    url.searchParams.delete('max')
    connectionString = url.toString()
  }
  return { ...defaults, connectionString, ...(max === undefined ? {} : { max }) }
}

const migrate = async (pool: pg.Pool): Promise<void> => {
  const client = await pool.connect()
  let broken: Error | undefined
  const onError = (error: Error): void => {
    broken = error
  }
  client.on('error', onError)
  try {
    const encoding = (await client.query<{ server_encoding: string }>('SHOW server_encoding')).rows[0]
    if (encoding?.server_encoding !== 'UTF8') {
      throw new Error(
        `The database's encoding is ${encoding?.server_encoding}; the store needs a UTF8 database`,
      )
    }
    await client.query('BEGIN')
    try {
      // Two processes opening a new database at once: the second waits here, then finds the
      // migrations applied.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey('migrate', 'schema')])
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
      )
      const current = (
        await client.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_version')
      ).rows[0]?.version
      const version = current ?? 0
      if (version > POSTGRES_SCHEMA_VERSION) {
        throw new Error(
          `The database has schema version ${version}, newer than this server's ${POSTGRES_SCHEMA_VERSION}; upgrade the server`,
        )
      }
      for (let v = version + 1; v <= POSTGRES_SCHEMA_VERSION; v++) {
        for (const sql of MIGRATIONS[v - 1] ?? []) await client.query(sql)
        await client.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [
          v,
          Date.now(),
        ])
      }
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError
      })
      throw error
    }
  } finally {
    client.off('error', onError)
    client.release(broken)
  }
}

/** The identities a transaction locks, without repeats, in one order for every transaction. */
const lockNames = (lock: TransactionOptions['lock']): string[] =>
  lock === undefined ? [] : [...new Set(typeof lock === 'string' ? [lock] : lock)].sort()

/**
 * The advisory lock key of a name: 64 bits of its SHA-256, so that any string maps to a key and
 * two names share one only by a collision, which costs waiting, never correctness.
 */
const lockKey = (space: string, name: string): string =>
  createHash('sha256').update(`pushsync\u0000${space}\u0000${name}`).digest().readBigInt64BE(0).toString()

/** Text as stored: U+0000 and U+0001 escaped behind U+0001, in an order-preserving way. */
const enc = (text: string): string =>
  text.includes('\u0000') || text.includes('\u0001')
    ? text.replaceAll('\u0001', '\u0001\u0002').replaceAll('\u0000', '\u0001\u0001')
    : text

const encN = (text: string | null): string | null => (text === null ? null : enc(text))

/** Text as read: the escapes of `enc` undone. */
const dec = (text: string): string => {
  if (!text.includes('\u0001')) return text
  let out = ''
  let start = 0
  for (let at = text.indexOf('\u0001'); at !== -1; at = text.indexOf('\u0001', start)) {
    out += text.slice(start, at) + (text[at + 1] === '\u0001' ? '\u0000' : '\u0001')
    start = at + 2
  }
  return out + text.slice(start)
}

const decN = (text: string | null): string | null => (text === null ? null : dec(text))

/** `pg` hands BIGINT (and COUNT, SUM::bigint) over as strings; every value here is a safe integer. */
type Int = string | number
const int = (value: Int): number => (typeof value === 'number' ? value : Number(value))
const intN = (value: Int | null): number | null => (value === null ? null : int(value))

// Column names as SQL returns them.

interface IdentitySql {
  identity_id: string
  identity_pool_id: string
  created_at: Int
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
  sync_count: Int
  dataset_exists: boolean
  deleted_at_sync_count: Int
  creation_date: Int
  last_modified_date: Int
  last_modified_by: string | null
  num_records: Int
  data_storage: Int
  merged_into: string | null
}

interface RecordSql {
  key: string
  value: string | null
  sync_count: Int
  last_modified_date: Int
  last_modified_by: string | null
  device_last_modified_date: Int | null
}

interface DeviceSql {
  device_id: string
  identity_pool_id: string
  identity_id: string
  platform: string
  token: string
  created_at: Int
}

interface PoolSql {
  identity_pool_id: string
  push_sync: string | null
  cognito_streams: string | null
  events: string | null
  sync_sessions_count: Int
  bulk_publish_status: string
  bulk_publish_start_time: Int | null
  bulk_publish_complete_time: Int | null
  bulk_publish_failure_message: string | null
}

interface OutboxSql {
  device_id: string
  dataset: string
  identity_pool_id: string
  identity_id: string
  sync_count: Int
  attempts: number
  not_before: Int
  expires_at: Int
  queued_at: Int
}

interface UsageSql {
  dataset_count: Int
  data_storage: Int
  last_modified_date: Int | null
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
const USAGE_COLUMNS = `COUNT(*) AS dataset_count, COALESCE(SUM(data_storage), 0)::bigint AS data_storage,
  MAX(last_modified_date) AS last_modified_date`
const RECORD_UPSERT = `ON CONFLICT (identity_id, dataset, key) DO UPDATE SET value = excluded.value,
  sync_count = excluded.sync_count, last_modified_date = excluded.last_modified_date,
  last_modified_by = excluded.last_modified_by, device_last_modified_date = excluded.device_last_modified_date`

const SQL = {
  lock: 'SELECT pg_advisory_xact_lock($1::bigint)',
  getSetting: 'SELECT value FROM settings WHERE name = $1',
  putSetting:
    'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value',

  getIdentity:
    'SELECT identity_id, identity_pool_id, created_at, merged_into FROM identities WHERE identity_id = $1',
  putIdentity: `INSERT INTO identities (identity_id, identity_pool_id, created_at, merged_into) VALUES ($1, $2, $3, $4)
    ON CONFLICT (identity_id) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
      created_at = excluded.created_at, merged_into = excluded.merged_into`,
  findLogin: `SELECT identity_pool_id, provider, subject, identity_id FROM logins
    WHERE identity_pool_id = $1 AND provider = $2 AND subject = $3`,
  putLogin: `INSERT INTO logins (identity_pool_id, provider, subject, identity_id) VALUES ($1, $2, $3, $4)
    ON CONFLICT (identity_pool_id, provider, subject) DO UPDATE SET identity_id = excluded.identity_id`,
  poolHasIdentities: 'SELECT 1 AS one FROM identities WHERE identity_pool_id = $1 LIMIT 1',
  listPoolIds: 'SELECT DISTINCT identity_pool_id FROM identities ORDER BY identity_pool_id LIMIT $1',
  listPoolIdsAfter: `SELECT DISTINCT identity_pool_id FROM identities WHERE identity_pool_id > $1
    ORDER BY identity_pool_id LIMIT $2`,

  getDataset: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = $1 AND name = $2`,
  putDataset: `INSERT INTO datasets (${DATASET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
    ON CONFLICT (identity_id, name) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
      sync_count = excluded.sync_count, dataset_exists = excluded.dataset_exists,
      deleted_at_sync_count = excluded.deleted_at_sync_count, creation_date = excluded.creation_date,
      last_modified_date = excluded.last_modified_date, last_modified_by = excluded.last_modified_by,
      num_records = excluded.num_records, data_storage = excluded.data_storage, merged_into = excluded.merged_into`,
  listDatasets: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = $1 AND dataset_exists
    ORDER BY name LIMIT $2`,
  listDatasetsAfter: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = $1 AND dataset_exists AND name > $2
    ORDER BY name LIMIT $3`,
  listPoolDatasets: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_pool_id = $1 AND dataset_exists
    ORDER BY identity_id, name LIMIT $2`,
  listPoolDatasetsAfter: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_pool_id = $1 AND dataset_exists
      AND (identity_id, name) > ($2, $3)
    ORDER BY identity_id, name LIMIT $4`,
  listMergedDatasetNames: `SELECT name FROM datasets WHERE identity_id = $1 AND dataset_exists AND merged_into = $2
    ORDER BY name`,
  identityUsage: `SELECT ${USAGE_COLUMNS} FROM datasets WHERE identity_id = $1 AND dataset_exists`,
  poolUsage: `SELECT ${USAGE_COLUMNS} FROM datasets WHERE identity_pool_id = $1 AND dataset_exists`,

  getRecords: `SELECT ${RECORD_COLUMNS} FROM records WHERE identity_id = $1 AND dataset = $2 AND key = ANY ($3::text[])`,
  listRecords: `SELECT ${RECORD_COLUMNS} FROM records WHERE identity_id = $1 AND dataset = $2 AND sync_count > $3
    ORDER BY sync_count, key LIMIT $4`,
  // A row value comparison, so the index range starts at the cursor instead of filtering up to it.
  listRecordsAfter: `SELECT ${RECORD_COLUMNS} FROM records
    WHERE identity_id = $1 AND dataset = $2 AND (sync_count, key) > ($3::bigint, $4)
    ORDER BY sync_count, key LIMIT $5`,
  // One statement for the whole batch, its columns as arrays.
  putRecords: `INSERT INTO records (identity_id, dataset, ${RECORD_COLUMNS})
    SELECT $1::text, $2::text, r.* FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[]) AS r
    ${RECORD_UPSERT}`,
  deleteAllRecords: 'DELETE FROM records WHERE identity_id = $1 AND dataset = $2',
  // A moved record replaces a target record of the same key.
  copyRecords: `INSERT INTO records (identity_id, dataset, ${RECORD_COLUMNS})
    SELECT $1, $2, ${RECORD_COLUMNS} FROM records WHERE identity_id = $3 AND dataset = $4
    ${RECORD_UPSERT}`,

  getDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = $1`,
  findDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE identity_id = $1 AND platform = $2 AND token = $3`,
  putDevice: `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (device_id) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
      identity_id = excluded.identity_id, platform = excluded.platform, token = excluded.token,
      created_at = excluded.created_at`,
  deleteDevice: 'DELETE FROM devices WHERE device_id = $1',
  putSubscription:
    'INSERT INTO subscriptions (identity_id, dataset, device_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  deleteSubscription: 'DELETE FROM subscriptions WHERE identity_id = $1 AND dataset = $2 AND device_id = $3',
  listSubscribedDevices: `SELECT d.device_id, d.identity_pool_id, d.identity_id, d.platform, d.token, d.created_at
    FROM subscriptions s JOIN devices d ON d.device_id = s.device_id
    WHERE s.identity_id = $1 AND s.dataset = $2 ORDER BY d.device_id`,

  isSessionSpent: 'SELECT token_id FROM spent_sessions WHERE token_id = $1',
  pruneSessions: 'DELETE FROM spent_sessions WHERE expires_at < $1',
  spendSession: `INSERT INTO spent_sessions (token_id, expires_at) VALUES ($1, $2)
    ON CONFLICT (token_id) DO UPDATE SET expires_at = excluded.expires_at`,

  getPool: `SELECT ${POOL_COLUMNS} FROM pools WHERE identity_pool_id = $1`,
  putPool: `INSERT INTO pools (${POOL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (identity_pool_id) DO UPDATE SET push_sync = excluded.push_sync,
      cognito_streams = excluded.cognito_streams, events = excluded.events,
      sync_sessions_count = excluded.sync_sessions_count, bulk_publish_status = excluded.bulk_publish_status,
      bulk_publish_start_time = excluded.bulk_publish_start_time,
      bulk_publish_complete_time = excluded.bulk_publish_complete_time,
      bulk_publish_failure_message = excluded.bulk_publish_failure_message`,

  // Coalescing: a pending row is replaced only by a newer change of its dataset, which drops the
  // claim on the older one (the newer change is for any dispatcher to deliver) and keeps the time the
  // first one was queued.
  putOutbox: `INSERT INTO outbox (${OUTBOX_COLUMNS})
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::integer[], $7::bigint[],
      $8::bigint[], $9::bigint[])
    ON CONFLICT (device_id, dataset) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
      identity_id = excluded.identity_id, sync_count = excluded.sync_count, attempts = excluded.attempts,
      not_before = excluded.not_before, expires_at = excluded.expires_at, claimed_by = NULL, claimed_until = NULL,
      queued_at = LEAST(outbox.queued_at, excluded.queued_at)
    WHERE excluded.sync_count > outbox.sync_count`,
  // Claims the due rows nobody else holds: another dispatcher's rows until their lease ends, and rows
  // that a concurrent claim or change is locking right now are skipped.
  dueOutbox: `WITH due AS (
      SELECT device_id, dataset FROM outbox
      WHERE not_before <= $1 AND (claimed_by IS NULL OR claimed_by = $3 OR claimed_until <= $1)
      ORDER BY not_before, device_id, dataset LIMIT $2
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE outbox o SET claimed_by = $3, claimed_until = $4
      FROM due WHERE o.device_id = due.device_id AND o.dataset = due.dataset
      RETURNING ${OUTBOX_COLUMNS.replace(/(\w+)/g, 'o.$1')}
    )
    SELECT ${OUTBOX_COLUMNS} FROM claimed ORDER BY not_before, device_id, dataset`,
  // A row another dispatcher holds is not due for this one before its lease ends.
  nextOutboxTime: `SELECT MIN(CASE WHEN claimed_by IS NULL OR claimed_by = $1 THEN not_before
      ELSE GREATEST(not_before, claimed_until) END) AS next FROM outbox`,
  deleteOutbox: 'DELETE FROM outbox WHERE device_id = $1 AND dataset = $2 AND sync_count = $3',
  rescheduleOutbox: `UPDATE outbox SET attempts = $1, not_before = $2, claimed_by = NULL, claimed_until = NULL
    WHERE device_id = $3 AND dataset = $4 AND sync_count = $5`,
  countOutbox: 'SELECT COUNT(*) AS count FROM outbox',
  outboxSummary: 'SELECT COUNT(*) AS rows, MIN(queued_at) AS oldest FROM outbox',
} as const

type Statement = keyof typeof SQL

class PostgresTx implements StoreTx {
  readonly #client: PoolClient
  readonly #claimer: string
  readonly #leaseMs: number
  /** Names already locked in this transaction: a second lock of one name is a round trip for nothing. */
  readonly #locked = new Set<string>()
  #open = true

  constructor(client: PoolClient, claimer: string, leaseMs: number) {
    this.#client = client
    this.#claimer = claimer
    this.#leaseMs = leaseMs
  }

  end(): void {
    this.#open = false
  }

  /** Holds the advisory lock of a name until the transaction ends. */
  async lock(space: string, name: string): Promise<void> {
    const key = lockKey(space, name)
    if (this.#locked.has(key)) return
    await this.#query('lock', [key])
    this.#locked.add(key)
  }

  // A call that outlives its callback (a forgotten await) would otherwise run in the next
  // transaction on the connection, or in none.
  // Each statement is prepared once per connection, under its name: parsing SQL per call would
  // cost as much as running it.
  async #query<R extends QueryResultRow>(
    statement: Statement,
    values: readonly unknown[],
  ): Promise<QueryResult<R>> {
    if (!this.#open) throw new Error('The transaction has ended; a store call ran after its callback settled')
    return this.#client.query<R>({ name: `pushsync.${statement}`, text: SQL[statement], values: [...values] })
  }

  async #rows<R extends QueryResultRow>(statement: Statement, values: readonly unknown[]): Promise<R[]> {
    return (await this.#query<R>(statement, values)).rows
  }

  async #row<R extends QueryResultRow>(
    statement: Statement,
    values: readonly unknown[],
  ): Promise<R | undefined> {
    return (await this.#query<R>(statement, values)).rows[0]
  }

  async #changes(statement: Statement, values: readonly unknown[]): Promise<number> {
    return (await this.#query(statement, values)).rowCount ?? 0
  }

  async getSetting(name: string): Promise<string | undefined> {
    await this.lock('setting', name)
    const row = await this.#row<{ value: string }>('getSetting', [enc(name)])
    return row && dec(row.value)
  }

  async putSetting(name: string, value: string): Promise<void> {
    await this.#query('putSetting', [enc(name), enc(value)])
  }

  async getIdentity(identityId: string): Promise<IdentityRow | undefined> {
    const row = await this.#row<IdentitySql>('getIdentity', [enc(identityId)])
    return (
      row && {
        identityId: dec(row.identity_id),
        identityPoolId: dec(row.identity_pool_id),
        createdAt: int(row.created_at),
        mergedInto: decN(row.merged_into),
      }
    )
  }

  async putIdentity(row: IdentityRow): Promise<void> {
    await this.#query('putIdentity', [
      enc(row.identityId),
      enc(row.identityPoolId),
      row.createdAt,
      encN(row.mergedInto),
    ])
  }

  async findLogin(identityPoolId: string, provider: string, subject: string): Promise<LoginRow | undefined> {
    const row = await this.#row<LoginSql>('findLogin', [enc(identityPoolId), enc(provider), enc(subject)])
    return (
      row && {
        identityPoolId: dec(row.identity_pool_id),
        provider: dec(row.provider),
        subject: dec(row.subject),
        identityId: dec(row.identity_id),
      }
    )
  }

  async putLogin(row: LoginRow): Promise<void> {
    await this.#query('putLogin', [
      enc(row.identityPoolId),
      enc(row.provider),
      enc(row.subject),
      enc(row.identityId),
    ])
  }

  async poolHasIdentities(identityPoolId: string): Promise<boolean> {
    return (await this.#row('poolHasIdentities', [enc(identityPoolId)])) !== undefined
  }

  async listPoolIds(query: { readonly afterPoolId?: string; readonly limit?: number }): Promise<string[]> {
    const limit = pageSize(query.limit)
    const rows =
      query.afterPoolId === undefined
        ? await this.#rows<{ identity_pool_id: string }>('listPoolIds', [limit])
        : await this.#rows<{ identity_pool_id: string }>('listPoolIdsAfter', [enc(query.afterPoolId), limit])
    return rows.map((row) => dec(row.identity_pool_id))
  }

  async getDataset(identityId: string, name: string): Promise<DatasetRow | undefined> {
    const row = await this.#row<DatasetSql>('getDataset', [enc(identityId), enc(name)])
    return row && toDataset(row)
  }

  async listDatasets(identityId: string, query: ListDatasetsQuery = {}): Promise<DatasetRow[]> {
    const limit = pageSize(query.limit)
    const rows =
      query.afterName === undefined
        ? await this.#rows<DatasetSql>('listDatasets', [enc(identityId), limit])
        : await this.#rows<DatasetSql>('listDatasetsAfter', [enc(identityId), enc(query.afterName), limit])
    return rows.map(toDataset)
  }

  async putDataset(row: DatasetRow): Promise<void> {
    await this.#query('putDataset', [
      enc(row.identityId),
      enc(row.name),
      enc(row.identityPoolId),
      row.syncCount,
      row.exists,
      row.deletedAtSyncCount,
      row.creationDate,
      row.lastModifiedDate,
      encN(row.lastModifiedBy),
      row.numRecords,
      row.dataStorage,
      encN(row.mergedInto),
    ])
  }

  async listPoolDatasets(
    identityPoolId: string,
    query: {
      readonly after?: { readonly identityId: string; readonly name: string }
      readonly limit?: number
    },
  ): Promise<DatasetRow[]> {
    const { after } = query
    const limit = pageSize(query.limit)
    const rows =
      after === undefined
        ? await this.#rows<DatasetSql>('listPoolDatasets', [enc(identityPoolId), limit])
        : await this.#rows<DatasetSql>('listPoolDatasetsAfter', [
            enc(identityPoolId),
            enc(after.identityId),
            enc(after.name),
            limit,
          ])
    return rows.map(toDataset)
  }

  async listMergedDatasetNames(identityId: string, name: string): Promise<string[]> {
    const rows = await this.#rows<{ name: string }>('listMergedDatasetNames', [enc(identityId), enc(name)])
    return rows.map((row) => dec(row.name))
  }

  async identityUsage(identityId: string): Promise<UsageRow> {
    return toUsage(await this.#row<UsageSql>('identityUsage', [enc(identityId)]))
  }

  async poolUsage(identityPoolId: string): Promise<UsageRow> {
    return toUsage(await this.#row<UsageSql>('poolUsage', [enc(identityPoolId)]))
  }

  async getRecords(identityId: string, dataset: string, keys: readonly string[]): Promise<RecordRow[]> {
    if (keys.length === 0) {
      await this.#check()
      return []
    }
    const rows = await this.#rows<RecordSql>('getRecords', [
      enc(identityId),
      enc(dataset),
      [...new Set(keys)].map(enc),
    ])
    return rows.map(toRecord)
  }

  async listRecords(identityId: string, dataset: string, query: ListRecordsQuery): Promise<RecordRow[]> {
    const { afterSyncCount, after } = query
    const limit = pageSize(query.limit)
    // Every row past a cursor at or above the floor is above the floor; a cursor below the floor
    // excludes nothing the floor keeps.
    const rows =
      after !== undefined && after.syncCount >= afterSyncCount
        ? await this.#rows<RecordSql>('listRecordsAfter', [
            enc(identityId),
            enc(dataset),
            after.syncCount,
            enc(after.key),
            limit,
          ])
        : await this.#rows<RecordSql>('listRecords', [enc(identityId), enc(dataset), afterSyncCount, limit])
    return rows.map(toRecord)
  }

  async putRecords(identityId: string, dataset: string, rows: readonly RecordRow[]): Promise<void> {
    // One statement cannot write a key twice: the last row of a key wins, as one put after another would.
    const byKey = new Map<string, RecordRow>()
    for (const row of rows) byKey.set(row.key, row)
    if (byKey.size === 0) return this.#check()
    const batch = [...byKey.values()]
    await this.#query('putRecords', [
      enc(identityId),
      enc(dataset),
      batch.map((row) => enc(row.key)),
      batch.map((row) => encN(row.value)),
      batch.map((row) => row.syncCount),
      batch.map((row) => row.lastModifiedDate),
      batch.map((row) => encN(row.lastModifiedBy)),
      batch.map((row) => row.deviceLastModifiedDate),
    ])
  }

  async deleteAllRecords(identityId: string, dataset: string): Promise<void> {
    await this.#query('deleteAllRecords', [enc(identityId), enc(dataset)])
  }

  async moveRecords(
    from: { identityId: string; dataset: string },
    to: { identityId: string; dataset: string },
  ): Promise<void> {
    // Copy-then-delete would delete everything when moving a dataset onto itself.
    if (from.identityId === to.identityId && from.dataset === to.dataset) return this.#check()
    await this.#query('copyRecords', [
      enc(to.identityId),
      enc(to.dataset),
      enc(from.identityId),
      enc(from.dataset),
    ])
    await this.#query('deleteAllRecords', [enc(from.identityId), enc(from.dataset)])
  }

  async getDevice(deviceId: string): Promise<DeviceRow | undefined> {
    const row = await this.#row<DeviceSql>('getDevice', [enc(deviceId)])
    return row && toDevice(row)
  }

  async findDevice(
    identityId: string,
    platform: DevicePlatform,
    token: string,
  ): Promise<DeviceRow | undefined> {
    const row = await this.#row<DeviceSql>('findDevice', [enc(identityId), enc(platform), enc(token)])
    return row && toDevice(row)
  }

  async putDevice(row: DeviceRow): Promise<void> {
    await this.#query('putDevice', [
      enc(row.deviceId),
      enc(row.identityPoolId),
      enc(row.identityId),
      enc(row.platform),
      enc(row.token),
      row.createdAt,
    ])
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.#query('deleteDevice', [enc(deviceId)])
  }

  async putSubscription(identityId: string, dataset: string, deviceId: string): Promise<void> {
    await this.#query('putSubscription', [enc(identityId), enc(dataset), enc(deviceId)])
  }

  async deleteSubscription(identityId: string, dataset: string, deviceId: string): Promise<boolean> {
    return (await this.#changes('deleteSubscription', [enc(identityId), enc(dataset), enc(deviceId)])) > 0
  }

  async listSubscribedDevices(identityId: string, dataset: string): Promise<DeviceRow[]> {
    return (await this.#rows<DeviceSql>('listSubscribedDevices', [enc(identityId), enc(dataset)])).map(
      toDevice,
    )
  }

  async isSessionSpent(tokenId: string): Promise<boolean> {
    return (await this.#row('isSessionSpent', [enc(tokenId)])) !== undefined
  }

  async spendSession(tokenId: string, expiresAt: number, now: number): Promise<void> {
    // A token expiring exactly now may still be accepted by a `now <= expiry` check, so only
    // entries strictly in the past are dropped.
    await this.#query('pruneSessions', [now])
    await this.#query('spendSession', [enc(tokenId), expiresAt])
  }

  async getPool(identityPoolId: string): Promise<PoolRow | undefined> {
    await this.lock('pool', identityPoolId)
    const row = await this.#row<PoolSql>('getPool', [enc(identityPoolId)])
    return (
      row && {
        identityPoolId: dec(row.identity_pool_id),
        pushSync: decN(row.push_sync),
        cognitoStreams: decN(row.cognito_streams),
        events: decN(row.events),
        syncSessionsCount: int(row.sync_sessions_count),
        bulkPublishStatus: dec(row.bulk_publish_status) as PoolRow['bulkPublishStatus'],
        bulkPublishStartTime: intN(row.bulk_publish_start_time),
        bulkPublishCompleteTime: intN(row.bulk_publish_complete_time),
        bulkPublishFailureMessage: decN(row.bulk_publish_failure_message),
      }
    )
  }

  async putPool(row: PoolRow): Promise<void> {
    await this.#query('putPool', [
      enc(row.identityPoolId),
      encN(row.pushSync),
      encN(row.cognitoStreams),
      encN(row.events),
      row.syncSessionsCount,
      enc(row.bulkPublishStatus),
      row.bulkPublishStartTime,
      row.bulkPublishCompleteTime,
      encN(row.bulkPublishFailureMessage),
    ])
  }

  async putOutbox(rows: readonly OutboxRow[]): Promise<void> {
    // One statement cannot write a row twice: of one (device, dataset), the first row of the highest
    // sync count wins, as one put after another would leave it.
    const byKey = new Map<string, OutboxRow>()
    for (const row of rows) {
      const key = JSON.stringify([row.deviceId, row.datasetName])
      const kept = byKey.get(key)
      if (kept === undefined || row.syncCount > kept.syncCount) byKey.set(key, row)
    }
    if (byKey.size === 0) return this.#check()
    const batch = [...byKey.values()]
    await this.#query('putOutbox', [
      batch.map((row) => enc(row.deviceId)),
      batch.map((row) => enc(row.datasetName)),
      batch.map((row) => enc(row.identityPoolId)),
      batch.map((row) => enc(row.identityId)),
      batch.map((row) => row.syncCount),
      batch.map((row) => row.attempts),
      batch.map((row) => row.notBefore),
      batch.map((row) => row.expiresAt),
      batch.map((row) => row.queuedAt),
    ])
  }

  async dueOutbox(now: number, limit: number): Promise<OutboxRow[]> {
    const rows = await this.#rows<OutboxSql>('dueOutbox', [
      now,
      pageSize(limit),
      this.#claimer,
      now + this.#leaseMs,
    ])
    return rows.map(toOutbox)
  }

  async nextOutboxTime(): Promise<number | undefined> {
    const row = await this.#row<{ next: Int | null }>('nextOutboxTime', [this.#claimer])
    return row?.next == null ? undefined : int(row.next)
  }

  async deleteOutbox(deviceId: string, datasetName: string, syncCount: number): Promise<boolean> {
    return (await this.#changes('deleteOutbox', [enc(deviceId), enc(datasetName), syncCount])) > 0
  }

  async rescheduleOutbox(
    deviceId: string,
    datasetName: string,
    syncCount: number,
    attempts: number,
    notBefore: number,
  ): Promise<boolean> {
    return (
      (await this.#changes('rescheduleOutbox', [
        attempts,
        notBefore,
        enc(deviceId),
        enc(datasetName),
        syncCount,
      ])) > 0
    )
  }

  async countOutbox(): Promise<number> {
    const row = await this.#row<{ count: Int }>('countOutbox', [])
    return row === undefined ? 0 : int(row.count)
  }

  async outboxSummary(): Promise<OutboxSummary> {
    const row = await this.#row<{ rows: Int; oldest: Int | null }>('outboxSummary', [])
    return {
      rows: row === undefined ? 0 : int(row.rows),
      oldestQueuedAt: row?.oldest == null ? undefined : int(row.oldest),
    }
  }

  // For the calls that have nothing to send: they must still refuse an ended transaction.
  async #check(): Promise<void> {
    if (!this.#open) throw new Error('The transaction has ended; a store call ran after its callback settled')
  }
}

/**
 * `undefined` is no limit; a negative one returns nothing, like a limit of 0, as in the SQLite store.
 */
const pageSize = (limit: number | undefined): number =>
  limit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.trunc(limit))

const toDataset = (row: DatasetSql): DatasetRow => ({
  identityPoolId: dec(row.identity_pool_id),
  identityId: dec(row.identity_id),
  name: dec(row.name),
  syncCount: int(row.sync_count),
  exists: row.dataset_exists,
  deletedAtSyncCount: int(row.deleted_at_sync_count),
  creationDate: int(row.creation_date),
  lastModifiedDate: int(row.last_modified_date),
  lastModifiedBy: decN(row.last_modified_by),
  numRecords: int(row.num_records),
  dataStorage: int(row.data_storage),
  mergedInto: decN(row.merged_into),
})

const toRecord = (row: RecordSql): RecordRow => ({
  key: dec(row.key),
  value: decN(row.value),
  syncCount: int(row.sync_count),
  lastModifiedDate: int(row.last_modified_date),
  lastModifiedBy: decN(row.last_modified_by),
  deviceLastModifiedDate: intN(row.device_last_modified_date),
})

const toDevice = (row: DeviceSql): DeviceRow => ({
  deviceId: dec(row.device_id),
  identityPoolId: dec(row.identity_pool_id),
  identityId: dec(row.identity_id),
  platform: dec(row.platform) as DevicePlatform,
  token: dec(row.token),
  createdAt: int(row.created_at),
})

// An aggregate always yields one row; the fallback only satisfies the types.
const toUsage = (row: UsageSql | undefined): UsageRow => ({
  datasetCount: row === undefined ? 0 : int(row.dataset_count),
  dataStorage: row === undefined ? 0 : int(row.data_storage),
  lastModifiedDate: row === undefined ? null : intN(row.last_modified_date),
})

const toOutbox = (row: OutboxSql): OutboxRow => ({
  deviceId: dec(row.device_id),
  identityPoolId: dec(row.identity_pool_id),
  identityId: dec(row.identity_id),
  datasetName: dec(row.dataset),
  syncCount: int(row.sync_count),
  attempts: row.attempts,
  notBefore: int(row.not_before),
  expiresAt: int(row.expires_at),
  queuedAt: int(row.queued_at),
})
