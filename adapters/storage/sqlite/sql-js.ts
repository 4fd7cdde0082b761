import type { SqliteDriver, SqlRow, SqlValue } from './driver.js'

/**
 * The part of a sql.js `Database` the binding uses. Declared here rather than imported, so the
 * published types need neither sql.js nor its `@types` package; a real `Database` fits.
 */
export interface SqlJsDatabase {
  exec(sql: string): unknown
  prepare(sql: string): SqlJsStatement
  close(): void
}

/** The part of a sql.js `Statement` the binding uses. */
export interface SqlJsStatement {
  bind(values?: SqlValue[]): boolean
  step(): boolean
  get(): unknown[]
  getColumnNames(): string[]
  /** Present in sql.js builds, missing from its type declarations. */
  getBlob?(index: number): Uint8Array
  reset(): void
}

/**
 * A driver on an open sql.js database (SQLite compiled to wasm; browsers and Node). sql.js is
 * synchronous and keeps the whole database in memory: persisting it means saving `db.export()`
 * yourself (to OPFS, IndexedDB or a file) after writes.
 *
 * sql.js reads TEXT up to the first NUL character, so a key such as `'a\u0000'` would come back as
 * `'a'`. The binding reads each text value's bytes instead and decodes them in full.
 *
 * Prepared statements are cached per SQL text (a fixed set of about twenty).
 * Closing the adapter closes `db`.
 *
 * @example
 * ```ts
 * import initSqlJs from 'sql.js'
 * const SQL = await initSqlJs()
 * const storage = createSqliteStorage({ driver: sqlJsDriver(new SQL.Database()) })
 * ```
 */
export function sqlJsDriver(db: SqlJsDatabase): SqliteDriver {
  const statements = new Map<string, SqlJsStatement>()
  const decoder = new TextDecoder()
  const prepare = (sql: string, params: readonly SqlValue[]) => {
    let statement = statements.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      statements.set(sql, statement)
    }
    statement.bind([...params])
    return statement
  }
  return {
    exec(sql) {
      db.exec(sql)
    },
    run(sql, params) {
      const statement = prepare(sql, params)
      try {
        while (statement.step()) {}
      } finally {
        statement.reset()
      }
    },
    all(sql, params) {
      const statement = prepare(sql, params)
      try {
        const columns = statement.getColumnNames()
        const rows: SqlRow[] = []
        while (statement.step()) {
          const values = statement.get()
          const row: Record<string, unknown> = {}
          columns.forEach((column, index) => {
            const value = values[index]
            row[column] =
              typeof value === 'string' && statement.getBlob !== undefined
                ? decoder.decode(statement.getBlob(index))
                : value
          })
          rows.push(row)
        }
        return rows
      } finally {
        statement.reset()
      }
    },
    close() {
      // sql.js frees the prepared statements with the database.
      statements.clear()
      db.close()
    },
  }
}
