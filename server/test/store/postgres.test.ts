import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import pg from 'pg'
import { resolveLimits } from 'pushsync/core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createSessionTokens } from '../../src/auth/session-token.js'
import type { ChangeListener } from '../../src/push/change.js'
import { createPushDispatcher } from '../../src/push/dispatcher.js'
import type { PushMessage, PushSender } from '../../src/push/sender.js'
import {
  type DatasetRow,
  OUTBOX_CLAIM_RECHECK_MS,
  type OutboxRow,
  type PoolRow,
  type SyncStore,
} from '../../src/store/contract.js'
import { openStore } from '../../src/store/index.js'
import {
  openPostgresStore,
  POSTGRES_SCHEMA_VERSION,
  type PostgresStoreOptions,
} from '../../src/store/postgres.js'
import { CLAIM_LOCK_SPACE } from '../../src/store/sql/statements.js'
import { openSqliteStore } from '../../src/store/sqlite.js'
import type { OperationContext } from '../../src/sync/context.js'
import { updateRecords } from '../../src/sync/update-records.js'
import { ADMIN_URL, postgresUnreachable, testDatabase } from '../helpers/postgres.js'
import { runStoreConformance } from './store.suite.js'

/**
 * The PostgreSQL store, against the server at PUSHSYNC_TEST_POSTGRES_URL. This file works in a
 * database of its own, created here and dropped at the end, and gives every store a schema of its
 * own in it. Without a reachable server the tests skip and say why, unless
 * PUSHSYNC_REQUIRE_POSTGRES=1 (set by CI), which makes its absence a failure.
 */
const unreachable = await postgresUnreachable('the PostgreSQL store tests')
const { name: databaseName, url: databaseUrl } = testDatabase()

let admin: pg.Client | undefined
/** A client of this file's database, for looking under the store. */
let raw: pg.Client | undefined
let schemas = 0

/** A new, empty schema; stores opened with its options live in it. */
const newSchema = async (): Promise<{ schema: string; config: pg.PoolConfig }> => {
  const schema = `s${++schemas}`
  await raw?.query(`CREATE SCHEMA ${schema}`)
  return { schema, config: { connectionString: databaseUrl, options: `-c search_path=${schema}`, max: 4 } }
}

const openIn = (config: pg.PoolConfig, options?: PostgresStoreOptions): Promise<SyncStore> =>
  openPostgresStore(config, options)

const rawRows = async (sql: string, values: unknown[] = []): Promise<Record<string, unknown>[]> => {
  if (raw === undefined) throw new Error('no database')
  return (await raw.query(sql, values)).rows
}

// Every store call is a round trip to the server: the conformance suite's model test (a thousand
// runs of a few dozen calls each) takes tens of seconds here where SQLite takes a few.
vi.setConfig({ testTimeout: 240_000 })

