import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import initSqlJs from 'sql.js'
import { afterEach, describe, expect, it } from 'vitest'
import {
  betterSqlite3Driver,
  createSqliteStorage,
  type SqliteDriver,
  type SqlRow,
  sqlJsDriver,
} from '../../../adapters/storage/sqlite/index.js'
import { mapSqliteError } from '../../../adapters/storage/sqlite/map-error.js'
import { MIGRATIONS, SCHEMA_VERSION } from '../../../adapters/storage/sqlite/schema.js'
import type { StorageAdapter } from '../../../src/contracts/storage.js'
import { isSyncError, SyncError, type SyncErrorCode } from '../../../src/errors.js'
import { runStorageConformance } from '../../../src/testing/index.js'
import { caught, record } from './helpers.js'

const SQL = await initSqlJs()

/** A fresh directory per test, removed by `destroy`. */
function tempFiles() {
  let dir: string | undefined
  return {
    path(): string {
      dir ??= mkdtempSync(join(tmpdir(), 'pushsync-sqlite-'))
      return join(dir, 'pushsync.db')
    },
    remove(): void {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
      dir = undefined
    },
  }
}

/**
 * An async driver over a sync one, as React Native and wasm-worker drivers are: every call answers
 * on a later turn of the event loop. It fails loudly if the adapter ever overlaps two calls.
 */
function asyncDriver(inner: SqliteDriver): SqliteDriver {
  let inFlight = 0
  const later = async <T>(call: () => T): Promise<T> => {
    inFlight += 1
    try {
      if (inFlight > 1) throw new Error('overlapping driver calls')
      await new Promise((resolve) => setImmediate(resolve))
      return call()
    } finally {
      inFlight -= 1
    }
  }
  return {
    exec: (sql) => later(() => inner.exec(sql)),
    run: (sql, params) => later(() => inner.run(sql, params)),
    all: (sql, params) => later(() => inner.all(sql, params) as readonly SqlRow[]),
    close: () => later(() => inner.close()),
  }
}

runStorageConformance({
  name: 'sqlite (better-sqlite3, :memory:)',
  create: async () => createSqliteStorage({ driver: betterSqlite3Driver(new Database(':memory:')) }),
})

const files = tempFiles()
runStorageConformance({
  name: 'sqlite (better-sqlite3, file)',
  create: async () => createSqliteStorage({ driver: betterSqlite3Driver(new Database(files.path())) }),
  reopen: async () => createSqliteStorage({ driver: betterSqlite3Driver(new Database(files.path())) }),
  destroy: async () => files.remove(),
})

// sql.js keeps the database in memory; the fixture persists it the way an app would, by exporting
// the bytes when the storage closes and opening them again.
let saved: Uint8Array | undefined
const persistedSqlJs = (bytes?: Uint8Array) => {
  const db = new SQL.Database(bytes)
  const driver = sqlJsDriver(db)
  return createSqliteStorage({
    driver: {
      ...driver,
      close() {
        saved = db.export()
        return driver.close()
      },
    },
  })
}
runStorageConformance({
  name: 'sqlite (sql.js)',
  create: async () => persistedSqlJs(),
  reopen: async () => persistedSqlJs(saved),
  destroy: async () => {
    saved = undefined
  },
})

runStorageConformance({
  name: 'sqlite (an async driver)',
  create: async () =>
    createSqliteStorage({ driver: asyncDriver(betterSqlite3Driver(new Database(':memory:'))) }),
})

const ID = 'eu-west-1:00000000-0000-4000-8000-000000000001'

