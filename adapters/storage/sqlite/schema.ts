import { SyncError } from '../../../src/errors.js'
import type { Connection } from './connection.js'

/**
 * The schema of the SQLite storage and its migrations.
 *
 * Every table name starts with `pushsync_`: the adapter may share a database file with the app's own
 * tables. `pushsync_schema` holds the version the file was last migrated to; migration `i` (0-based)
 * takes a file from version `i` to `i + 1`. Released migrations are never edited: a change to the
 * schema is a new entry at the end.
 *
 * Tables are `WITHOUT ROWID`: every lookup is by the composite text primary key, which would
 * otherwise be stored twice (once in the table, once in its key index).
 */
export const MIGRATIONS: ReadonlyArray<readonly string[]> = [
  // 1: the tables.
  [
    `CREATE TABLE pushsync_datasets (
      identity_id TEXT NOT NULL,
      name TEXT NOT NULL,
      last_sync_count INTEGER NOT NULL,
      creation_date INTEGER NOT NULL,
      last_modified_date INTEGER NOT NULL,
      last_modified_by TEXT,
      last_sync_date INTEGER NOT NULL,
      PRIMARY KEY (identity_id, name)
    ) WITHOUT ROWID`,
    `CREATE TABLE pushsync_records (
      identity_id TEXT NOT NULL,
      dataset TEXT NOT NULL,
      key TEXT NOT NULL,
      value TEXT,
      sync_count INTEGER NOT NULL,
      last_modified_date INTEGER NOT NULL,
      last_modified_by TEXT,
      device_last_modified_date INTEGER NOT NULL,
      dirty INTEGER NOT NULL CHECK (dirty IN (0, 1)),
      PRIMARY KEY (identity_id, dataset, key)
    ) WITHOUT ROWID`,
    `CREATE TABLE pushsync_devices (
      identity_id TEXT NOT NULL,
      platform TEXT NOT NULL,
      device_id TEXT NOT NULL,
      token TEXT NOT NULL,
      PRIMARY KEY (identity_id, platform)
    ) WITHOUT ROWID`,
  ],
  // 2: the dirty listing. Partial, so it holds only the few rows awaiting a push, not every record.
  ['CREATE INDEX pushsync_records_dirty ON pushsync_records (identity_id, dataset, key) WHERE dirty = 1'],
]

/** The version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the file to {@link SCHEMA_VERSION} in one `BEGIN IMMEDIATE` transaction: the write lock
 * keeps two processes opening the same file from migrating it twice, and a failed migration
 * leaves the file as it was.
 */
export async function migrate(db: Connection, adapter: string): Promise<void> {
  await db.exec('BEGIN IMMEDIATE')
  try {
    await db.exec('CREATE TABLE IF NOT EXISTS pushsync_schema (version INTEGER NOT NULL)')
    const [row] = await db.all('SELECT MAX(version) AS version FROM pushsync_schema', [])
    const current = row === undefined || row.version === null ? 0 : db.number(row, 'version')
    if (current > SCHEMA_VERSION) {
      throw new SyncError(
        'STORAGE_UNAVAILABLE',
        `the database has schema version ${current}, newer than the ${SCHEMA_VERSION} this version of pushsync knows: upgrade pushsync`,
        { adapter, retryable: false, details: { schemaVersion: current, supported: SCHEMA_VERSION } },
      )
    }
    for (const statements of MIGRATIONS.slice(current)) {
      for (const sql of statements) await db.exec(sql)
    }
    if (current < SCHEMA_VERSION) {
      await db.run('DELETE FROM pushsync_schema', [])
      await db.run('INSERT INTO pushsync_schema (version) VALUES (?)', [SCHEMA_VERSION])
    }
    await db.exec('COMMIT')
  } catch (error) {
    await db.rollback()
    throw error
  }
}
