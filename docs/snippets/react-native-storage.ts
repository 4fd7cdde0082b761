/**
 * Getting started in React Native: the SQLite storage over the app's SQLite library (expo-sqlite
 * here). Compiled, not run.
 */
// #region storage
import * as SQLite from 'expo-sqlite'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createSqliteStorage, type SqliteDriver, type SqlRow } from 'pushsync/storage/sqlite'

export async function openStorage() {
  const db = await SQLite.openDatabaseAsync('pushsync.db')
  const driver: SqliteDriver = {
    exec: (sql) => db.execAsync(sql),
    run: (sql, params) => db.runAsync(sql, [...params]),
    all: (sql, params) => db.getAllAsync<SqlRow>(sql, [...params]),
    close: () => db.closeAsync(),
  }
  return createSqliteStorage({ driver })
}

// Or, for a session that need not survive a restart (a demo, a test): createMemoryStorage()
export const ephemeralStorage = createMemoryStorage
// #endregion storage
