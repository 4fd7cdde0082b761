import { createHash, randomUUID } from 'node:crypto'
import pg, { type PoolClient, type PoolConfig, type QueryResult } from 'pg'
import type { StoreReadiness, StoreTx, SyncStore, TransactionOptions } from './contract.js'
import { openStoreSession } from './postgres-session.js'
import { CLOSED } from './shared.js'
import { POSTGRES, type SqlConnection, type SqlParams } from './sql/dialect.js'
import { migrations, SCHEMA_VERSION } from './sql/schema.js'
import { type StatementName, specOf, statements } from './sql/statements.js'
import { SqlTx } from './sql/transaction.js'

/** The schema version this code writes, the same as the SQLite store's. */
export const POSTGRES_SCHEMA_VERSION = SCHEMA_VERSION

export interface PostgresStoreOptions {
  /** The LISTEN/NOTIFY channel of the store's bus (default `pushsync_changes`). */
  readonly busChannel?: string
}

/**
 * The PostgreSQL store on a `pg` connection pool, for one or several server processes sharing a
 * database. Its statements and row mapping are the SQL store's (sql/), shared with SQLite. Opening
 * it applies the migrations, once, whoever opens the database at the same time.
 *
 * `connection` is a `postgres://` URL or `pg` pool options. A URL may carry `max`, the pool size
 * (default 10); anything else in it is read by `pg` (host, port, database, user, password,
 * `sslmode`, `options=-c search_path=...`, `application_name`).
 *
 * Every transaction runs on one connection, at READ COMMITTED, and rolls back entirely when its
 * callback rejects. Transactions naming the same identity in `lock` take
 * `pg_advisory_xact_lock(hash of the identity)` before anything else, so they never overlap, in this
 * process or another; within a process they also start in the order they were asked for. Reading a
 * pool row or a setting `forUpdate` locks that row's name the same way until the transaction ends,
 * so that a read-modify-write of these rows shared by many identities (a pool's configuration, the
 * token secret) is not lost either. Nothing an UpdateRecords does takes a lock wider than its
 * identity. Other transactions run side by side, up to the pool's size.
 *
 * Besides the pool, the store holds one connection of its own (postgres-session.ts): it listens
 * for the bus and holds the advisory lock that keeps this process's outbox claims alive.
 *
 * PostgreSQL text cannot hold U+0000, which keys, values and names may contain: text is stored with
 * U+0000 written as U+0001 U+0001 and U+0001 as U+0001 U+0002, an escape that keeps code point order.
 */
export async function openPostgresStore(
  connection: string | PoolConfig,
  options: PostgresStoreOptions = {},
): Promise<SyncStore> {
  const config = poolConfig(connection)
  const pool = new pg.Pool(config)
  // A connection that breaks while idle in the pool is dropped from it and replaced on next use; an
  // 'error' event without a listener would end the process instead.
  pool.on('error', () => {})
  try {
    await migrate(pool)
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw error
  }

  // The id under which this store signs what it publishes on the bus.
  const origin = randomUUID()
  const session = openStoreSession(config, options.busChannel ?? 'pushsync_changes', origin, pool)
  // Rows left claimed by a process that is gone are due at once: this one must be able to take
  // them from its first dispatch on.
  await session.opened
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
      const connection = postgresConnection(client, session.holder)
      const tx = new SqlTx(connection)
      let result: T
      try {
        // Always in one order (sorted), so two transactions locking the same identities cannot deadlock.
        for (const name of locks) await connection.lock('identity', name)
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
    bus: session.bus,
    async readiness(): Promise<StoreReadiness> {
      if (closed) return CLOSED
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
      if (version !== SCHEMA_VERSION)
        return { ready: false, reason: `the schema is at version ${version}, not ${SCHEMA_VERSION}` }
      if (session.state() === 'down')
        return { ready: false, reason: "the store's own connection (change bus, outbox claims) is down" }
      return { ready: true }
    },
    close(): Promise<void> {
      closed = true
      closing ??= (async () => {
        while (running.size > 0) await Promise.allSettled([...running])
        // Its lock goes with it: another process may deliver what this one had claimed at once.
        await session.close()
        await pool.end()
      })()
      return closing
    },
  }
}