describe.skipIf(unreachable !== undefined)('PostgreSQL', () => {
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${databaseName}`)
    raw = new pg.Client({ connectionString: databaseUrl })
    await raw.connect()
  })

  afterAll(async () => {
    await raw?.end()
    await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`)
    await admin?.end()
  })

  runStoreConformance('postgres', async () => openIn((await newSchema()).config))

  describe('postgres store', () => {
    const ID = 'us-east-1:identity-a'
    const POOL = 'us-east-1:pool'
    const dataset = (over: Partial<DatasetRow> = {}): DatasetRow => ({
      identityPoolId: POOL,
      identityId: ID,
      name: 'ds',
      syncCount: 0,
      exists: true,
      deletedAtSyncCount: 0,
      creationDate: 1,
      lastModifiedDate: 1,
      lastModifiedBy: null,
      numRecords: 0,
      dataStorage: 0,
      mergedInto: null,
      ...over,
    })
    const outbox = (deviceId: string, over: Partial<OutboxRow> = {}): OutboxRow => ({
      deviceId,
      identityPoolId: POOL,
      identityId: ID,
      datasetName: 'ds',
      syncCount: 1,
      attempts: 0,
      notBefore: 10,
      expiresAt: 1_000_000,
      queuedAt: 10,
      ...over,
    })
    const poolRow = (): PoolRow => ({
      identityPoolId: POOL,
      pushSync: null,
      cognitoStreams: null,
      events: null,
      bulkPublishStatus: 'NOT_STARTED',
      bulkPublishStartTime: null,
      bulkPublishCompleteTime: null,
      bulkPublishFailureMessage: null,
    })

    /**
     * Two stores on one schema: what two server processes sharing a database are. Each connects
     * under an application name of its own (`a`, `b`), so a test can find its connections.
     */
    const twoProcesses = async (options?: PostgresStoreOptions) => {
      const { schema, config } = await newSchema()
      const [a, b] = await Promise.all(
        ['a', 'b'].map((name) => openIn({ ...config, application_name: `${schema}-${name}` }, options)),
      )
      return { schema, a: a as SyncStore, b: b as SyncStore }
    }

    it('loses no update when two processes write one identity at once', async () => {
      const { a, b } = await twoProcesses()
      try {
        await a.transaction((t) => t.putDataset(dataset()))
        const written: number[] = []
        // An UpdateRecords in miniature: read the counter, wait, write the next one and its record.
        const update = (store: SyncStore, i: number) =>
          store.transaction(
            async (t) => {
              const row = await t.getDataset(ID, 'ds')
              if (row === undefined) throw new Error('no dataset')
              await sleep(i % 3)
              const syncCount = row.syncCount + 1
              await t.putRecords(ID, 'ds', [
                {
                  key: `k${i}`,
                  value: `${i}`,
                  syncCount,
                  lastModifiedDate: i,
                  lastModifiedBy: null,
                  deviceLastModifiedDate: null,
                },
              ])
              await t.putDataset({ ...row, syncCount, numRecords: row.numRecords + 1 })
              written.push(syncCount)
            },
            { lock: ID },
          )
        const writes = 80
        await Promise.all(Array.from({ length: writes }, (_, i) => update(i % 2 === 0 ? a : b, i)))
        const final = await b.transaction((t) => t.getDataset(ID, 'ds'))
        expect(final?.syncCount).toBe(writes)
        expect(final?.numRecords).toBe(writes)
        expect([...written].sort((x, y) => x - y)).toEqual(Array.from({ length: writes }, (_, i) => i + 1))
        const records = await a.transaction((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0 }))
        expect(records.map((r) => r.syncCount)).toEqual(Array.from({ length: writes }, (_, i) => i + 1))
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('keeps out writers of either identity while a transaction locks two (a merge), in any order, without deadlock', async () => {
      const { a, b } = await twoProcesses()
      const OTHER = 'us-east-1:identity-b'
      try {
        await a.transaction(async (t) => {
          await t.putDataset(dataset())
          await t.putDataset(dataset({ identityId: OTHER }))
        })
        // Each transaction bumps both counters (a merge) or one (an UpdateRecords), reading first.
        const bump = (store: SyncStore, ids: readonly string[], lock: string | readonly string[]) =>
          store.transaction(
            async (t) => {
              const rows = await Promise.all(ids.map((id) => t.getDataset(id, 'ds')))
              await sleep(1)
              for (const row of rows)
                if (row !== undefined) await t.putDataset({ ...row, syncCount: row.syncCount + 1 })
            },
            { lock },
          )
        const runs: Promise<void>[] = []
        for (let i = 0; i < 20; i++) {
          const store = i % 2 === 0 ? a : b
          // Both orders of the pair: a store that took the locks as given would deadlock here.
          runs.push(bump(store, [ID, OTHER], i % 4 < 2 ? [ID, OTHER] : [OTHER, ID]))
          runs.push(bump(store === a ? b : a, [ID], ID))
          runs.push(bump(store, [OTHER], OTHER))
        }
        await Promise.all(runs)
        const [one, two] = await a.transaction((t) =>
          Promise.all([t.getDataset(ID, 'ds'), t.getDataset(OTHER, 'ds')]),
        )
        expect(one?.syncCount).toBe(40)
        expect(two?.syncCount).toBe(40)
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('loses no sync session count when two processes write different identities of one pool', async () => {
      const { a, b } = await twoProcesses()
      try {
        // As UpdateRecords counts sync sessions: under the lock of its identity, not of the pool.
        const count = (store: SyncStore, i: number) =>
          store.transaction(
            async (t) => {
              await sleep(i % 2)
              await t.countSyncSession(POOL, `identity-${i % 5}`)
            },
            { lock: `identity-${i % 5}` },
          )
        const writes = 40
        await Promise.all(Array.from({ length: writes }, (_, i) => count(i % 2 === 0 ? a : b, i)))
        expect(await a.transaction((t) => t.syncSessionsCount(POOL))).toBe(writes)
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('never makes an UpdateRecords wait for one of another identity of the pool, in this process or another', async () => {
      const { schema, a, b } = await twoProcesses()
      const sessions = createSessionTokens('a secret of this test')
      const pool = `us-east-1:${randomUUID()}`
      const [first, second, third] = [1, 2, 3].map(() => `us-east-1:${randomUUID()}`)
      let release = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      let entered = () => {}
      const inside = new Promise<void>((resolve) => {
        entered = resolve
      })
      // The first identity's UpdateRecords stops inside its transaction, after everything it
      // writes (records, dataset, spent token, session count), and stays open there.
      const holdFirst: ChangeListener = {
        async inTransaction(_tx, change) {
          if (change.identityId !== first) return
          entered()
          await gate
        },
      }
      const write = (store: SyncStore, identityId: string) => {
        const now = Date.now()
        const context: OperationContext = {
          store,
          principal: { kind: 'identity', identityPoolId: pool, identityId },
          now,
          limits: resolveLimits(),
          sessions,
          randomId: randomUUID,
          changes: holdFirst,
        }
        const binding = { identityPoolId: pool, identityId, datasetName: 'ds' }
        return updateRecords(context, {
          ...binding,
          body: {
            SyncSessionToken: sessions.issue(binding, now, randomUUID),
            RecordPatches: [{ Op: 'replace', Key: 'k', Value: identityId, SyncCount: 0 }],
          },
        })
      }
      /** Resolves once a backend of this test is seen waiting for a lock; `stop` ends the watch. */
      let watching = true
      const waitingForLock = async (): Promise<string> => {
        while (watching) {
          const waiting = await rawRows(
            `SELECT wait_event FROM pg_stat_activity
             WHERE application_name LIKE $1 AND wait_event_type = 'Lock'`,
            [`${schema}-%`],
          )
          if (waiting.length > 0) return `waited for a lock (${String(waiting[0]?.wait_event)})`
          await sleep(5)
        }
        return 'stopped'
      }
      const firstWrite = write(a, first ?? '')
      try {
        await inside
        // Another identity through the same process, and one through another process.
        for (const [store, identityId] of [
          [a, second],
          [b, third],
        ] as const) {
          const outcome = await Promise.race([
            write(store, identityId ?? '').then(() => 'committed'),
            waitingForLock(),
          ])
          expect(outcome).toBe('committed')
        }
      } finally {
        watching = false
        release()
        await firstWrite.catch(() => undefined)
      }
      await firstWrite
      expect(await a.transaction((t) => t.syncSessionsCount(pool))).toBe(3)
      await Promise.all([a.close(), b.close()])
    })

    it('agrees on one setting when two processes create it at once', async () => {
      const { a, b } = await twoProcesses()
      try {
        // As the server makes its token secret on first start.
        const secret = (store: SyncStore, mine: string) =>
          store.transaction(async (t) => {
            const existing = await t.getSetting('secret', { forUpdate: true })
            if (existing !== undefined) return existing
            await sleep(5)
            await t.putSetting('secret', mine)
            return mine
          })
        const [fromA, fromB] = await Promise.all([secret(a, 'a'), secret(b, 'b')])
        expect(fromA).toBe(fromB)
        expect(await a.transaction((t) => t.getSetting('secret'))).toBe(fromA)
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('applies the migrations once when several processes open a new database at once', async () => {
      const { schema, config } = await newSchema()
      const stores = await Promise.all(Array.from({ length: 4 }, () => openIn(config)))
      try {
        const versions = await rawRows(`SELECT version FROM ${schema}.schema_version ORDER BY version`)
        expect(versions).toEqual(
          Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
        )
        expect(POSTGRES_SCHEMA_VERSION).toBe(5)
        for (const store of stores) await store.transaction((t) => t.putSetting('ok', 'yes'))
      } finally {
        await Promise.all(stores.map((store) => store.close()))
      }
      // Opening again applies nothing.
      const again = await openIn(config)
      await again.close()
      expect(await rawRows(`SELECT COUNT(*)::int AS n FROM ${schema}.schema_version`)).toEqual([
        { n: POSTGRES_SCHEMA_VERSION },
      ])
    })

    it('refuses a database with a newer schema than it knows', async () => {
      const { schema, config } = await newSchema()
      await (await openIn(config)).close()
      await rawRows(`INSERT INTO ${schema}.schema_version (version, applied_at) VALUES ($1, 0)`, [
        POSTGRES_SCHEMA_VERSION + 1,
      ])
      await expect(openIn(config)).rejects.toThrow(/newer/)
    })

    it('dates the rows waiting in an outbox of schema version 2 when it migrates it', async () => {
      const { schema, config } = await newSchema()
      await (await openIn(config)).close()
      // Back to version 2: the outbox without queued_at, with its lease columns, without version 4.
      await rawRows(`ALTER TABLE ${schema}.outbox DROP COLUMN queued_at`)
      await rawRows(`ALTER TABLE ${schema}.outbox DROP COLUMN claim_holder`)
      await rawRows(
        `ALTER TABLE ${schema}.outbox ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until BIGINT`,
      )
      await rawRows(`DROP TABLE ${schema}.sync_session_counts`)
      await rawRows(`DELETE FROM ${schema}.schema_version WHERE version >= 3`)
      const day = 86_400_000
      for (const [device, attempts, notBefore, expiresAt] of [
        ['fresh', 0, 5000, 5000 + day],
        ['retried', 3, 9000, 2000 + day],
      ] as const) {
        await rawRows(
          `INSERT INTO ${schema}.outbox (device_id, dataset, identity_pool_id, identity_id, sync_count, attempts,
            not_before, expires_at) VALUES ($1, 'ds', 'pool', 'id', 1, $2, $3, $4)`,
          [device, attempts, notBefore, expiresAt],
        )
      }
      const store = await openIn(config)
      try {
        const rows = await store.transaction((t) => t.dueOutbox(10_000, 10))
        expect(rows.map((row) => [row.deviceId, row.queuedAt])).toEqual([
          ['fresh', 5000],
          ['retried', 2000],
        ])
      } finally {
        await store.close()
      }
    })

    describe('readiness', () => {
      it('is not ready once another process has moved the schema past its version', async () => {
        const { schema, config } = await newSchema()
        const store = await openIn(config)
        try {
          expect(await store.readiness()).toEqual({ ready: true })
          await rawRows(`INSERT INTO ${schema}.schema_version (version, applied_at) VALUES ($1, 0)`, [
            POSTGRES_SCHEMA_VERSION + 1,
          ])
          expect(await store.readiness()).toEqual({
            ready: false,
            reason: `the schema is at version ${POSTGRES_SCHEMA_VERSION + 1}, not ${POSTGRES_SCHEMA_VERSION}`,
          })
        } finally {
          await store.close()
        }
      })

      it('is not ready while the bus has subscribers and its connection is down, and ready once it is back', async () => {
        const { config } = await newSchema()
        const store = await openIn({ ...config, application_name: 'pushsync-readiness-bus' })
        try {
          // Nobody subscribed yet: the store's own connection is up, holding its outbox claims.
          expect(await store.readiness()).toEqual({ ready: true })
          const stop = store.bus?.subscribe(() => {})
          await store.bus?.listening()
          expect(await store.readiness()).toEqual({ ready: true })
          // The database ends the bus's connection (a restart, a failover, an admin).
          const ended = await rawRows(
            `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
             WHERE application_name = 'pushsync-readiness-bus' AND query LIKE 'LISTEN%'`,
          )
          expect(ended).toEqual([{ ended: true }])
          await vi.waitUntil(async () => !(await store.readiness()).ready, { timeout: 5000, interval: 20 })
          expect(await store.readiness()).toEqual({
            ready: false,
            reason: "the store's own connection (change bus, outbox claims) is down",
          })
          // It reconnects by itself after a pause.
          await vi.waitUntil(async () => (await store.readiness()).ready, { timeout: 10_000, interval: 50 })
          stop?.()
        } finally {
          await store.close()
        }
      })
    })

    it('leaves nothing of a failed transaction, and keeps its connection usable', async () => {
      const { schema, config } = await newSchema()
      // One connection: the next transactions run on the connection the failed ones used.
      const store = await openIn({ ...config, max: 1 })
      try {
        const tables = [
          'settings',
          'identities',
          'logins',
          'datasets',
          'records',
          'devices',
          'subscriptions',
          'spent_sessions',
          'pools',
          'sync_session_counts',
          'outbox',
        ]
        const counts = async () => {
          const out: Record<string, unknown> = {}
          for (const table of tables) {
            out[table] = (await rawRows(`SELECT COUNT(*)::int AS n FROM ${schema}.${table}`))[0]?.n
          }
          return out
        }
        const empty = await counts()
        expect(Object.values(empty).every((n) => n === 0)).toBe(true)
        const writeEverything = async (t: Parameters<Parameters<SyncStore['transaction']>[0]>[0]) => {
          await t.putSetting('s', 'v')
          await t.putIdentity({ identityId: ID, identityPoolId: POOL, createdAt: 1, mergedInto: null })
          await t.putLogin({ identityPoolId: POOL, provider: 'p', subject: 's', identityId: ID })
          await t.putDataset(dataset())
          await t.putRecords(ID, 'ds', [
            {
              key: 'k',
              value: 'v',
              syncCount: 1,
              lastModifiedDate: 1,
              lastModifiedBy: null,
              deviceLastModifiedDate: null,
            },
          ])
          await t.putDevice({
            deviceId: 'd',
            identityPoolId: POOL,
            identityId: ID,
            platform: 'GCM',
            token: 't',
            createdAt: 1,
          })
          await t.putSubscription(ID, 'ds', 'd')
          await t.spendSession('tok', 100)
          await t.putPool(poolRow())
          await t.countSyncSession(POOL, ID)
          await t.putOutbox([outbox('d')])
        }
        // The callback fails...
        await expect(
          store.transaction(
            async (t) => {
              await writeEverything(t)
              expect((await counts()).records).toBe(0) // not visible outside before commit
              throw new Error('boom')
            },
            { lock: ID },
          ),
        ).rejects.toThrow('boom')
        expect(await counts()).toEqual(empty)
        // ...or a statement does (a second device id for one identity, platform and token).
        await expect(
          store.transaction(async (t) => {
            await writeEverything(t)
            await t.putDevice({
              deviceId: 'other',
              identityPoolId: POOL,
              identityId: ID,
              platform: 'GCM',
              token: 't',
              createdAt: 1,
            })
          }),
        ).rejects.toThrow(/duplicate key/)
        expect(await counts()).toEqual(empty)
        // The connection is back in a clean state.
        await store.transaction(writeEverything)
        expect(Object.values(await counts()).every((n) => n === 1)).toBe(true)
      } finally {
        await store.close()
      }
    })

    it('round-trips times and counts past 32 bits as numbers, and text with U+0000 to U+0002', async () => {
      const { config } = await newSchema()
      const store = await openIn(config)
      try {
        const big = dataset({
          syncCount: 2 ** 40,
          creationDate: Date.now(),
          lastModifiedDate: Number.MAX_SAFE_INTEGER,
          dataStorage: 2 ** 33,
          numRecords: 2 ** 31,
          deletedAtSyncCount: 2 ** 40 - 1,
        })
        await store.transaction((t) => t.putDataset(big))
        expect(await store.transaction((t) => t.getDataset(ID, 'ds'))).toEqual(big)
        expect(await store.transaction((t) => t.identityUsage(ID))).toEqual({
          datasetCount: 1,
          dataStorage: 2 ** 33,
          lastModifiedDate: Number.MAX_SAFE_INTEGER,
        })
        // Keys made of the escape characters themselves, in code point order.
        const keys = [
          '\u0001',
          '\u0000\u0002',
          '\u0000',
          '\u0001\u0001',
          '\u0001\u0002',
          '\u0002',
          'a\u0001b',
          '',
        ]
        const rows = keys.map((key, i) => ({
          key,
          value: `${key}|\u0001\u0000|${i}`,
          syncCount: 1,
          lastModifiedDate: 1,
          lastModifiedBy: key,
          deviceLastModifiedDate: null,
        }))
        await store.transaction((t) => t.putRecords(ID, '\u0001', rows))
        const listed = await store.transaction((t) => t.listRecords(ID, '\u0001', { afterSyncCount: 0 }))
        const byCodePoint = [...rows].sort((x, y) => Buffer.compare(Buffer.from(x.key), Buffer.from(y.key)))
        expect(listed).toEqual(byCodePoint)
        expect(await store.transaction((t) => t.listRecords(ID, '\u0000', { afterSyncCount: 0 }))).toEqual([])
        // Paging from a cursor made of escape characters.
        const after = await store.transaction((t) =>
          t.listRecords(ID, '\u0001', { afterSyncCount: 0, after: { syncCount: 1, key: '\u0001' } }),
        )
        expect(after).toEqual(byCodePoint.slice(byCodePoint.findIndex((r) => r.key === '\u0001') + 1))
      } finally {
        await store.close()
      }
    })

    describe('outbox shared by several processes', () => {
      /** The backend that holds a store's claim lock: its own connection, found by application name. */
      const claimBackend = async (applicationName: string): Promise<number | undefined> => {
        const rows = await rawRows(
          `SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objsubid = 2 AND a.application_name = $2`,
          [CLAIM_LOCK_SPACE, applicationName],
        )
        return rows[0]?.pid as number | undefined
      }
      const due = async (store: SyncStore, now: number) =>
        (await store.transaction((t) => t.dueOutbox(now, 10))).map((row) => row.deviceId)

      it('hands a due row to one process while it lives, until it settles the row', async () => {
        const { a, b } = await twoProcesses()
        try {
          await a.transaction((t) => t.putOutbox([outbox('d1'), outbox('d2', { notBefore: 20 })]))
          expect(await due(a, 15)).toEqual(['d1'])
          // A's own rows stay due for A (its dispatcher decides what it has seen).
          expect(await due(a, 15)).toEqual(['d1'])
          // B skips the row A holds, however late, but takes what A has not claimed.
          expect(await due(b, 15)).toEqual([])
          expect(await due(b, 10_000_000)).toEqual(['d2'])
          // B looks again soon at a row A holds: nothing announces that A died.
          expect(await b.transaction((t) => t.nextOutboxTime(30))).toBe(20)
          expect(await b.transaction((t) => t.deleteOutbox('d2', 'ds', 1))).toBe(true)
          expect(await b.transaction((t) => t.nextOutboxTime(30))).toBe(30 + OUTBOX_CLAIM_RECHECK_MS)
          expect(await a.transaction((t) => t.nextOutboxTime(30))).toBe(10)
          // Rescheduling releases the row: it is for whoever finds it due next.
          expect(await a.transaction((t) => t.rescheduleOutbox('d1', 'ds', 1, 1, 2000))).toBe(true)
          expect(await b.transaction((t) => t.nextOutboxTime(30))).toBe(2000)
          expect(await due(b, 2000)).toEqual(['d1'])
          expect(await due(a, 2000)).toEqual([])
          // A newer change of a held row is for any process.
          await a.transaction((t) => t.putOutbox([outbox('d1', { syncCount: 2, notBefore: 2000 })]))
          expect(await due(a, 2000)).toEqual(['d1'])
        } finally {
          await Promise.all([a.close(), b.close()])
        }
      })

      it('lets another process take the rows of one that closed, or whose connection died, at once', async () => {
        const { schema, a, b } = await twoProcesses()
        try {
          await a.transaction((t) => t.putOutbox([outbox('d1'), outbox('d2')]))
          expect(await due(a, 10)).toEqual(['d1', 'd2'])
          expect(await due(b, 10)).toEqual([])
          // A's own connection goes away, as when its process is killed: its lock, and with it its
          // claims, go at once.
          const pid = await claimBackend(`${schema}-a`)
          expect(pid).toBeTypeOf('number')
          await rawRows('SELECT pg_terminate_backend($1)', [pid])
          await vi.waitUntil(async () => (await due(b, 10)).length === 2, { timeout: 5000, interval: 20 })
          expect(await due(b, 10)).toEqual(['d1', 'd2'])
          // A, without its lock, claims nothing; it comes back with a new one and finds B's rows held.
          expect(await due(a, 10)).toEqual([])
          expect(await a.readiness()).toMatchObject({ ready: false })
          await vi.waitUntil(async () => (await a.readiness()).ready, { timeout: 10_000, interval: 50 })
          expect(await due(a, 10)).toEqual([])
          // B closes: A takes them at once.
          await b.close()
          expect(await due(a, 10)).toEqual(['d1', 'd2'])
        } finally {
          await Promise.all([a.close(), b.close()])
        }
      })

      it('delivers each push once with a dispatcher in each of two processes', async () => {
        const { a, b } = await twoProcesses()
        const sent: PushMessage[] = []
        const sender: PushSender = {
          platforms: ['GCM'],
          async send(message) {
            sent.push(message)
            await sleep(2)
            return { kind: 'delivered' }
          },
        }
        const dispatchers = [a, b].map((store) =>
          createPushDispatcher({ store, senders: [sender], concurrency: 4, batchSize: 7 }),
        )
        try {
          const devices = 30
          await a.transaction(async (t) => {
            for (let i = 0; i < devices; i++) {
              await t.putDevice({
                deviceId: `d${i}`,
                identityPoolId: POOL,
                identityId: ID,
                platform: 'GCM',
                token: `t${i}`,
                createdAt: 1,
              })
            }
            await t.putOutbox(
              Array.from({ length: devices }, (_, i) => outbox(`d${i}`, { notBefore: Date.now() - 1 })),
            )
          })
          await Promise.all(dispatchers.map((dispatcher) => dispatcher.tick()))
          expect(sent).toHaveLength(devices)
          expect(new Set(sent.map((m) => m.deviceId)).size).toBe(devices)
          expect(await a.transaction((t) => t.countOutbox())).toBe(0)
        } finally {
          await Promise.all(dispatchers.map((dispatcher) => dispatcher.stop()))
          await Promise.all([a.close(), b.close()])
        }
      })
    })

    it('has the tables and columns of the SQLite store, one schema for both', async () => {
      const { schema, config } = await newSchema()
      await (await openIn(config)).close()
      const columns = await rawRows(
        `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1`,
        [schema],
      )
      const onPostgres = columns.map((row) => `${String(row.table_name)}.${String(row.column_name)}`).sort()
      // The SQLite store's own migrations, on a file of its own.
      const file = join(mkdtempSync(join(tmpdir(), 'pushsync-parity-')), 'parity.db')
      await openSqliteStore(file).close()
      const raw = new Database(file, { readonly: true })
      try {
        const tables = raw
          // SQLite's own tables (sqlite_sequence, of AUTOINCREMENT) are not the store's.
          .prepare<[], { name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
          )
          .all()
          .map((row) => row.name)
        const onSqlite = tables
          .flatMap((table) =>
            raw
              .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
              .all()
              .map((column) => `${table}.${column.name}`),
          )
          .sort()
        expect(onPostgres).toEqual(onSqlite)
      } finally {
        raw.close()
      }
    })

    describe('openStore', () => {
      it('opens postgres:// and postgresql:// URLs as PostgreSQL stores', async () => {
        for (const scheme of ['postgres', 'postgresql']) {
          const url = new URL(databaseUrl)
          url.protocol = `${scheme}:`
          url.searchParams.set('max', '2')
          const store = await openStore(url.toString())
          try {
            expect(store.kind).toBe('postgres')
            await store.transaction((t) => t.putSetting('scheme', scheme))
            expect(await store.transaction((t) => t.getSetting('scheme'))).toBe(scheme)
          } finally {
            await store.close()
          }
        }
      })

      it('fails to open with a message that names the database without its password', async () => {
        const url = new URL(databaseUrl)
        url.username = 'no_such_user'
        url.password = 'hunter2'
        const failure = openStore(url.toString())
        await expect(failure).rejects.toThrow(/PostgreSQL/)
        await expect(failure).rejects.toThrow(/no_such_user:\*\*\*@/)
        await expect(failure).rejects.not.toThrow(/hunter2/)
        await expect(openStore(`${databaseUrl}?max=lots`)).rejects.toThrow(/max/)
      })
    })
  })
})
