import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.js'
import { openSqliteStore, SCHEMA_VERSION } from '../../src/store/sqlite.js'
import { runStoreConformance } from './store.suite.js'

const dir = mkdtempSync(join(tmpdir(), 'pushsync-store-'))
let files = 0
const tempPath = (): string => join(dir, `store-${++files}.db`)

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

runStoreConformance('sqlite :memory:', async () => openSqliteStore(':memory:'))
runStoreConformance('sqlite file', async () => openSqliteStore(tempPath()))

describe('sqlite file store', () => {
  const dataset = {
    identityPoolId: 'pool',
    identityId: 'id',
    name: 'ds',
    syncCount: 2,
    exists: false,
    deletedAtSyncCount: 1,
    creationDate: 10,
    lastModifiedDate: 20,
    lastModifiedBy: null,
    numRecords: 1,
    dataStorage: 7,
    mergedInto: 'other',
  }
  const records = [
    {
      key: '__proto__',
      value: null,
      syncCount: 2,
      lastModifiedDate: 5,
      lastModifiedBy: null,
      deviceLastModifiedDate: null,
    },
    {
      key: '😀\u0000',
      value: '',
      syncCount: 1,
      lastModifiedDate: 6,
      lastModifiedBy: 'dev',
      deviceLastModifiedDate: 4,
    },
  ]

  it('keeps its data and schema version across reopening, in WAL mode', async () => {
    const path = tempPath()
    const first = openSqliteStore(path)
    await first.transaction(async (t) => {
      await t.putSetting('secret', 'value')
      await t.putIdentity({ identityId: 'id', identityPoolId: 'pool', createdAt: 1, mergedInto: null })
      await t.putDataset(dataset)
      await t.putRecords('id', 'ds', records)
      await t.putDevice({
        deviceId: 'd',
        identityPoolId: 'pool',
        identityId: 'id',
        platform: 'GCM',
        token: 't',
        createdAt: 3,
      })
      await t.putSubscription('id', 'ds', 'd')
      await t.spendSession('tok', 100)
    })
    await first.close()

    const second = openSqliteStore(path)
    await second.transaction(async (t) => {
      expect(await t.getSetting('secret')).toBe('value')
      expect(await t.getIdentity('id')).toEqual({
        identityId: 'id',
        identityPoolId: 'pool',
        createdAt: 1,
        mergedInto: null,
      })
      expect(await t.getDataset('id', 'ds')).toEqual(dataset)
      expect(await t.listRecords('id', 'ds', { afterSyncCount: 0 })).toEqual([records[1], records[0]])
      expect((await t.listSubscribedDevices('id', 'ds')).map((d) => d.deviceId)).toEqual(['d'])
      expect(await t.isSessionSpent('tok')).toBe(true)
    })
    await second.close()

    const raw = new Database(path, { readonly: true })
    try {
      expect(raw.prepare('SELECT version FROM schema_version ORDER BY version').all()).toEqual(
        Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
      )
      expect(SCHEMA_VERSION).toBe(5)
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
    } finally {
      raw.close()
    }
  })

  it('makes a commit visible to another connection at once, and nothing of a rolled-back one', async () => {
    const path = tempPath()
    const store = openSqliteStore(path)
    try {
      await store.transaction((t) => t.putSetting('committed', 'yes'))
      await expect(
        store.transaction(async (t) => {
          await t.putSetting('rolled back', 'yes')
          throw new Error('no')
        }),
      ).rejects.toThrow('no')
      const raw = new Database(path, { readonly: true })
      try {
        expect(raw.prepare('SELECT name, value FROM settings').all()).toEqual([
          { name: 'committed', value: 'yes' },
        ])
      } finally {
        raw.close()
      }
    } finally {
      await store.close()
    }
  })

  it('keeps committed transactions and loses the open one when the process is killed', async () => {
    const path = tempPath()
    const store = fileURLToPath(new URL('../../src/store/sqlite.ts', import.meta.url))
    // The child commits, starts a second transaction and kills itself in the middle of it.
    const script = `
      import { openSqliteStore } from ${JSON.stringify(store)}
      const store = openSqliteStore(${JSON.stringify(path)})
      await store.transaction((t) => t.putSetting('committed', 'yes'))
      await store.transaction(async (t) => {
        await t.putSetting('in flight', 'yes')
        process.kill(process.pid, 'SIGKILL')
        await new Promise(() => {})
      })
    `
    const child = promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
    ])
    await expect(child).rejects.toMatchObject({ signal: 'SIGKILL' })
    const reopened = openSqliteStore(path)
    try {
      expect(await reopened.transaction((t) => t.getSetting('committed'))).toBe('yes')
      expect(await reopened.transaction((t) => t.getSetting('in flight'))).toBeUndefined()
    } finally {
      await reopened.close()
    }
  })

  it('dates the rows waiting in an outbox of schema version 2 when it migrates it', async () => {
    const path = tempPath()
    await openSqliteStore(path).close()
    // Back to version 2: the outbox without queued_at (nor version 4's claim), one row never tried
    // and one retried.
    const raw = new Database(path)
    raw.exec('ALTER TABLE outbox DROP COLUMN queued_at')
    raw.exec('ALTER TABLE outbox DROP COLUMN claim_holder')
    raw.exec('DROP TABLE sync_session_counts')
    raw.exec('DELETE FROM schema_version WHERE version >= 3')
    const insert = raw.prepare(
      `INSERT INTO outbox (device_id, dataset, identity_pool_id, identity_id, sync_count, attempts, not_before,
        expires_at) VALUES (?, 'ds', 'pool', 'id', 1, ?, ?, ?)`,
    )
    const day = 86_400_000
    insert.run('fresh', 0, 5000, 5000 + day)
    insert.run('retried', 3, 9000, 2000 + day)
    raw.close()
    const store = openSqliteStore(path)
    try {
      const rows = await store.transaction((t) => t.dueOutbox(10_000, 10))
      expect(rows.map((row) => [row.deviceId, row.queuedAt])).toEqual([
        ['fresh', 5000],
        ['retried', 2000],
      ])
      expect(await store.readiness()).toEqual({ ready: true })
    } finally {
      await store.close()
    }
  })

  it('keeps the sync sessions a pool counted before version 4 as the base of its count', async () => {
    const path = tempPath()
    await openSqliteStore(path).close()
    const raw = new Database(path)
    raw
      .prepare(
        `INSERT INTO pools (identity_pool_id, sync_sessions_count, bulk_publish_status) VALUES ('pool', 5, 'NOT_STARTED')`,
      )
      .run()
    raw.close()
    const store = openSqliteStore(path)
    try {
      expect(await store.transaction((t) => t.syncSessionsCount('pool'))).toBe(5)
      await store.transaction((t) => t.countSyncSession('pool', 'id'))
      await store.transaction(async (t) => {
        const pool = await t.getPool('pool')
        if (pool !== undefined) await t.putPool({ ...pool, events: '{}' })
      })
      expect(await store.transaction((t) => t.syncSessionsCount('pool'))).toBe(6)
    } finally {
      await store.close()
    }
  })

  it('is not ready once another process has moved the schema past its version', async () => {
    const path = tempPath()
    const store = openSqliteStore(path)
    try {
      expect(await store.readiness()).toEqual({ ready: true })
      const raw = new Database(path)
      raw.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(SCHEMA_VERSION + 1, 0)
      raw.close()
      expect(await store.readiness()).toEqual({
        ready: false,
        reason: `the schema is at version ${SCHEMA_VERSION + 1}, not ${SCHEMA_VERSION}`,
      })
    } finally {
      await store.close()
    }
  })

  it('refuses a database with a newer schema than it knows', async () => {
    const path = tempPath()
    await openSqliteStore(path).close()
    const raw = new Database(path)
    raw.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(SCHEMA_VERSION + 1, 0)
    raw.close()
    expect(() => openSqliteStore(path)).toThrow(/newer/)
  })
})

describe('openStore', () => {
  it('opens :memory: as an in-memory SQLite database', async () => {
    const store = await openStore(':memory:')
    expect(store.kind).toBe('sqlite')
    await store.transaction((t) => t.putSetting('a', 'b'))
    expect(await store.transaction((t) => t.getSetting('a'))).toBe('b')
    await store.close()
  })

  it('opens a path as a SQLite file', async () => {
    const path = tempPath()
    const store = await openStore(path)
    expect(store.kind).toBe('sqlite')
    await store.close()
    expect(existsSync(path)).toBe(true)
  })

  it('takes PostgreSQL URLs for the PostgreSQL store, not for a file: one it cannot reach fails without echoing the password', async () => {
    // Port 1: nothing listens there.
    for (const url of ['postgres://user:hunter2@127.0.0.1:1/db', 'postgresql://127.0.0.1:1/db']) {
      const failure = openStore(url)
      await expect(failure).rejects.toThrow(/PostgreSQL/)
      await expect(failure).rejects.not.toThrow(/hunter2/)
    }
    expect(existsSync('postgres:')).toBe(false)
    expect(existsSync('postgresql:')).toBe(false)
  })
})