/**
 * The connection a transaction runs on. Statements are numbered (`?` → `$1`...) and prepared once
 * per connection under their name: parsing SQL per call would cost as much as running it. Text goes
 * in escaped and comes out unescaped (see `enc`), whatever statement carries it, so the shared code
 * never sees the escape.
 */
function postgresConnection(client: PoolClient, holder: () => number | undefined): SqlConnection {
  /** Names already locked in this transaction: a second lock of one name is a round trip for nothing. */
  const locked = new Set<string>()
  const query = (name: StatementName | 'lock', values: SqlParams): Promise<QueryResult> =>
    client.query({ name: `pushsync.${name}`, text: compiled(name), values: values.map(encodeParam) })
  const rows = async <R>(name: StatementName, values: SqlParams): Promise<R[]> =>
    (await query(name, values)).rows.map(decodeRow) as R[]
  return {
    all: rows,
    async get<R>(name: StatementName, values: SqlParams) {
      return (await rows<R>(name, values))[0]
    },
    async run(name, values) {
      return (await query(name, values)).rowCount ?? 0
    },
    async runBatch(name, batch) {
      if (batch.length === 0) return
      // The batch's columns as arrays, one parameter each: unnest turns them back into rows.
      const columns = (batch[0] ?? []).map((_, column) => batch.map((row) => row[column]))
      await query(name, columns)
    },
    allOf: (name, values, keys) => rows(name, [...values, keys]),
    async lock(space, name) {
      const key = lockKey(space, name)
      if (locked.has(key)) return
      await query('lock', [key])
      locked.add(key)
    },
    claimHolder: holder,
  }
}

const SPECS = statements(POSTGRES)
const COMPILED = new Map<string, string>()

/** A statement's PostgreSQL text: batch and list forms rewritten, placeholders numbered. */
function compiled(name: StatementName | 'lock'): string {
  let text = COMPILED.get(name)
  if (text !== undefined) return text
  if (name === 'lock') text = 'SELECT pg_advisory_xact_lock(?::bigint)'
  else {
    const spec = specOf(SPECS[name])
    text = spec.sql
    const { batch, list } = spec
    if (batch !== undefined)
      text = text.replace(
        /VALUES \(\?(?:, \?)*\)/,
        `SELECT * FROM unnest(${batch.map((type) => `?::${type}[]`).join(', ')})`,
      )
    if (list !== undefined) text = text.replace(/= \?$/, `= ANY(?::${list}[])`)
  }
  let n = 0
  text = text.replace(/\?/g, () => `$${++n}`)
  COMPILED.set(name, text)
  return text
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
  const steps = migrations(POSTGRES)
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
      if (version > SCHEMA_VERSION) {
        throw new Error(
          `The database has schema version ${version}, newer than this server's ${SCHEMA_VERSION}; upgrade the server`,
        )
      }
      for (let v = version + 1; v <= SCHEMA_VERSION; v++) {
        for (const sql of steps[v - 1] ?? []) await client.query(sql)
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

/** A parameter as sent: text escaped, arrays element by element. */
const encodeParam = (value: unknown): unknown =>
  typeof value === 'string' ? enc(value) : Array.isArray(value) ? value.map(encodeParam) : value

/** A row as read: every text column unescaped (BIGINT text holds no escape, so it passes as it is). */
const decodeRow = (row: Record<string, unknown>): Record<string, unknown> => {
  for (const [column, value] of Object.entries(row))
    if (typeof value === 'string' && value.includes('\u0001')) row[column] = dec(value)
  return row
}

/** Text as stored: U+0000 and U+0001 escaped behind U+0001, in an order-preserving way. */
const enc = (text: string): string =>
  text.includes('\u0000') || text.includes('\u0001')
    ? text.replaceAll('\u0001', '\u0001\u0002').replaceAll('\u0000', '\u0001\u0001')
    : text

/** Text as read: the escapes of `enc` undone. */
const dec = (text: string): string => {
  let out = ''
  let start = 0
  for (let at = text.indexOf('\u0001'); at !== -1; at = text.indexOf('\u0001', start)) {
    out += text.slice(start, at) + (text[at + 1] === '\u0001' ? '\u0000' : '\u0001')
    start = at + 2
  }
  return out + text.slice(start)
}
