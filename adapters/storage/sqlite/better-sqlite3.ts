import type { SqliteDriver, SqlRow } from './driver.js'

/**
 * The part of a better-sqlite3 `Database` the binding uses. Declared here rather than imported, so
 * the published types need neither better-sqlite3 nor its `@types` package; a real `Database` fits.
 */
export interface BetterSqlite3Database {
  prepare(source: string): BetterSqlite3Statement
  exec(source: string): unknown
  close(): unknown
}

/**
 * The part of a better-sqlite3 `Statement` the binding uses. Parameters are `unknown` so the
 * `Statement` better-sqlite3's generic `prepare` is typed to return fits; the binding passes `SqlValue`s.
 */
export interface BetterSqlite3Statement {
  run(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
  safeIntegers(toggle?: boolean): unknown
}

/**
 * A driver on an open better-sqlite3 connection (Node). better-sqlite3 is synchronous, so every
 * call completes before it returns. Prepared statements are cached per SQL text: the adapter uses a
 * fixed set of about twenty, so the cache stays that small.
 *
 * Closing the adapter closes `db`. better-sqlite3 waits up to its `timeout` option (5 s by default)
 * for a lock another process holds before it reports `SQLITE_BUSY`.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3'
 * const db = new Database('pushsync.db')
 * db.pragma('journal_mode = WAL')
 * const storage = createSqliteStorage({ driver: betterSqlite3Driver(db) })
 * ```
 */
export function betterSqlite3Driver(db: BetterSqlite3Database): SqliteDriver {
  const statements = new Map<string, BetterSqlite3Statement>()
  const prepare = (sql: string) => {
    let statement = statements.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      // Numbers whatever the connection's default: the model holds numbers, not bigints.
      statement.safeIntegers(false)
      statements.set(sql, statement)
    }
    return statement
  }
  return {
    exec(sql) {
      db.exec(sql)
    },
    run(sql, params) {
      prepare(sql).run(...params)
    },
    all(sql, params) {
      return prepare(sql).all(...params) as SqlRow[]
    },
    close() {
      statements.clear()
      db.close()
    },
  }
}
