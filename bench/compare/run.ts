/**
 * pushsync, RxDB and PouchDB side by side on loopback: `npm run bench:compare`.
 *
 * Each library's server runs in a process of its own (pushsync-server on a SQLite file, RxDB's
 * WebSocket replication server on memory storage, express-pouchdb on memory storage); the devices of
 * all three run in this process. Every row does the same work:
 * - push to visible: a new key of 64 characters written on device A until device B holds it, with
 *   each library's recommended live setup (WRITES measured writes after WARM_UP, GAP_MS apart);
 * - cold sync: a fresh device pulls a dataset (collection, database) of 1,024 such records.
 * The rows take turns in ROUNDS rounds, so a change of load on a shared machine lands on all alike.
 * Plain round trips measured in the same run give the scale. pushsync's rows also run with SQLite,
 * IndexedDB (fake-indexeddb) and the Cognito transport, with write-through instead of
 * `synchronize()`, and against a second server whose database is in memory. A breakdown of pushsync's push to
 * visible into its stages follows (see breakdown.ts).
 *
 * Prints one Markdown table and writes the chart to docs/public/bench-compare.svg (or CHART=path).
 */
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { fetchHealthz, fetchListDatasets, fetchUpdateRecords, webSocketPing } from './baseline.js'
import { runBreakdown } from './breakdown.js'
import { renderChart } from './chart.js'
import { describeMachine, machineLines } from './machine.js'
import { pouchdbCold, pouchdbLive, seedPouchdb } from './pouchdb.js'
import { PushsyncBench, type PushsyncSetup } from './pushsync.js'
import { measureInTurns } from './runner.js'
import { rxdbCold, rxdbLive } from './rxdb.js'
import { type ServerProcess, startPushsyncServer, startServerProcess, tsxArgs } from './server-process.js'
import { renderTable, toRows } from './table.js'
import { COLD_RUNS, COLD_WARM_UP, GAP_MS, type Probe, ROUNDS, WARM_UP, WRITES } from './workload.js'

const RXDB = 'RxDB (memory, WebSocket replication)'
const POUCHDB = 'PouchDB (memory, express-pouchdb)'
const PLAIN_FETCH = 'fetch GET /healthz (pushsync-server)'
const PUSHSYNC: PushsyncSetup = {
  label: 'pushsync (memory, HTTP, SSE)',
  storage: 'memory',
  transport: 'http',
  writeThrough: false,
}
const PUSHSYNC_VARIANTS: readonly PushsyncSetup[] = [
  { ...PUSHSYNC, label: 'pushsync (memory, WebSocket transport)', transport: 'websocket' },
  { ...PUSHSYNC, label: 'pushsync, writeThrough 0 ms, no synchronize()', writeThrough: true },
  { ...PUSHSYNC, label: 'pushsync, SQLite storage (better-sqlite3)', storage: 'sqlite' },
  { ...PUSHSYNC, label: 'pushsync, IndexedDB storage (fake-indexeddb)', storage: 'indexeddb' },
  { ...PUSHSYNC, label: 'pushsync, Cognito transport (AWS SDK v3)', transport: 'cognito' },
]
/** The main setup against a second server whose SQLite database is in memory: what the file costs. */
const SERVER_IN_MEMORY = 'pushsync, server database :memory:'
const CHART =
  process.env.CHART ?? fileURLToPath(new URL('../../docs/public/bench-compare.svg', import.meta.url))

const progress = (message: string) => process.stderr.write(`  … ${message}\n`)

const machine = describeMachine()
for (const line of machineLines(machine)) console.log(line)
console.log(
  `${WRITES} writes per row after ${WARM_UP} warm-up, ${GAP_MS} ms apart, in ${ROUNDS} rounds; ${COLD_RUNS} cold pulls per row after ${COLD_WARM_UP}`,
)

const servers: ServerProcess[] = []
const probes: Probe[] = []
let pushsync: PushsyncBench | undefined
let pushsyncInMemory: PushsyncBench | undefined
try {
  const pushsyncServer = await startPushsyncServer()
  servers.push(pushsyncServer)
  const rxdbServer = await startServerProcess(tsxArgs(new URL('./rxdb-server.ts', import.meta.url)), {
    name: 'the RxDB server',
  })
  servers.push(rxdbServer)
  const pouchdbServer = await startServerProcess(tsxArgs(new URL('./pouchdb-server.ts', import.meta.url)), {
    name: 'the PouchDB server',
  })
  servers.push(pouchdbServer)
  await seedPouchdb(pouchdbServer.url)
  pushsync = new PushsyncBench(pushsyncServer.url)
  const memoryServer = await startPushsyncServer({ db: ':memory:' })
  servers.push(memoryServer)
  pushsyncInMemory = new PushsyncBench(memoryServer.url)

  const live: Probe[] = [
    fetchHealthz(pushsyncServer.url),
    fetchHealthz(pushsyncServer.url, { backToBack: true }),
    await fetchListDatasets(pushsyncServer.url),
    await fetchUpdateRecords(pushsyncServer.url),
    await webSocketPing(rxdbServer.url),
    await pushsync.live(PUSHSYNC),
    await rxdbLive(RXDB, rxdbServer.url),
    await pouchdbLive(POUCHDB, pouchdbServer.url),
  ]
  for (const setup of PUSHSYNC_VARIANTS) live.push(await pushsync.live(setup))
  live.push(await pushsyncInMemory.live({ ...PUSHSYNC, label: SERVER_IN_MEMORY }))
  probes.push(...live)
  const liveResults = await measureInTurns(
    live,
    { warmUp: WARM_UP, samples: WRITES, rounds: ROUNDS },
    progress,
  )

  const cold: Probe[] = [
    await pushsync.cold({ ...PUSHSYNC, label: 'pushsync (memory, HTTP)' }),
    rxdbCold(RXDB, rxdbServer.url),
    pouchdbCold(POUCHDB, pouchdbServer.url),
    rxdbCold('RxDB, pull batchSize 1024', rxdbServer.url, 1024),
  ]
  for (const setup of PUSHSYNC_VARIANTS.filter((variant) => !variant.writeThrough)) {
    cold.push(await pushsync.cold(setup))
  }
  cold.push(await pushsyncInMemory.cold({ ...PUSHSYNC, label: SERVER_IN_MEMORY }))
  probes.push(...cold)
  const coldResults = await measureInTurns(
    cold,
    { warmUp: COLD_WARM_UP, samples: COLD_RUNS, rounds: Math.min(ROUNDS, COLD_RUNS) },
    progress,
  )

  const rows = toRows([...liveResults, ...coldResults], { rxdb: RXDB, fetch: PLAIN_FETCH })
  console.log()
  console.log(renderTable(rows))
  console.log()
  const loadAtEnd = loadavg()[0] ?? Number.NaN
  console.log(`load average at end ${loadAtEnd.toFixed(2)}`)
  writeFileSync(
    CHART,
    renderChart(rows, machine, 'pushsync, RxDB and PouchDB in Node on loopback', loadAtEnd),
  )
  console.log(`chart written to ${CHART}`)
} finally {
  for (const probe of probes) await probe.close().catch(() => {})
  pushsync?.close()
  pushsyncInMemory?.close()
  for (const server of servers) await server.stop()
}

if (process.env.BREAKDOWN !== '0') await runBreakdown(progress)
