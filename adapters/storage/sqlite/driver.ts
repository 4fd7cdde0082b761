/**
 * The driver port of the SQLite storage: the four calls the adapter needs from a SQLite connection.
 *
 * It is small on purpose, so a binding for any SQLite library is a few lines: better-sqlite3 and
 * sql.js ship with the adapter; React Native drivers (op-sqlite, expo-sqlite) and browser ones
 * (wa-sqlite, the official wasm build) fit it the same way. Each call may answer synchronously or
 * with a promise; the adapter awaits it either way and never issues a call before the previous one
 * has settled.
 */

/** A value bound to or read from SQLite: TEXT, INTEGER or REAL, NULL. The adapter uses no BLOB. */
export type SqlValue = string | number | null

/** One result row, keyed by column name (the adapter names every column it selects). */
export type SqlRow = Readonly<Record<string, unknown>>

/**
 * An open SQLite connection. The adapter sends only SQL it wrote itself: one statement per call,
 * positional `?` parameters, no BLOBs.
 *
 * Requirements on a binding:
 * - `TEXT` goes in and out unchanged, including U+0000 and astral characters (bind by length, read
 *   by length: a binding that stops at the first NUL byte loses keys like `'a\u0000'`);
 * - integers come back as `number` (a `bigint` is converted, anything else is reported as corrupt);
 * - errors are thrown (or rejected) as the library reports them: the adapter recognises SQLite's
 *   result codes (`code: 'SQLITE_BUSY'`, `code: 5`) and its standard messages.
 */
export interface SqliteDriver {
  /**
   * Runs one statement without parameters: `BEGIN IMMEDIATE`, `COMMIT`, `CREATE TABLE ...`.
   * Whatever it returns is awaited, then ignored, so a driver may hand back its own result or promise.
   */
  exec(sql: string): unknown
  /** Runs one statement with positional parameters. Its result is awaited, then ignored. */
  run(sql: string, params: readonly SqlValue[]): unknown
  /** Runs one query with positional parameters and returns all of its rows. */
  all(sql: string, params: readonly SqlValue[]): readonly SqlRow[] | PromiseLike<readonly SqlRow[]>
  /** Closes the connection. The adapter calls it once, from its own `close()`, and awaits it. */
  close(): unknown
}
