/**
 * What the engine costs on top of its storage, and what a sync costs on the wire:
 * `npm run bench:engine`.
 *
 * (a) `Dataset.put` and `Dataset.get` against the same operation done directly on the storage
 *     adapter (`write(tx => tx.putRecords(...))`, `read(tx => tx.getRecord(...))`), on memory, a
 *     SQLite file (better-sqlite3, WAL, synchronous=NORMAL) and IndexedDB (fake-indexeddb), for
 *     datasets of 10 and 1,024 records. "put, 1 dirty" rewrites one key of a clean dataset (as after
 *     a sync); "put, all dirty" rewrites every key in turn while every row awaits a push. The
 *     overhead is engine time per operation over raw time per operation (target <= 1.5x). A
 *     breakdown then times each step of an engine put on its own.
 * (b) A cold synchronize of a 1,024-record dataset into an empty device, from pushsync-server
 *     listening on loopback with a SQLite file, seeded by another device (median of 7, target < 100 ms).
 * (c) An incremental synchronize of one changed record of that dataset, changed on the server and
 *     changed locally: requests and records on the wire (target <= 2 requests, O(1) records), median time.
 *
 * Every loop is bounded by a time budget and an iteration cap; the server and files are removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import Database from 'better-sqlite3'
import {
  IDBCursor,
  IDBDatabase,
  IDBFactory,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBRequest,
  IDBTransaction,
} from 'fake-indexeddb'
import { createIndexedDbStorage } from '../adapters/storage/indexeddb/index.js'
import { createMemoryStorage } from '../adapters/storage/memory/index.js'
import { betterSqlite3Driver, createSqliteStorage } from '../adapters/storage/sqlite/index.js'
import { createHttpTransport } from '../adapters/transport/http/index.js'
import { createSyncServer } from '../server/src/server.js'
import { type DatasetMeta, DEFAULT_LIMITS, planLocalWrite, type SyncRecord } from '../src/core/index.js'
import type { StorageAdapter, Transport, UpdateRecordsRequest } from '../src/index.js'
import { createSyncManager } from '../src/index.js'

// idb recognises IndexedDB objects by their interface classes, which it expects as globals.
Object.assign(globalThis, {
  IDBCursor,
  IDBDatabase,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBRequest,
  IDBTransaction,
})

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const LOCAL_ID = 'us-east-1:00000000-0000-4000-8000-0000000000be'
const DATASET = 'bench'
const SIZES = [10, 1_024]
const BUDGET_MS = 200
const MAX_OPS = 20_000
const ROUNDS = 3
const SYNC_RUNS = 7

const directory = mkdtempSync(join(tmpdir(), 'pushsync-engine-bench-'))
let files = 0

type StorageKind = 'memory' | 'sqlite' | 'indexeddb'
const KINDS: StorageKind[] = ['memory', 'sqlite', 'indexeddb']

function openStorage(kind: StorageKind): StorageAdapter {
  switch (kind) {
    case 'memory':
      return createMemoryStorage()
    case 'sqlite': {
      const db = new Database(join(directory, `device-${files++}.db`))
      // What apps usually run with: WAL and no fsync per commit, so the figures are the engine's and
      // the adapter's, not the disk's.
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      return createSqliteStorage({ driver: betterSqlite3Driver(db) })
    }
    case 'indexeddb':
      return createIndexedDbStorage({ name: 'pushsync', indexedDB: new IDBFactory() })
  }
}

const keyFor = (i: number) => `key-${i.toString().padStart(4, '0')}`
const valueFor = (i: number, round: number) => `value ${i} round ${round} `.padEnd(64, '.')

function record(key: string, value: string, dirty: boolean): SyncRecord {
  return {
    key,
    value,
    syncCount: dirty ? 0 : 1,
    lastModifiedDate: 1_000,
    lastModifiedBy: dirty ? null : 'seed',
    deviceLastModifiedDate: 1_000,
    dirty,
  }
}

/** Operations per second of `op` (called with 0, 1, 2...), after a warm-up; bounded by time and count. */
async function rate(op: (i: number) => Promise<unknown>, start: number): Promise<number> {
  for (let i = 0; i < 10; i++) await op(start + i)
  const began = performance.now()
  let done = 0
  while (done < MAX_OPS && performance.now() - began < BUDGET_MS) await op(start + 10 + done++)
  return done / ((performance.now() - began) / 1000)
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** Engine and raw rates measured in alternating rounds, so drift affects both alike. */
async function compare(
  engine: (i: number) => Promise<unknown>,
  raw: (i: number) => Promise<unknown>,
): Promise<{ engine: number; raw: number }> {
  const engineRates: number[] = []
  const rawRates: number[] = []
  let i = 0
  for (let round = 0; round < ROUNDS; round++) {
    engineRates.push(await rate(engine, i))
    i += MAX_OPS
    rawRates.push(await rate(raw, i))
    i += MAX_OPS
  }
  return { engine: median(engineRates), raw: median(rawRates) }
}

const fmtRate = (opsPerSecond: number) => Math.round(opsPerSecond).toLocaleString('en-US').padStart(9)
const fmtUs = (opsPerSecond: number) => (1e6 / opsPerSecond).toFixed(1).padStart(8)

// --- (a) local operations ---

async function localOperations(): Promise<void> {
  console.log(
    '\n(a) Dataset operations vs the raw storage adapter (ops/s; overhead = engine time / raw time)',
  )
  console.log(
    `${'storage'.padEnd(10)}${'records'.padStart(8)}  ${'operation'.padEnd(16)}${'engine'.padStart(9)}${'raw'.padStart(10)}${'engine µs'.padStart(10)}${'raw µs'.padStart(8)}${'overhead'.padStart(10)}  target <= 1.5x`,
  )
  for (const kind of KINDS) {
    for (const size of SIZES) {
      const storage = openStorage(kind)
      const manager = createSyncManager({ identityPoolId: POOL, identityId: LOCAL_ID, storage })
      const ds = await manager.openOrCreateDataset(DATASET)
      const seed = Array.from({ length: size }, (_, i) => record(keyFor(i), valueFor(i, 0), false))
      await storage.write((tx) => tx.putRecords(LOCAL_ID, DATASET, seed))

      const rows: Array<[string, { engine: number; raw: number }]> = []
      // One hot key: the dataset stays clean but for it.
      rows.push([
        'put, 1 dirty',
        await compare(
          (i) => ds.put(keyFor(0), valueFor(0, i)),
          (i) =>
            storage.write((tx) =>
              tx.putRecords(LOCAL_ID, DATASET, [record(keyFor(0), valueFor(0, i), true)]),
            ),
        ),
      ])
      // Every row awaiting a push, as on a device that edited the whole dataset offline.
      await storage.write((tx) =>
        tx.putRecords(
          LOCAL_ID,
          DATASET,
          seed.map((row) => ({ ...row, dirty: true })),
        ),
      )
      rows.push([
        'put, all dirty',
        await compare(
          (i) => ds.put(keyFor(i % size), valueFor(i % size, i)),
          (i) =>
            storage.write((tx) =>
              tx.putRecords(LOCAL_ID, DATASET, [record(keyFor(i % size), valueFor(i % size, i), true)]),
            ),
        ),
      ])
      rows.push([
        'get',
        await compare(
          (i) => ds.get(keyFor(i % size)),
          (i) => storage.read((tx) => tx.getRecord(LOCAL_ID, DATASET, keyFor(i % size))),
        ),
      ])
      for (const [operation, { engine, raw }] of rows) {
        const overhead = raw / engine
        console.log(
          `${kind.padEnd(10)}${String(size).padStart(8)}  ${operation.padEnd(16)}${fmtRate(engine)}${fmtRate(raw).padStart(10)}${fmtUs(engine).padStart(10)}${fmtUs(raw)}${`${overhead.toFixed(2)}x`.padStart(10)}  ${overhead <= 1.5 ? 'ok' : 'MISSED'}`,
        )
      }
      await manager.close()
    }
  }
}

/**
 * Where an engine put's time goes on a 1,024-record dataset: each step timed alone, in the order
 * Dataset.put runs them (one write transaction, then the pending count for the status).
 */
async function putBreakdown(): Promise<void> {
  const size = 1_024
  console.log(`\n(a') An engine put on a ${size}-record dataset, step by step (µs per operation)`)
  const steps = [
    'raw putRecords, 1 row',
    '+ getDataset, putDataset',
    '+ listRecords (all rows)',
    'planLocalWrite (CPU only)',
    'pending count, 1 dirty',
    'pending count, all dirty',
    'Dataset.put, 1 dirty',
  ]
  console.log(`${'step'.padEnd(28)}${KINDS.map((kind) => kind.padStart(12)).join('')}`)
  const table = new Map<string, string[]>(steps.map((step) => [step, []]))
  for (const kind of KINDS) {
    const storage = openStorage(kind)
    const manager = createSyncManager({ identityPoolId: POOL, identityId: LOCAL_ID, storage })
    const ds = await manager.openOrCreateDataset(DATASET)
    const seed = Array.from({ length: size }, (_, i) => record(keyFor(i), valueFor(i, 0), false))
    await storage.write((tx) => tx.putRecords(LOCAL_ID, DATASET, seed))
    const meta = (await storage.read((tx) => tx.getDataset(LOCAL_ID, DATASET))) as DatasetMeta
    const put = (i: number) => [record(keyFor(0), valueFor(0, i), true)]
    const cell = async (step: string, op: (i: number) => Promise<unknown>) => {
      const rates: number[] = []
      for (let round = 0; round < ROUNDS; round++) rates.push(await rate(op, round * MAX_OPS))
      table.get(step)?.push(fmtUs(median(rates)).padStart(12))
    }
    await cell('raw putRecords, 1 row', (i) =>
      storage.write((tx) => tx.putRecords(LOCAL_ID, DATASET, put(i))),
    )
    await cell('+ getDataset, putDataset', (i) =>
      storage.write(async (tx) => {
        const current = await tx.getDataset(LOCAL_ID, DATASET)
        await tx.putRecords(LOCAL_ID, DATASET, put(i))
        if (current !== undefined) await tx.putDataset(current)
      }),
    )
    await cell('+ listRecords (all rows)', (i) =>
      storage.write(async (tx) => {
        const current = await tx.getDataset(LOCAL_ID, DATASET)
        await tx.listRecords(LOCAL_ID, DATASET)
        await tx.putRecords(LOCAL_ID, DATASET, put(i))
        if (current !== undefined) await tx.putDataset(current)
      }),
    )
    const rows = await storage.read((tx) => tx.listRecords(LOCAL_ID, DATASET))
    await cell('planLocalWrite (CPU only)', async (i) =>
      planLocalWrite(meta, rows, [{ key: keyFor(0), value: valueFor(0, i) }], {
        now: i,
        limits: DEFAULT_LIMITS,
      }),
    )
    await cell('pending count, 1 dirty', () =>
      storage.read((tx) => tx.listRecords(LOCAL_ID, DATASET, { dirtyOnly: true })),
    )
    await storage.write((tx) =>
      tx.putRecords(
        LOCAL_ID,
        DATASET,
        seed.map((row) => ({ ...row, dirty: true })),
      ),
    )
    await cell('pending count, all dirty', () =>
      storage.read((tx) => tx.listRecords(LOCAL_ID, DATASET, { dirtyOnly: true })),
    )
    await storage.write((tx) => tx.putRecords(LOCAL_ID, DATASET, seed))
    await cell('Dataset.put, 1 dirty', (i) => ds.put(keyFor(0), valueFor(0, i)))
    await manager.close()
  }
  for (const [step, cells] of table) console.log(`${step.padEnd(28)}${cells.join('')}`)
}

// --- (b) and (c) against the server ---

interface WireCounts {
  requests: number
  recordsDown: number
  recordsUp: number
}

/** Counts the requests a synchronize can send and the records they carry each way. */
function counted(inner: Transport, counts: WireCounts): Transport {
  return {
    ...inner,
    listRecords: async (request, signal) => {
      counts.requests++
      const result = await inner.listRecords(request, signal)
      if (result.ok) counts.recordsDown += result.value.records.length
      return result
    },
    updateRecords: async (request: UpdateRecordsRequest, signal) => {
      counts.requests++
      counts.recordsUp += request.patches.length
      const result = await inner.updateRecords(request, signal)
      if (result.ok) counts.recordsDown += result.value.records.length
      return result
    },
    listDatasets: (signal) => {
      counts.requests++
      return inner.listDatasets(signal)
    },
    describeDataset: (name, signal) => {
      counts.requests++
      return inner.describeDataset(name, signal)
    },
    deleteDataset: (request, signal) => {
      counts.requests++
      return inner.deleteDataset(request, signal)
    },
  }
}

async function identityCall(url: string, target: string, body: object): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${target}`,
    },
    body: JSON.stringify(body),
  })
  return (await response.json()) as Record<string, unknown>
}

async function sync(): Promise<void> {
  const server = await createSyncServer({
    db: join(directory, 'server.db'),
    allowUnauthenticated: true,
    tokenSecret: 'engine-bench',
  })
  const { url } = await server.listen(0)
  try {
    const { IdentityId } = await identityCall(url, 'GetId', { IdentityPoolId: POOL })
    const identityId = String(IdentityId)
    const { Credentials } = (await identityCall(url, 'GetCredentialsForIdentity', { IdentityId })) as {
      Credentials: { SessionToken: string }
    }
    const http = () =>
      createHttpTransport({
        endpoint: url,
        identityPoolId: POOL,
        identityId,
        getToken: () => Credentials.SessionToken,
      })
    const device = (kind: StorageKind, counts: WireCounts = { requests: 0, recordsDown: 0, recordsUp: 0 }) =>
      createSyncManager({
        identityPoolId: POOL,
        identityId,
        storage: openStorage(kind),
        transport: counted(http(), counts),
      })

    const seeder = device('memory')
    const seeded = await seeder.openOrCreateDataset(DATASET)
    await seeded.putAll(
      Object.fromEntries(Array.from({ length: 1_024 }, (_, i) => [keyFor(i), valueFor(i, 0)])),
    )
    await seeded.synchronize()

    console.log(
      `\n(b) Cold synchronize of a 1,024-record dataset from the server (ms, ${SYNC_RUNS} runs after 1 warm-up)`,
    )
    console.log(
      `${'storage'.padEnd(10)}${'median'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}${'requests'.padStart(10)}${'records'.padStart(9)}  target < 100 ms`,
    )
    for (const kind of KINDS) {
      const times: number[] = []
      let wire: WireCounts = { requests: 0, recordsDown: 0, recordsUp: 0 }
      for (let run = 0; run <= SYNC_RUNS; run++) {
        const counts = { requests: 0, recordsDown: 0, recordsUp: 0 }
        const manager = device(kind, counts)
        const ds = await manager.openOrCreateDataset(DATASET)
        const began = performance.now()
        const result = await ds.synchronize()
        const elapsed = performance.now() - began
        if (result.updatedRecords !== 1_024)
          throw new Error(`cold sync stored ${result.updatedRecords} records`)
        if (run > 0) times.push(elapsed)
        wire = counts
        await manager.close()
      }
      const ms = median(times)
      console.log(
        `${kind.padEnd(10)}${ms.toFixed(1).padStart(9)}${Math.min(...times)
          .toFixed(1)
          .padStart(9)}${Math.max(...times)
          .toFixed(1)
          .padStart(
            9,
          )}${String(wire.requests).padStart(10)}${String(wire.recordsDown).padStart(9)}  ${ms < 100 ? 'ok' : 'MISSED'}`,
      )
    }

    console.log(`\n(c) Incremental synchronize of one changed record in 1,024 (median of ${SYNC_RUNS} runs)`)
    console.log(
      `${'storage'.padEnd(10)}${'change'.padEnd(8)}${'ms'.padStart(8)}${'requests'.padStart(10)}${'down'.padStart(6)}${'up'.padStart(5)}  target <= 2 requests, O(1) records`,
    )
    for (const kind of KINDS) {
      const counts = { requests: 0, recordsDown: 0, recordsUp: 0 }
      const manager = device(kind, counts)
      const ds = await manager.openOrCreateDataset(DATASET)
      await ds.synchronize()
      for (const change of ['remote', 'local'] as const) {
        const times: number[] = []
        const worst = { requests: 0, recordsDown: 0, recordsUp: 0 }
        for (let run = 0; run < SYNC_RUNS; run++) {
          const key = keyFor(run * 37)
          const value = valueFor(run, change === 'remote' ? 1_000 + run : 2_000 + run)
          if (change === 'remote') {
            await seeded.synchronize()
            await seeded.put(key, value)
            await seeded.synchronize()
          } else {
            await ds.put(key, value)
          }
          Object.assign(counts, { requests: 0, recordsDown: 0, recordsUp: 0 })
          const began = performance.now()
          await ds.synchronize()
          times.push(performance.now() - began)
          if ((await ds.get(key)) !== value) throw new Error('the incremental sync lost the change')
          worst.requests = Math.max(worst.requests, counts.requests)
          worst.recordsDown = Math.max(worst.recordsDown, counts.recordsDown)
          worst.recordsUp = Math.max(worst.recordsUp, counts.recordsUp)
        }
        const met = worst.requests <= 2 && worst.recordsDown + worst.recordsUp <= 2
        console.log(
          `${kind.padEnd(10)}${change.padEnd(8)}${median(times).toFixed(1).padStart(8)}${String(worst.requests).padStart(10)}${String(worst.recordsDown).padStart(6)}${String(worst.recordsUp).padStart(5)}  ${met ? 'ok' : 'MISSED'}`,
        )
      }
      await manager.close()
    }
    await seeder.close()
  } finally {
    await server.close()
  }
}

console.log(`node ${process.version}, ${process.arch}`)
try {
  await localOperations()
  await putBreakdown()
  await sync()
} finally {
  rmSync(directory, { recursive: true, force: true })
}
