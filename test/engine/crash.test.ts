/**
 * A device whose process dies in the middle of a sync: the SQLite file is all that is left. The
 * crashed manager is never closed; its connection is closed directly, which rolls back whatever
 * transaction was open, as SQLite's recovery does when the process is gone. A new manager then
 * opens the same file and must lose no acknowledged write, push what is pending exactly once,
 * raise no conflict a crash did not cause, and converge with another device.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  betterSqlite3Driver,
  createSqliteStorage,
  type SqliteDriver,
  type SqlValue,
} from '../../adapters/storage/sqlite/index.js'
import type { Result } from '../../src/core/index.js'
import {
  type Dataset,
  isSyncError,
  type StorageAdapter,
  type SyncConflict,
  type SyncManager,
  type TransportFailure,
  type UpdateRecordsRequest,
} from '../../src/index.js'
import { type InterceptedCall, interceptTransport, offline, startServer, type TestServer } from './harness.js'

type Identity = { identityId: string; token: string }
type Answer = Promise<Result<unknown, TransportFailure>>
type Interceptor = (call: InterceptedCall) => Answer
/** Picks the SQL statement at which the process dies. */
type Statement = (sql: string, params: readonly SqlValue[]) => boolean

const DATASET = 'notes'

let server: TestServer
let directory: string
const handles: Database.Database[] = []

beforeAll(async () => {
  server = await startServer()
  directory = mkdtempSync(join(tmpdir(), 'pushsync-crash-'))
})
afterEach(() => {
  for (const db of handles.splice(0)) if (db.open) db.close()
})
afterAll(async () => {
  await server?.close()
  rmSync(directory, { recursive: true, force: true })
})

function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

/** A promise that never settles: what a caller waits on when its process died. */
const never = <T>() => new Promise<T>(() => {})

/**
 * The wire as the server sees it: counts the UpdateRecords with data that reached the server and
 * the ones it committed, so a second write of the same changes shows.
 */
function countingWire(identity: Identity) {
  const counts = { sent: 0, committed: 0 }
  const transport = interceptTransport(server.transport(identity), async (call) => {
    if (call.method !== 'updateRecords') return call.proceed()
    const carriesData = (call.args[0] as UpdateRecordsRequest).patches.length > 0
    if (carriesData) counts.sent++
    const result = await call.proceed()
    if (carriesData && result.ok) counts.committed++
    return result
  })
  return { counts, transport }
}

interface FileDevice {
  readonly manager: SyncManager
  readonly storage: StorageAdapter
  readonly db: Database.Database
  /** What the next transport call meets on its way to the server; the default passes it through. */
  intercept: Interceptor
  /** Dies at the first statement that matches; resolves once it has. */
  crashAt(matches: Statement): Promise<void>
  /** The process dies now: the connection goes away without the manager's `close()`. */
  crash(): void
}

/** A manager on a SQLite file, with a way to make its process die at a chosen point. */
function openFileDevice(file: string, identity: Identity, wire: ReturnType<typeof countingWire>): FileDevice {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  handles.push(db)
  const inner = betterSqlite3Driver(db)
  let cut: { matches: Statement; reached(): void } | undefined
  const driver: SqliteDriver = {
    ...inner,
    run(sql, params) {
      if (cut?.matches(sql, params) === true) {
        cut.reached()
        cut = undefined
        device.crash()
        return never()
      }
      return inner.run(sql, params)
    },
  }
  const storage = createSqliteStorage({ driver })
  const device: FileDevice = {
    manager: server.device(identity, {
      storage,
      transport: interceptTransport(wire.transport, (call) => device.intercept(call)),
    }),
    storage,
    db,
    intercept: (call) => call.proceed(),
    crashAt(matches) {
      const reached = deferred()
      cut = { matches, reached: () => reached.resolve() }
      return reached.promise
    },
    crash() {
      if (db.open) db.close()
    },
  }
  return device
}

/** The server's records of the dataset, read as a third party would. */
async function serverRecords(identity: Identity) {
  const page = await server.transport(identity).listRecords({ datasetName: DATASET, lastSyncCount: 0 })
  if (!page.ok) throw new Error(`ListRecords failed: ${page.failure.message}`)
  return page.value
}