describe('createSqliteStorage', () => {
  const opened: StorageAdapter[] = []
  const temp = tempFiles()
  const open = (driver: SqliteDriver, name?: string) => {
    const storage = createSqliteStorage(name === undefined ? { driver } : { driver, name })
    opened.push(storage)
    return storage
  }

  afterEach(async () => {
    for (const storage of opened.splice(0)) await storage.close()
    temp.remove()
  })

  describe('schema', () => {
    it('creates nothing until the first transaction, then records the schema version', async () => {
      const db = new Database(':memory:')
      const storage = open(betterSqlite3Driver(db))
      const tables = () =>
        db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .pluck()
          .all() as string[]
      expect(tables()).toEqual([])
      await storage.read(async () => undefined)
      expect(tables()).toEqual([
        'pushsync_datasets',
        'pushsync_devices',
        'pushsync_records',
        'pushsync_schema',
      ])
      expect(db.prepare('SELECT version FROM pushsync_schema').all()).toEqual([{ version: SCHEMA_VERSION }])
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length)
    })

    it('keeps the data and does not migrate again when the file is reopened', async () => {
      const path = temp.path()
      const first = createSqliteStorage({ driver: betterSqlite3Driver(new Database(path)) })
      await first.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
      await first.close()

      const db = new Database(path)
      const statements: string[] = []
      const driver = betterSqlite3Driver(db)
      const second = open({
        ...driver,
        exec(sql) {
          statements.push(sql)
          return driver.exec(sql)
        },
      })
      expect(await second.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([record('a', '1')])
      expect(statements.filter((sql) => /^\s*CREATE (?:TABLE|INDEX) pushsync_/.test(sql))).toEqual([])
      expect(db.prepare('SELECT version FROM pushsync_schema').all()).toEqual([{ version: SCHEMA_VERSION }])
    })

    it('upgrades a version 1 file in place, keeping its rows', async () => {
      const path = temp.path()
      const old = new Database(path)
      for (const sql of MIGRATIONS[0] ?? []) old.exec(sql)
      old.exec(
        'CREATE TABLE pushsync_schema (version INTEGER NOT NULL); INSERT INTO pushsync_schema VALUES (1)',
      )
      const insert = old.prepare('INSERT INTO pushsync_records VALUES (?, ?, ?, ?, 0, 0, NULL, 0, ?)')
      insert.run(ID, 'settings', 'clean', 'c', 0)
      insert.run(ID, 'settings', 'dirty', 'd', 1)
      old.close()

      const db = new Database(path)
      const storage = open(betterSqlite3Driver(db))
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings', { dirtyOnly: true }))).toEqual([
        record('dirty', 'd'),
      ])
      expect(db.prepare('SELECT version FROM pushsync_schema').all()).toEqual([{ version: SCHEMA_VERSION }])
      const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
      expect(indexes.pluck().all()).toEqual(['pushsync_records_dirty'])
    })

    it('refuses a file from a newer schema version and leaves it alone', async () => {
      const db = new Database(':memory:')
      db.exec(
        'CREATE TABLE pushsync_schema (version INTEGER NOT NULL); INSERT INTO pushsync_schema VALUES (99)',
      )
      const storage = open(betterSqlite3Driver(db))
      const error = await caught(storage.read(async () => undefined))
      expect(isSyncError(error, 'STORAGE_UNAVAILABLE')).toBe(true)
      expect(error).toMatchObject({
        retryable: false,
        details: { schemaVersion: 99, supported: SCHEMA_VERSION },
      })
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual([
        'pushsync_schema',
      ])
      expect(db.inTransaction).toBe(false)
    })

    it('uses the partial index to list dirty records', () => {
      const db = new Database(':memory:')
      for (const statements of MIGRATIONS) for (const sql of statements) db.exec(sql)
      const plan = db
        .prepare(
          'EXPLAIN QUERY PLAN SELECT key FROM pushsync_records WHERE identity_id = ? AND dataset = ? AND dirty = 1',
        )
        .all(ID, 'settings') as Array<{ detail: string }>
      expect(plan.map((step) => step.detail).join('\n')).toContain('pushsync_records_dirty')
      db.close()
    })
  })

  describe('transactions', () => {
    it('rolls back a write whose COMMIT fails, reports it, and keeps working', async () => {
      const db = new Database(':memory:')
      const driver = betterSqlite3Driver(db)
      const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
      let failCommit = false
      const storage = open({
        ...driver,
        exec(sql) {
          if (sql === 'COMMIT' && failCommit) {
            failCommit = false
            throw full
          }
          return driver.exec(sql)
        },
      })
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('kept', '1')]))
      failCommit = true

      const error = await caught(storage.write((tx) => tx.putRecords(ID, 'settings', [record('lost', '2')])))
      expect(isSyncError(error, 'STORAGE_QUOTA')).toBe(true)
      expect((error as SyncError).cause).toBe(full)
      expect(db.inTransaction).toBe(false)
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([record('kept', '1')])
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('after', '3')]))
      expect((await storage.read((tx) => tx.listRecords(ID, 'settings'))).map((r) => r.key)).toEqual([
        'after',
        'kept',
      ])
    })

    it('commits nothing once a statement failed, even when the callback carried on', async () => {
      const db = new Database(':memory:')
      const driver = betterSqlite3Driver(db)
      const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
      const storage = open({
        ...driver,
        run(sql, params) {
          if (params.includes('fails')) {
            // As SQLite does after some errors: the whole transaction is rolled back.
            db.exec('ROLLBACK')
            throw full
          }
          return driver.run(sql, params)
        },
      })
      const seen: unknown[] = []
      const error = await caught(
        storage.write(async (tx) => {
          await tx.putRecords(ID, 'settings', [record('before', '1')])
          await tx.putRecords(ID, 'settings', [record('fails', '2')]).catch((e: unknown) => seen.push(e))
          await tx.putRecords(ID, 'settings', [record('after', '3')]).catch((e: unknown) => seen.push(e))
          return 'carried on'
        }),
      )
      expect(isSyncError(error, 'STORAGE_QUOTA')).toBe(true)
      expect(seen).toEqual([error, error])
      expect(db.inTransaction).toBe(false)
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([])
    })

    it('waits for a call the callback did not await before rolling back, on an async driver', async () => {
      const storage = open(asyncDriver(betterSqlite3Driver(new Database(':memory:'))))
      const failure = new Error('thrown while a call is in flight')
      const writing = storage.write((tx) => {
        // Two statements: without the wait the second would run after ROLLBACK and commit alone.
        void tx.putRecords(ID, 'settings', [record('a', '1'), record('b', '2')])
        throw failure
      })
      await expect(writing).rejects.toBe(failure)
      expect(await storage.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([])
    })

    it('uses BEGIN IMMEDIATE for writes and a plain BEGIN for reads', async () => {
      const driver = betterSqlite3Driver(new Database(':memory:'))
      const statements: string[] = []
      const storage = open({
        ...driver,
        exec(sql) {
          statements.push(sql)
          return driver.exec(sql)
        },
      })
      await storage.read(async () => undefined)
      statements.length = 0
      await storage.write(async () => undefined)
      await storage.read(async () => undefined)
      await storage
        .write(async () => {
          throw new Error('rolled back')
        })
        .catch(() => {})
      expect(statements).toEqual([
        'BEGIN IMMEDIATE',
        'COMMIT',
        'BEGIN',
        'COMMIT',
        'BEGIN IMMEDIATE',
        'ROLLBACK',
      ])
    })

    it('prepares each statement once on better-sqlite3', async () => {
      const db = new Database(':memory:')
      const prepared: string[] = []
      const storage = open(
        betterSqlite3Driver({
          prepare: (sql) => {
            prepared.push(sql)
            return db.prepare(sql)
          },
          exec: (sql) => db.exec(sql),
          close: () => db.close(),
        }),
      )
      for (let i = 0; i < 3; i += 1) {
        await storage.write((tx) => tx.putRecords(ID, 'settings', [record(`k${i}`, 'v')]))
        await storage.read((tx) => tx.listRecords(ID, 'settings'))
      }
      expect(prepared.length).toBeGreaterThan(0)
      expect(new Set(prepared).size).toBe(prepared.length)
    })

    it('reads numbers even from a connection set to return bigints', async () => {
      const db = new Database(':memory:')
      db.defaultSafeIntegers(true)
      const storage = open(betterSqlite3Driver(db))
      const big = { ...record('a', '1'), syncCount: Number.MAX_SAFE_INTEGER }
      await storage.write((tx) => tx.putRecords(ID, 'settings', [big]))
      expect(await storage.read((tx) => tx.getRecord(ID, 'settings', 'a'))).toEqual(big)
    })

    it('reports a value of an unexpected type as STORAGE_CORRUPT', async () => {
      const db = new Database(':memory:')
      const storage = open(betterSqlite3Driver(db))
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
      db.prepare("UPDATE pushsync_records SET value = x'00ff'").run()
      const error = await caught(storage.read((tx) => tx.getRecord(ID, 'settings', 'a')))
      expect(isSyncError(error, 'STORAGE_CORRUPT')).toBe(true)
      expect(error).toMatchObject({ details: { column: 'value', type: 'object' } })
    })
  })

  describe('errors from real SQLite', () => {
    it('reports a file that is not a database as STORAGE_CORRUPT', async () => {
      const path = temp.path()
      writeFileSync(path, 'this is not a SQLite database, only some text that is long enough '.repeat(20))
      const storage = open(betterSqlite3Driver(new Database(path)))
      const error = await caught(storage.read(async () => undefined))
      expect(isSyncError(error, 'STORAGE_CORRUPT')).toBe(true)
      expect(error).toMatchObject({ adapter: 'storage:sqlite', details: { sqliteCode: 'SQLITE_NOTADB' } })
    })

    it('reports a database another connection holds locked as retryable STORAGE_UNAVAILABLE', async () => {
      const path = temp.path()
      const other = new Database(path)
      other.exec('CREATE TABLE app (x); BEGIN IMMEDIATE; INSERT INTO app VALUES (1)')
      try {
        const storage = open(betterSqlite3Driver(new Database(path, { timeout: 0 })))
        const error = await caught(storage.write(async () => undefined))
        expect(isSyncError(error, 'STORAGE_UNAVAILABLE')).toBe(true)
        expect(error).toMatchObject({ retryable: true, details: { sqliteCode: 'SQLITE_BUSY' } })
      } finally {
        other.close()
      }
    })

    it.each([
      ['better-sqlite3', () => new Database(':memory:')],
      ['sql.js', () => new SQL.Database()],
    ] as const)('reports a %s connection closed underneath as STORAGE_CLOSED', async (_, make) => {
      const db = make()
      const storage = createSqliteStorage(
        'pragma' in db ? { driver: betterSqlite3Driver(db) } : { driver: sqlJsDriver(db) },
      )
      await storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
      db.close()
      const error = await caught(storage.read((tx) => tx.listRecords(ID, 'settings')))
      expect(isSyncError(error, 'STORAGE_CLOSED')).toBe(true)
      expect(error).toMatchObject({ adapter: 'storage:sqlite' })
    })
  })

  describe('mapSqliteError', () => {
    const context = { adapter: 'storage:sqlite', instance: 'main' }
    const withCode = (code: string | number, message = 'failed') =>
      Object.assign(new Error(message), { code })
    const cases: ReadonlyArray<
      readonly [label: string, error: unknown, code: SyncErrorCode, retryable: boolean]
    > = [
      ['SQLITE_FULL', withCode('SQLITE_FULL'), 'STORAGE_QUOTA', false],
      ['SQLITE_CORRUPT', withCode('SQLITE_CORRUPT'), 'STORAGE_CORRUPT', false],
      ['SQLITE_CORRUPT_INDEX (extended)', withCode('SQLITE_CORRUPT_INDEX'), 'STORAGE_CORRUPT', false],
      ['SQLITE_NOTADB', withCode('SQLITE_NOTADB'), 'STORAGE_CORRUPT', false],
      ['SQLITE_BUSY', withCode('SQLITE_BUSY'), 'STORAGE_UNAVAILABLE', true],
      ['SQLITE_BUSY_SNAPSHOT (extended)', withCode('SQLITE_BUSY_SNAPSHOT'), 'STORAGE_UNAVAILABLE', true],
      ['SQLITE_LOCKED', withCode('SQLITE_LOCKED'), 'STORAGE_UNAVAILABLE', true],
      ['numeric 13 (FULL)', withCode(13), 'STORAGE_QUOTA', false],
      ['numeric 11 (CORRUPT)', withCode(11), 'STORAGE_CORRUPT', false],
      ['numeric 26 (NOTADB)', withCode(26), 'STORAGE_CORRUPT', false],
      ['numeric 5 (BUSY)', withCode(5), 'STORAGE_UNAVAILABLE', true],
      ['numeric 517 (BUSY_SNAPSHOT)', withCode(517), 'STORAGE_UNAVAILABLE', true],
      ['numeric 262 (LOCKED_SHAREDCACHE)', withCode(262), 'STORAGE_UNAVAILABLE', true],
      ['the message of FULL', new Error('database or disk is full'), 'STORAGE_QUOTA', false],
      ['the message of CORRUPT', new Error('database disk image is malformed'), 'STORAGE_CORRUPT', false],
      ['the message of NOTADB', new Error('file is not a database'), 'STORAGE_CORRUPT', false],
      ['the message of BUSY', new Error('database is locked'), 'STORAGE_UNAVAILABLE', true],
      ['the message of LOCKED', new Error('database table is locked: t'), 'STORAGE_UNAVAILABLE', true],
      [
        'better-sqlite3 closed',
        new TypeError('The database connection is not open'),
        'STORAGE_CLOSED',
        false,
      ],
      ['sql.js closed (a string)', 'Database closed', 'STORAGE_CLOSED', false],
      ['sql.js closed statement', 'Statement closed', 'STORAGE_CLOSED', false],
      ['SQLITE_IOERR', withCode('SQLITE_IOERR_WRITE', 'disk I/O error'), 'STORAGE_UNAVAILABLE', false],
      ['an unknown error', new Error('no such table: pushsync_records'), 'STORAGE_UNAVAILABLE', false],
      ['a non-error value', 42, 'STORAGE_UNAVAILABLE', false],
    ]

    it.each(cases)('maps %s', (_, error, code, retryable) => {
      const mapped = mapSqliteError(error, context)
      expect(isSyncError(mapped, code)).toBe(true)
      expect(mapped).toMatchObject({ adapter: 'storage:sqlite', retryable, details: { instance: 'main' } })
      expect(mapped.cause).toBe(error)
      expect(mapped.message).toMatch(/^\[pushsync\] \[storage:sqlite\] /)
    })

    it('passes a SyncError through unchanged', () => {
      const error = new SyncError('STORAGE_CLOSED', 'closed')
      expect(mapSqliteError(error, context)).toBe(error)
    })

    it('records the SQLite code in the details', () => {
      expect(mapSqliteError(withCode('SQLITE_FULL'), context).details).toEqual({
        sqliteCode: 'SQLITE_FULL',
        instance: 'main',
      })
      expect(mapSqliteError(new Error('x'), { adapter: 'storage:sqlite' }).details).toEqual({})
    })
  })

  describe('closing', () => {
    it('closes the driver once, after the queued transactions', async () => {
      const driver = betterSqlite3Driver(new Database(':memory:'))
      const events: string[] = []
      const storage = createSqliteStorage({
        driver: {
          ...driver,
          close() {
            events.push('close')
            return driver.close()
          },
        },
      })
      const writing = storage
        .write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
        .then(() => events.push('written'))
      await Promise.all([storage.close(), storage.close(), writing])
      await storage.close()
      expect(events).toEqual(['written', 'close'])
    })

    it('names the instance in its STORAGE_CLOSED errors', async () => {
      const storage = createSqliteStorage({
        driver: betterSqlite3Driver(new Database(':memory:')),
        name: 'main',
      })
      await storage.close()
      const error = await caught(storage.read(async () => undefined))
      expect(isSyncError(error, 'STORAGE_CLOSED')).toBe(true)
      expect(error).toMatchObject({ adapter: 'storage:sqlite', details: { instance: 'main' } })
      expect((error as Error).message).toContain("'main'")
    })
  })
})
