import type { SyncStore } from './contract.js'
import { openSqliteStore } from './sqlite.js'

export type * from './contract.js'
export { createMemoryStore } from './memory.js'
export { openSqliteStore, SCHEMA_VERSION } from './sqlite.js'

/**
 * Opens the store the `--db` option names: a SQLite file path, or `:memory:` for an in-memory
 * SQLite database (SQLite semantics, nothing kept; the memory store is for tests).
 */
export async function openStore(db: string): Promise<SyncStore> {
  // PostgreSQL URLs (postgres:// and postgresql://) will select the PostgreSQL store here. Until
  // then they must not fall through to SQLite, which would create a file named like the URL.
  if (/^postgres(?:ql)?:\/\//i.test(db)) {
    throw new Error(`PostgreSQL stores are not supported yet (--db ${redact(db)}); use a SQLite file path`)
  }
  return openSqliteStore(db)
}

/** The URL without its password, which must not reach a log. */
const redact = (url: string): string => url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@')
