import type { SyncStore } from './contract.js'
import { openPostgresStore } from './postgres.js'
import { openSqliteStore } from './sqlite.js'

export type * from './contract.js'
export { createMemoryStore } from './memory.js'
export { openPostgresStore, POSTGRES_SCHEMA_VERSION, type PostgresStoreOptions } from './postgres.js'
export { openSqliteStore, SCHEMA_VERSION } from './sqlite.js'

/**
 * Opens the store the `--db` option names: a `postgres://` or `postgresql://` URL for the
 * PostgreSQL store, else a SQLite file path, or `:memory:` for an in-memory SQLite database (SQLite
 * semantics, nothing kept; the memory store is for tests).
 */
export async function openStore(db: string): Promise<SyncStore> {
  // Matched before anything else: a URL must never fall through to SQLite, which would create a
  // file named like it.
  if (/^postgres(?:ql)?:\/\//i.test(db)) {
    try {
      return await openPostgresStore(db)
    } catch (error) {
      // The message names the database, never its password, which must not reach a log.
      throw new Error(
        `Could not open the PostgreSQL store ${redactDatabaseUrl(db)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      )
    }
  }
  return openSqliteStore(db)
}

/**
 * The `--db` setting as it may be shown: a PostgreSQL URL without its password, whether in the
 * user part or in a `password` parameter. A SQLite path is shown as it is.
 */
export function redactDatabaseUrl(db: string): string {
  if (!/^postgres(?:ql)?:\/\//i.test(db)) return db
  try {
    const url = new URL(db)
    if (url.password !== '') url.password = '***'
    for (const name of [...url.searchParams.keys()])
      if (/pass|secret|key/i.test(name)) url.searchParams.set(name, '***')
    return url.toString()
  } catch {
    // Not a URL `new URL` reads: mask everything between the scheme and the host.
    return db.replace(/\/\/[^/]*@/, '//***@')
  }
}
