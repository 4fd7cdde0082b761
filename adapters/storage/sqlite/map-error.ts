import { isSyncError, SyncError } from '../../../src/errors.js'

/**
 * The one place where what a SQLite driver throws becomes a `SyncError`.
 *
 * Drivers report errors differently: better-sqlite3 sets `code: 'SQLITE_BUSY'` (or an extended code
 * such as `'SQLITE_IOERR_SHORT_READ'`), wa-sqlite a numeric `code`, sql.js only SQLite's message and
 * throws a bare string for a closed database. So the code is looked for first and SQLite's own
 * message texts (`sqlite3_errstr`) are the fallback.
 */

/** Primary result codes (https://sqlite.org/rescode.html) the mapping tells apart. */
const PRIMARY_BY_NUMBER: ReadonlyMap<number, string> = new Map([
  [5, 'BUSY'],
  [6, 'LOCKED'],
  [11, 'CORRUPT'],
  [13, 'FULL'],
  [26, 'NOTADB'],
])

const PRIMARY_BY_MESSAGE: ReadonlyArray<readonly [RegExp, string]> = [
  [/database or disk is full/i, 'FULL'],
  [/database disk image is malformed/i, 'CORRUPT'],
  [/file is not a database/i, 'NOTADB'],
  [/database is locked/i, 'BUSY'],
  [/database table is locked/i, 'LOCKED'],
]

// better-sqlite3: "The database connection is not open"; sql.js: "Database closed", "Statement closed".
const CLOSED_MESSAGE = /\b(?:database|connection|db|statement)\b.*\b(?:closed|not open)\b/i

export interface SqliteErrorContext {
  /** The adapter's name, `'storage:sqlite'`. */
  readonly adapter: string
  /** The instance label given to `createSqliteStorage`, if any. */
  readonly instance?: string | undefined
}

/** Turns anything a driver threw into a `SyncError` (a `SyncError` passes through unchanged). */
export function mapSqliteError(error: unknown, context: SqliteErrorContext): SyncError {
  if (isSyncError(error)) return error
  const message = messageOf(error)
  const code = codeOf(error)
  const primary = primaryOf(code) ?? PRIMARY_BY_MESSAGE.find(([pattern]) => pattern.test(message))?.[1]
  const details = {
    ...(code === undefined ? {} : { sqliteCode: code }),
    ...(context.instance === undefined ? {} : { instance: context.instance }),
  }
  const options = { adapter: context.adapter, cause: error, details }

  switch (primary) {
    case 'FULL':
      return new SyncError(
        'STORAGE_QUOTA',
        'the database or its disk is full: free space or remove data, then retry',
        options,
      )
    case 'CORRUPT':
    case 'NOTADB':
      return new SyncError(
        'STORAGE_CORRUPT',
        'the database file is damaged or is not a SQLite database: restore it, or delete it and sync again',
        options,
      )
    case 'BUSY':
    case 'LOCKED':
      return new SyncError(
        'STORAGE_UNAVAILABLE',
        'the database is locked by another connection: retry later, or give the driver a busy timeout',
        { ...options, retryable: true },
      )
  }
  if (CLOSED_MESSAGE.test(message)) {
    return new SyncError('STORAGE_CLOSED', 'the SQLite connection is closed', options)
  }
  // Nothing says a retry would help (a read-only file, a missing table, a driver bug...).
  return new SyncError('STORAGE_UNAVAILABLE', `SQLite failed: ${message}`, { ...options, retryable: false })
}

function messageOf(error: unknown): string {
  if (typeof error === 'string') return error
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message)
  return String(error)
}

function codeOf(error: unknown): string | number | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  const { code } = error
  return typeof code === 'string' || typeof code === 'number' ? code : undefined
}

function primaryOf(code: string | number | undefined): string | undefined {
  // Extended codes carry the primary code in their low byte (SQLITE_BUSY_SNAPSHOT = 5 | 2 << 8).
  if (typeof code === 'number') return PRIMARY_BY_NUMBER.get(code & 0xff)
  return code === undefined ? undefined : /^SQLITE_([A-Z]+)/.exec(code)?.[1]
}
