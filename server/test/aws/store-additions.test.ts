import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NewStreamOutboxRow, SyncStore } from '../../src/store/contract.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { openPostgresStore } from '../../src/store/postgres.js'
import { openSqliteStore } from '../../src/store/sqlite.js'
import { ADMIN_URL, postgresUnreachable, testDatabase } from '../helpers/postgres.js'
import { tempDb } from './helpers.js'

/** The store's SNS endpoints and stream outbox, the same on every store. */

const row = (identityId: string, syncCount: number, notBefore = 100): NewStreamOutboxRow => ({
  identityPoolId: 'us-east-1:pool',
  identityId,
  datasetName: 'notes',
  syncCount,
  payload: JSON.stringify({ identityId, syncCount }),
  attempts: 0,
  notBefore,
  expiresAt: 10_000,
  queuedAt: notBefore,
})

const device = (deviceId: string) => ({
  deviceId,
  identityPoolId: 'us-east-1:pool',
  identityId: 'us-east-1:a',
  platform: 'GCM' as const,
  token: `token-${deviceId}`,
  createdAt: 1,
})

const unreachable = await postgresUnreachable('the PostgreSQL side of the AWS store tests')
const database = testDatabase()
const opened: SyncStore[] = []

beforeAll(async () => {
  if (unreachable !== undefined) return
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${database.name}`)
  await admin.end()
})
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => undefined)
  if (unreachable !== undefined) return
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`)
  await admin.end()
})

const kinds: Array<[string, () => Promise<SyncStore>]> = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', async () => openSqliteStore(tempDb())],
  ...(unreachable === undefined
    ? ([['postgres', () => openPostgresStore(database.url)]] as Array<[string, () => Promise<SyncStore>]>)
    : []),
]

describe.each(kinds)('%s store', (kind, open) => {
  let store: SyncStore
  beforeAll(async () => {
    store = await open()
    opened.push(store)
  })

  it("keeps a device's SNS endpoint, replaces it, forgets it only by its ARN, and drops it with the device", async () => {
    const id = `${kind}-device`
    await store.transaction((tx) => tx.putDevice(device(id)))
    await store.transaction((tx) =>
      tx.putPushEndpoint({ deviceId: id, applicationArn: 'app-1', endpointArn: 'e-1' }),
    )
    await store.transaction((tx) =>
      tx.putPushEndpoint({ deviceId: id, applicationArn: 'app-2', endpointArn: 'e-2' }),
    )
    expect(await store.transaction((tx) => tx.getPushEndpoint(id))).toEqual({
      deviceId: id,
      applicationArn: 'app-2',
      endpointArn: 'e-2',
    })
    expect(await store.transaction((tx) => tx.deletePushEndpoint(id, 'e-1'))).toBe(false)
    expect(await store.transaction((tx) => tx.getPushEndpoint(id))).toBeDefined()
    await store.transaction((tx) => tx.deleteDevice(id))
    expect(await store.transaction((tx) => tx.getPushEndpoint(id))).toBeUndefined()
    // An endpoint belongs to a device that exists.
    await expect(
      store.transaction((tx) =>
        tx.putPushEndpoint({ deviceId: 'nobody', applicationArn: 'a', endpointArn: 'e' }),
      ),
    ).rejects.toThrow()
  })

  it("hands out each identity's oldest stream record only, in commit order", async () => {
    const a = `${kind}-a`
    const b = `${kind}-b`
    await store.transaction((tx) => tx.putStreamOutbox([row(a, 1), row(a, 2)]))
    await store.transaction((tx) => tx.putStreamOutbox([row(b, 1, 150), row(a, 3)]))
    const due = await store.transaction((tx) => tx.dueStreamOutbox(1000, 10))
    expect(due.map((r) => [r.identityId, r.syncCount])).toEqual([
      [a, 1],
      [b, 1],
    ])
    const [first, other] = due
    expect(first?.id).toBeLessThan(other?.id ?? 0)
    // While the oldest waits for a retry, the later ones of its identity wait too.
    expect(await store.transaction((tx) => tx.rescheduleStreamOutbox(first?.id ?? 0, 1, 5000))).toBe(true)
    expect((await store.transaction((tx) => tx.dueStreamOutbox(1000, 10))).map((r) => r.identityId)).toEqual([
      b,
    ])
    expect(await store.transaction((tx) => tx.nextStreamOutboxTime(1000))).toBe(150)
    expect(await store.transaction((tx) => tx.deleteStreamOutbox(other?.id ?? 0))).toBe(true)
    expect(await store.transaction((tx) => tx.nextStreamOutboxTime(1000))).toBe(5000)
    expect(await store.transaction((tx) => tx.deleteStreamOutbox(first?.id ?? 0))).toBe(true)
    const next = await store.transaction((tx) => tx.dueStreamOutbox(1000, 10))
    expect(next.map((r) => [r.identityId, r.syncCount, r.payload])).toEqual([
      [a, 2, JSON.stringify({ identityId: a, syncCount: 2 })],
    ])
    expect(await store.transaction((tx) => tx.countStreamOutbox())).toBe(2)
    // A rolled-back change leaves no record.
    await expect(
      store.transaction(async (tx) => {
        await tx.putStreamOutbox([row(b, 9)])
        throw new Error('rolled back')
      }),
    ).rejects.toThrow('rolled back')
    expect(await store.transaction((tx) => tx.countStreamOutbox())).toBe(2)
  })
})

describe.skipIf(unreachable !== undefined)('postgres stores of two processes', () => {
  it("claims stream records for one process, and gives a dead process's claims to the other", async () => {
    const first = await openPostgresStore(database.url)
    const second = await openPostgresStore(database.url)
    opened.push(second)
    const c = 'claims-c'
    await first.transaction((tx) => tx.putStreamOutbox([row(c, 1), row(c, 2)]))
    const taken = await first.transaction((tx) => tx.dueStreamOutbox(1000, 10))
    expect(taken.filter((r) => r.identityId === c).map((r) => r.syncCount)).toEqual([1])
    // Held by the first process: the second neither gets it nor the record behind it.
    const seen = await second.transaction((tx) => tx.dueStreamOutbox(1000, 10))
    expect(seen.filter((r) => r.identityId === c)).toEqual([])
    await first.close()
    const after = await second.transaction((tx) => tx.dueStreamOutbox(1000, 10))
    expect(after.filter((r) => r.identityId === c).map((r) => r.syncCount)).toEqual([1])
  })
})