/** Records every conflict a sync raises, resolving each so the sync can report the rest. */
function conflictRecorder() {
  const seen: string[] = []
  const onConflict = (conflicts: readonly SyncConflict[]) => {
    for (const conflict of conflicts) {
      seen.push(`${conflict.key}: ${conflict.local.value} vs ${conflict.remote.value}`)
      conflict.resolveWithRemote()
    }
  }
  return { seen, onConflict }
}

/** A row written to pushsync_records (of `key`, when given): key is the third parameter, dirty the ninth. */
const isRecordRow = (sql: string, params: readonly SqlValue[], key?: string) =>
  sql.includes('INTO pushsync_records') && (key === undefined || params[2] === key)
/** The dataset's metadata written with `count` as its lastSyncCount (the third parameter). */
const isSyncCount = (sql: string, params: readonly SqlValue[], count: number) =>
  sql.includes('INTO pushsync_datasets') && params[2] === count

/** Matches the second statement `matches` accepts: the transaction has written something, not all. */
function secondOf(matches: Statement): Statement {
  let seen = 0
  return (sql, params) => matches(sql, params) && ++seen === 2
}

// Synced first; then edited offline: a changed, b removed, d added, while the other device adds e.
const BASE = { a: '1', b: '2', c: '3' }
/** Every write the device acknowledged before the crash; `null` is a removal. */
const ACKNOWLEDGED: Record<string, string | null> = { a: '1 edited', b: null, c: '3', d: '4' }
const CONVERGED = { a: '1 edited', c: '3', d: '4', e: '5' }

interface CutContext {
  readonly device: FileDevice
  readonly ds: Dataset
  /** The other device's copy of the dataset. */
  readonly other: Dataset
}

interface CrashCase {
  readonly name: string
  /** Starts the device's sync and resolves once it has reached the point where the process dies. */
  cut(context: CutContext): Promise<void>
  /** The recovering sync: records the pull changed, patches pushed. */
  readonly recovery: { readonly updatedRecords: number; readonly pushed: number }
  /** The dataset's sync count on the server once every change is there exactly once. */
  readonly serverSyncCount: number
  /** UpdateRecords with data that reached the server, before and after the crash (committed or not). */
  readonly sent: number
}

