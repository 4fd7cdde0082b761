import Database from 'better-sqlite3'
import type { StoreReadiness, StoreTx, SyncStore } from './contract.js'
import { CLOSED, serialTransactions } from './shared.js'
import { SQLITE, type SqlConnection, type SqlParams } from './sql/dialect.js'
import { migrations, SCHEMA_VERSION } from './sql/schema.js'
import { type StatementName, specOf, statements } from './sql/statements.js'
import { SqlTx } from './sql/transaction.js'

export { SCHEMA_VERSION }

/**
 * The SQLite store on better-sqlite3: one connection, one transaction at a time. Its statements and
 * row mapping are the SQL store's (sql/), shared with PostgreSQL.
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
  let connection: SqlConnection
  try {
    if (!db.memory) db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    // better-sqlite3's build already defaults to ON; the cascade from devices to subscriptions must not
    // depend on how SQLite was compiled.
    db.pragma('foreign_keys = ON')
    // Only another process (a backup, the sqlite3 shell) can hold the lock; wait for it a while.
    db.pragma('busy_timeout = 5000')
    migrate(db)
    connection = sqliteConnection(db)
  } catch (error) {
    db.close()
    throw error
  }
  const begin = db.prepare('BEGIN IMMEDIATE')
  const commit = db.prepare('COMMIT')
  const schemaVersion = db.prepare<[], { version: number | null }>(
    'SELECT MAX(version) AS version FROM schema_version',
  )

  // better-sqlite3 is synchronous but a transaction's callback is async: while it awaits, other
  // callers must not run statements on the connection, or they would land inside its transaction.
  const queue = serialTransactions(async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    begin.run()
    const tx = new SqlTx(connection)
    let result: T
    try {
      result = await fn(tx)
    } catch (error) {
      tx.end()
      rollback(db, error)
      throw error
    }
    tx.end()
    try {
      commit.run()
    } catch (error) {
      rollback(db, error)
      throw error
    }
    return result
  })

  return {
    kind: 'sqlite',
    transaction: queue.transaction,
    async close(): Promise<void> {
      await queue.close()
      if (db.open) db.close()
    },
    async readiness(): Promise<StoreReadiness> {
      if (queue.closed || !db.open) return CLOSED
      // Read outside the transaction queue: a read of one row cannot disturb a transaction in
      // progress on the connection, and a probe must not wait behind a long one.
      try {
        const version = schemaVersion.get()?.version ?? 0
        return version === SCHEMA_VERSION
          ? { ready: true }
          : { ready: false, reason: `the schema is at version ${version}, not ${SCHEMA_VERSION}` }
      } catch (error) {
        return { ready: false, reason: `the database cannot be read: ${(error as Error).message}` }
      }
    },
  }
}

/**
 * The connection the shared transaction runs on. Every statement is prepared once: parsing SQL per
 * call would dominate a small write. Batches and lookups of several keys loop over one prepared
 * statement, which in-process SQLite runs as fast as one statement for all.
 */
function sqliteConnection(db: Database.Database): SqlConnection {
  const specs = statements(SQLITE)
  const prepared = new Map<StatementName, Database.Statement<unknown[]>>()
  const statement = (name: StatementName) => {
    let found = prepared.get(name)
    if (found === undefined) {
      found = db.prepare<unknown[]>(specOf(specs[name]).sql)
      prepared.set(name, found)
    }
    return found
  }
  const params = (values: SqlParams) => values as unknown[]
  return {
    async all<R>(name: StatementName, values: SqlParams) {
      return statement(name).all(...params(values)) as R[]
    },
    async get<R>(name: StatementName, values: SqlParams) {
      return statement(name).get(...params(values)) as R | undefined
    },
    async run(name, values) {
      return statement(name).run(...params(values)).changes
    },
    async runBatch(name, rows) {
      const prepared = statement(name)
      for (const row of rows) prepared.run(...params(row))
    },
    async allOf<R>(name: StatementName, values: SqlParams, keys: readonly unknown[]) {
      const prepared = statement(name)
      const rows: R[] = []
      for (const key of keys) rows.push(...(prepared.all(...params(values), key) as R[]))
      return rows
    },
    // One connection runs one transaction at a time: nothing else can hold a name.
    async lock() {},
  }
}

/** Rolls back unless SQLite already did (it does on some errors, such as a full disk). */
const rollback = (db: Database.Database, cause: unknown): void => {
  if (!db.inTransaction) return
  try {
    db.exec('ROLLBACK')
  } catch (error) {
    throw new AggregateError([cause, error], 'A transaction failed and could not be rolled back')
  }
}

const migrate = (db: Database.Database): void => {
  const steps = migrations(SQLITE)
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
      for (const sql of steps[v - 1] ?? []) db.exec(sql)
      record.run(v, Date.now())
    }
    db.exec('COMMIT')
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw error
  }
}
