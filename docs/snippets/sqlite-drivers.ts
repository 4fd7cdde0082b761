/**
 * SQLite drivers for React Native libraries: the four methods of `SqliteDriver` over the library's
 * own API. The libraries are declared with the part of their API used here. Compiled, not run.
 */
import { createSqliteStorage, type SqliteDriver, type SqlRow, type SqlValue } from 'pushsync/storage/sqlite'

declare const SQLite: {
  openDatabaseAsync(name: string): Promise<{
    execAsync(sql: string): Promise<void>
    runAsync(sql: string, params: SqlValue[]): Promise<unknown>
    getAllAsync<T>(sql: string, params: SqlValue[]): Promise<T[]>
    closeAsync(): Promise<void>
  }>
}
declare const open: (options: { name: string }) => {
  execute(sql: string, params?: SqlValue[]): Promise<{ rows?: SqlRow[] }>
  close(): void
}

export async function expoSqliteStorage() {
  // #region expo
  // import * as SQLite from 'expo-sqlite' (SDK 51 and later)
  const db = await SQLite.openDatabaseAsync('pushsync.db')
  const driver: SqliteDriver = {
    exec: (sql) => db.execAsync(sql),
    run: (sql, params) => db.runAsync(sql, [...params]),
    all: (sql, params) => db.getAllAsync<SqlRow>(sql, [...params]),
    close: () => db.closeAsync(),
  }
  const storage = createSqliteStorage({ driver })
  // #endregion expo
  return storage
}

export function opSqliteStorage() {
  // #region op
  // import { open } from '@op-engineering/op-sqlite'
  const db = open({ name: 'pushsync.db' })
  const driver: SqliteDriver = {
    exec: (sql) => db.execute(sql),
    run: (sql, params) => db.execute(sql, [...params]),
    // Older releases return the rows as `rows._array`.
    all: async (sql, params) => (await db.execute(sql, [...params])).rows ?? [],
    close: () => db.close(),
  }
  // #endregion op
  return createSqliteStorage({ driver })
}