const crashCases: CrashCase[] = [
  {
    name: 'after the pull answered, before its records were stored',
    async cut({ device, ds }) {
      const there = deferred()
      device.intercept = async (call) => {
        if (call.method !== 'listRecords') return call.proceed()
        await call.proceed()
        there.resolve()
        return never()
      }
      void ds.synchronize()
      await there.promise
    },
    recovery: { updatedRecords: 1, pushed: 3 },
    serverSyncCount: 3,
    sent: 1,
  },
  {
    name: 'inside the transaction storing the pull, between its two writes',
    async cut({ device, ds }) {
      // The pulled row and the new sync count, in whichever order the engine writes them.
      const there = device.crashAt(
        secondOf((sql, params) => isRecordRow(sql, params, 'e') || isSyncCount(sql, params, 2)),
      )
      void ds.synchronize()
      await there
    },
    recovery: { updatedRecords: 1, pushed: 3 },
    serverSyncCount: 3,
    sent: 1,
  },
  {
    name: 'after the server committed UpdateRecords, before the answer arrived',
    async cut({ device, ds }) {
      const there = deferred()
      device.intercept = async (call) => {
        if (call.method !== 'updateRecords') return call.proceed()
        await call.proceed()
        there.resolve()
        return never()
      }
      void ds.synchronize()
      await there.promise
    },
    recovery: { updatedRecords: 3, pushed: 0 },
    serverSyncCount: 3,
    sent: 1,
  },
  {
    name: 'after the server committed UpdateRecords, with the answer arriving once the file is gone',
    async cut({ device, ds }) {
      const there = deferred()
      const release = deferred()
      device.intercept = async (call) => {
        if (call.method !== 'updateRecords') return call.proceed()
        const answer = await call.proceed()
        there.resolve()
        await release.promise
        return answer
      }
      const syncing = ds.synchronize()
      await there.promise
      device.crash()
      release.resolve()
      // The answer cannot be stored, and the sync says so instead of reporting success.
      await expect(syncing).rejects.toSatisfy((e) => isSyncError(e, 'STORAGE_CLOSED'))
    },
    recovery: { updatedRecords: 3, pushed: 0 },
    serverSyncCount: 3,
    sent: 1,
  },
  {
    name: 'inside the transaction storing the push answer, after its first write',
    async cut({ device, ds }) {
      const there = device.crashAt(
        secondOf(
          (sql, params) =>
            (isRecordRow(sql, params) && ['a', 'b', 'd'].includes(String(params[2])) && params[8] === 0) ||
            isSyncCount(sql, params, 3),
        ),
      )
      void ds.synchronize()
      await there
    },
    recovery: { updatedRecords: 3, pushed: 0 },
    serverSyncCount: 3,
    sent: 1,
  },
  {
    name: 'after UpdateRecords failed before reaching the server',
    async cut({ device, ds }) {
      device.intercept = async (call) => (call.method === 'updateRecords' ? offline() : call.proceed())
      await expect(ds.synchronize()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_OFFLINE'))
    },
    recovery: { updatedRecords: 0, pushed: 3 },
    serverSyncCount: 3,
    sent: 1,
  },
  {
    name: 'after UpdateRecords failed with its answer lost, the server having committed it',
    async cut({ device, ds }) {
      device.intercept = async (call) => {
        const answer = await call.proceed()
        return call.method === 'updateRecords' ? offline() : answer
      }
      await expect(ds.synchronize()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_OFFLINE'))
    },
    recovery: { updatedRecords: 3, pushed: 0 },
    serverSyncCount: 3,
    sent: 1,
  },
  {
    name: 'after UpdateRecords was refused with a conflict (the other device wrote the same value)',
    async cut({ device, ds, other }) {
      const there = deferred()
      let refused = false
      device.intercept = async (call) => {
        if (call.method === 'updateRecords') {
          await other.put('a', '1 edited')
          await other.synchronize()
          const answer = await call.proceed()
          refused = !answer.ok && answer.failure.kind === 'conflict'
          return answer
        }
        if (!refused) return call.proceed()
        // The retry's pull: the process dies with the lowered sync count stored.
        there.resolve()
        return never()
      }
      void ds.synchronize()
      await there.promise
    },
    // The pull brings e and the other device's a (the same value: adopted, no conflict); b and d go up.
    recovery: { updatedRecords: 2, pushed: 2 },
    serverSyncCount: 4,
    sent: 2,
  },
]

describe('a device that crashes while synchronizing, reopened on its SQLite file', () => {
  for (const crashCase of crashCases) {
    it(`loses nothing and converges when it dies ${crashCase.name}`, async () => {
      const identity = await server.newIdentity()
      const file = join(directory, `${crypto.randomUUID()}.db`)
      const wire = countingWire(identity)
      const other = await server.device(identity).openOrCreateDataset(DATASET)

      // Synced once, then edited offline while the other device added a record.
      const crashed = openFileDevice(file, identity, wire)
      const ds = await crashed.manager.openOrCreateDataset(DATASET)
      await ds.putAll(BASE)
      await ds.synchronize()
      await other.synchronize()
      await ds.put('a', '1 edited')
      await ds.remove('b')
      await ds.put('d', '4')
      await other.put('e', '5')
      await other.synchronize()
      wire.counts.sent = 0
      wire.counts.committed = 0

      await crashCase.cut({ device: crashed, ds, other })
      crashed.crash()

      const reopened = openFileDevice(file, identity, wire)
      const again = await reopened.manager.openOrCreateDataset(DATASET)
      // Every acknowledged write is still on the device, waiting for a push, or already on the server.
      const local = await reopened.storage.read((tx) => tx.listRecords(identity.identityId, DATASET))
      const remote = (await serverRecords(identity)).records
      for (const [key, value] of Object.entries(ACKNOWLEDGED)) {
        const row = local.find((record) => record.key === key)
        const pending = row?.dirty === true && row.value === value
        const onServer = remote.some((record) => record.key === key && record.value === value)
        expect({ key, kept: pending || onServer }).toEqual({ key, kept: true })
      }
      expect(again.getStatus().pendingChanges).toBe(3)

      const conflicts = conflictRecorder()
      const recovered = await again.synchronize({ onConflict: conflicts.onConflict })
      expect(conflicts.seen).toEqual([])
      expect(recovered).toMatchObject({ ...crashCase.recovery, conflicts: 0 })
      expect(again.getStatus().pendingChanges).toBe(0)
      // The changes reached the server once: one committed UpdateRecords, one sync count each.
      expect(wire.counts.committed).toBe(1)
      expect((await serverRecords(identity)).datasetSyncCount).toBe(crashCase.serverSyncCount)

      await other.synchronize({ onConflict: conflicts.onConflict })
      expect(conflicts.seen).toEqual([])
      expect({ ...(await again.getAll()) }).toEqual(CONVERGED)
      expect({ ...(await other.getAll()) }).toEqual(CONVERGED)
      expect(await again.getLastSyncCount()).toBe(crashCase.serverSyncCount)
      expect(await other.getLastSyncCount()).toBe(crashCase.serverSyncCount)
      // Settled: another sync moves nothing either way.
      expect(await again.synchronize()).toMatchObject({ updatedRecords: 0, pushed: 0 })
      expect(wire.counts.sent).toBe(crashCase.sent)
      await reopened.manager.close()
    })
  }
})

describe('close() during a sync', () => {
  it('cancels the running sync and its queued follow-up, aborts the request in flight and keeps the changes pending', async () => {
    const identity = await server.newIdentity()
    const file = join(directory, `${crypto.randomUUID()}.db`)
    const wire = countingWire(identity)
    const device = openFileDevice(file, identity, wire)
    const ds = await device.manager.openOrCreateDataset(DATASET)
    await ds.putAll({ x: '1', y: '2' })

    // The push hangs until its signal aborts; then it fails as a real transport's aborted fetch does.
    const atPush = deferred()
    const signals: AbortSignal[] = []
    device.intercept = async (call) => {
      if (call.method !== 'updateRecords') return call.proceed()
      const signal = call.args[1] as AbortSignal
      signals.push(signal)
      atPush.resolve()
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      return offline()
    }
    const syncing = ds.synchronize().catch((caught: unknown) => caught)
    await atPush.promise
    const followUp = ds.synchronize().catch((caught: unknown) => caught)
    await device.manager.close()

    expect(signals).toHaveLength(1)
    expect(signals[0]?.aborted).toBe(true)
    expect(isSyncError(await syncing, 'SYNC_CANCELLED')).toBe(true)
    expect(isSyncError(await followUp, 'SYNC_CANCELLED')).toBe(true)
    expect(device.db.open).toBe(false)
    await expect(ds.put('late', 'x')).rejects.toSatisfy((e) => isSyncError(e, 'ENGINE_CLOSED'))
    await expect(ds.synchronize()).rejects.toSatisfy((e) => isSyncError(e, 'ENGINE_CLOSED'))

    // Nothing reached the server and nothing was marked clean: the next run pushes both changes.
    expect(wire.counts.committed).toBe(0)
    const reopened = openFileDevice(file, identity, wire)
    const rows = await reopened.storage.read((tx) => tx.listRecords(identity.identityId, DATASET))
    expect(rows.map((row) => [row.key, row.value, row.dirty])).toEqual([
      ['x', '1', true],
      ['y', '2', true],
    ])
    const again = await reopened.manager.openOrCreateDataset(DATASET)
    expect(await again.synchronize()).toMatchObject({ pushed: 2, lastSyncCount: 1 })
    expect(wire.counts.committed).toBe(1)
    await reopened.manager.close()
  })

  it('cancels a sync whose answer was already committed without losing the write', async () => {
    const identity = await server.newIdentity()
    const file = join(directory, `${crypto.randomUUID()}.db`)
    const wire = countingWire(identity)
    const device = openFileDevice(file, identity, wire)
    const ds = await device.manager.openOrCreateDataset(DATASET)
    await ds.put('x', '1')
    // The server commits, then the manager closes before the answer is stored.
    const committed = deferred()
    const closed = deferred()
    device.intercept = async (call) => {
      const result = await call.proceed()
      if (call.method !== 'updateRecords') return result
      committed.resolve()
      await closed.promise
      return result
    }
    const syncing = ds.synchronize().catch((caught: unknown) => caught)
    await committed.promise
    const closing = device.manager.close()
    closed.resolve()
    await closing
    expect(isSyncError(await syncing, 'SYNC_CANCELLED')).toBe(true)
    expect(wire.counts.committed).toBe(1)

    const reopened = openFileDevice(file, identity, wire)
    const again = await reopened.manager.openOrCreateDataset(DATASET)
    // The acknowledged write is still here and the next sync finds the server holds it already.
    expect(await again.get('x')).toBe('1')
    expect(await again.synchronize()).toMatchObject({ pushed: 0, lastSyncCount: 1 })
    expect(again.getStatus().pendingChanges).toBe(0)
    expect(wire.counts.committed).toBe(1)
    await reopened.manager.close()
  })
})
