/**
 * A write on one device, visible on another, in real Chromium: `npm run bench:browser`.
 *
 * Every server runs in a process of its own on loopback (this one drives the browser). Device rows,
 * each two browser profiles (two devices), taking turns in rounds over WRITES writes:
 * - pushsync, the app page of the tests (IndexedDB, HTTP transport, SSE push, Web Locks tabs);
 * - pushsync, a one-tab page (bench/compare/browser/pushsync-page.ts), IndexedDB and memory storage,
 *   over HTTP and SSE and over the WebSocket transport;
 * - RxDB 17, one tab (bench/compare/browser/rxdb-page.ts) with each free storage (Dexie on IndexedDB,
 *   localstorage, memory) and its WebSocket replication to an RxDB server on memory storage.
 * A sample runs from the write's call on A (for pushsync `put()` then `synchronize()`, for RxDB
 * `insert()`) to the moment B's listener (pushsync `datasetChanged`, RxDB `collection.$`) saw the
 * key. Times come from `performance.timeOrigin + performance.now()`, one clock for every page.
 * Each page counts what a write costs its storage (IndexedDB transactions and requests,
 * localStorage calls), on A and on B, until the next write.
 *
 * Then tab to tab (two tabs of one profile, BroadcastChannel, no network), and for scale a plain
 * `fetch` from a page.
 */
import { spawn } from 'node:child_process'
import type { BrowserContext, Page } from 'playwright-core'
import { chromiumAvailable, launchChromium, newProfile } from '../test/browser/support/chromium.js'
import { guestIdentity, POOL } from '../test/browser/support/page-server.js'
import { STORAGE_COUNTER_SCRIPT, type StorageCounts } from './compare/browser/idb-counter.js'
import type { BenchPage } from './compare/browser/page-api.js'
import { bundleRxdbPage } from './compare/browser/rxdb-bundle.js'
import { POOL as BENCH_POOL, newIdentity } from './compare/identity.js'
import { type ServerProcess, startServerProcess, tsxArgs } from './compare/server-process.js'
import { formatMs, summarize } from './compare/stats.js'

const WRITES = Number(process.env.WRITES ?? 200)
const WARM_UP = Number(process.env.WARM_UP ?? 20)
const ROUNDS = Number(process.env.ROUNDS ?? 4)
/** After B has a write, the time both pages get to finish what the write set off, before counting. */
const SETTLE_MS = 30

interface TabApi {
  now(): number
  put(key: string, value: string): Promise<void>
  synchronize(): Promise<unknown>
  changes: Array<{ keys: string[]; at: number }>
  isLeader(): boolean
}
declare const tab: TabApi
declare const bench: BenchPage
declare const __storageCounts: { take(): StorageCounts }

if (!chromiumAvailable) {
  console.error('bench:browser needs Chromium (apt-get install -y chromium)')
  process.exit(1)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const report = (label: string, samples: number[]) => {
  const { n, p50, p99, max } = summarize(samples)
  console.log(`${label}: p50 ${formatMs(p50)} ms, p99 ${formatMs(p99)} ms, max ${formatMs(max)} ms (n=${n})`)
}

/** Two devices and how to write on one and see it on the other. */
interface DeviceRow {
  readonly label: string
  readonly a: Page
  readonly b: Page
  /** Writes `key` on A; resolves A's clock reading just before. */
  write(key: string): Promise<number>
  /** Resolves B's clock reading when it held `key`. */
  seen(key: string): Promise<number>
  readonly samples: number[]
  /** A's clock reading when each measured write started. */
  readonly starts: number[]
  readonly countsA: StorageCounts[]
  readonly countsB: StorageCounts[]
}

const takeCounts = (page: Page) => page.evaluate(() => __storageCounts.take())

/** One sample of a row: the delay, and what each page's storage did for it. */
async function sampleOnce(row: DeviceRow, key: string, measured: boolean): Promise<void> {
  await Promise.all([takeCounts(row.a), takeCounts(row.b)])
  const started = await row.write(key)
  const seen = await row.seen(key)
  await sleep(SETTLE_MS)
  const [a, b] = await Promise.all([takeCounts(row.a), takeCounts(row.b)])
  if (!measured) return
  row.samples.push(seen - started)
  row.starts.push(started)
  row.countsA.push(a)
  row.countsB.push(b)
}

/** A row of pages exposing `window.bench` (pushsync-page.ts, rxdb-page.ts). */
function benchPageRow(label: string, a: Page, b: Page): DeviceRow {
  return {
    label,
    a,
    b,
    write: (key) =>
      a.evaluate(async (key) => {
        const at = bench.now()
        await bench.write(key, `value of ${key}`)
        return at
      }, key),
    async seen(key) {
      const handle = await b.waitForFunction(
        (key) => bench.changes.find((change) => change.key === key)?.at,
        key,
        { polling: 'raf', timeout: 10_000 },
      )
      return (await handle.jsonValue()) as number
    },
    samples: [],
    starts: [],
    countsA: [],
    countsB: [],
  }
}

/** The tests' app page (tab.html): `window.tab`. */
function appPageRow(label: string, a: Page, b: Page): DeviceRow {
  return {
    label,
    a,
    b,
    write: (key) =>
      a.evaluate(async (key) => {
        const at = tab.now()
        await tab.put(key, 'v')
        await tab.synchronize()
        return at
      }, key),
    async seen(key) {
      const handle = await b.waitForFunction(
        (key) => tab.changes.find((change) => change.keys.includes(key))?.at,
        key,
        { polling: 'raf', timeout: 10_000 },
      )
      return (await handle.jsonValue()) as number
    },
    samples: [],
    starts: [],
    countsA: [],
    countsB: [],
  }
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
function describeCounts(counts: StorageCounts[]): string {
  const of = (field: Exclude<keyof StorageCounts, 'timeline'>) => mean(counts.map((c) => c[field]))
  const parts = [
    `${of('transactions').toFixed(1)} IDB tx (${of('readwrite').toFixed(1)} rw)`,
    `${of('requests').toFixed(1)} IDB req`,
  ]
  if (of('localStorage') > 0) parts.push(`${of('localStorage').toFixed(1)} localStorage calls`)
  return parts.join(', ')
}

/**
 * The write of a row closest to its median, as one timeline of both devices: what A did, what B
 * did, from the call of the write on A (ms).
 */
function medianTimeline(row: DeviceRow): string[] {
  const { p50 } = summarize(row.samples)
  let index = 0
  row.samples.forEach((ms, i) => {
    if (Math.abs(ms - p50) < Math.abs((row.samples[index] as number) - p50)) index = i
  })
  const start = row.starts[index] as number
  const events = [
    ...(row.countsA[index]?.timeline ?? []).map(([at, what]) => [at, `A  ${what}`] as const),
    ...(row.countsB[index]?.timeline ?? []).map(([at, what]) => [at, `B  ${what}`] as const),
    [start + (row.samples[index] as number), 'B  listener has the key'] as const,
  ].sort((x, y) => x[0] - y[0])
  return events.map(([at, what]) => `      ${(at - start).toFixed(1).padStart(6)} ms  ${what}`)
}

const servers: ServerProcess[] = []
// The tests' page server (tab.html): a process of its own, printing its URL as its first line.
const pageServer = spawn(
  process.execPath,
  ['--import', 'tsx', 'test/browser/support/page-server.ts', 'tab'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
)
const url = await new Promise<string>((resolve, reject) => {
  pageServer.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()))
  pageServer.once('exit', (code) => reject(new Error(`the page server exited with ${code}`)))
})
const browser = await launchChromium()
try {
  servers.push(
    await startServerProcess(tsxArgs(new URL('./compare/browser/pushsync-page-server.ts', import.meta.url)), {
      name: 'the pushsync page server',
    }),
  )
  const pushsyncUrl = (servers[0] as ServerProcess).url
  servers.push(
    await startServerProcess(
      tsxArgs(new URL('./compare/rxdb-server.ts', import.meta.url), '--page', await bundleRxdbPage()),
      {
        name: 'the RxDB server',
      },
    ),
  )
  const rxdbSocket = (servers[1] as ServerProcess).url
  const rxdbOrigin = rxdbSocket.replace(/^ws:/, 'http:').replace(/\/rxdb$/, '')

  /** A new profile (a device) that counts its storage calls from the first script on. */
  const device = async (): Promise<BrowserContext> => {
    const profile = await newProfile(browser)
    await profile.addInitScript({ content: STORAGE_COUNTER_SCRIPT })
    return profile
  }
  const openPage = async (profile: BrowserContext, address: string, ready: () => boolean) => {
    const page = await profile.newPage()
    await page.goto(address)
    await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 30_000 })
    await page.waitForFunction(ready)
    return page
  }

  const identity = await guestIdentity(url)
  const tabQuery = new URLSearchParams({ pool: POOL, identity: identity.identityId, token: identity.token })
  const tabPage = (profile: BrowserContext) =>
    openPage(profile, `${url}/tab.html?${tabQuery}`, () => tab.isLeader())
  const rows: DeviceRow[] = []
  rows.push(
    appPageRow(
      'pushsync, IndexedDB, Web Locks tabs (the app page)',
      await tabPage(await device()),
      await tabPage(await device()),
    ),
  )
  for (const transport of ['http', 'websocket']) {
    for (const storage of ['indexeddb', 'memory']) {
      const who = await newIdentity(pushsyncUrl)
      const query = new URLSearchParams({
        storage,
        transport,
        pool: BENCH_POOL,
        identity: who.identityId,
        token: who.token,
      })
      const open = async () => openPage(await device(), `${pushsyncUrl}/pushsync.html?${query}`, () => true)
      const storageName = storage === 'memory' ? 'memory' : 'IndexedDB'
      const transportName = transport === 'websocket' ? 'WebSocket transport' : 'HTTP and SSE'
      rows.push(
        benchPageRow(`pushsync, ${storageName}, ${transportName}, one tab`, await open(), await open()),
      )
    }
  }
  for (const storage of ['dexie', 'localstorage', 'memory']) {
    const query = new URLSearchParams({ storage, url: rxdbSocket })
    const open = async () => openPage(await device(), `${rxdbOrigin}/rxdb.html?${query}`, () => true)
    const name = { dexie: 'Dexie (IndexedDB)', localstorage: 'localstorage', memory: 'memory' }[storage]
    rows.push(benchPageRow(`RxDB, ${name}, one tab`, await open(), await open()))
  }

  // What one request costs a page here, for scale: pushsync's write is one, RxDB's one message.
  // Spaced like the writes, so the page and the server start each from idle as they do there.
  const fetches = await rows[0]?.a.evaluate(
    async ({ path, token, writes, gap }) => {
      const times: number[] = []
      for (let i = 0; i < writes; i++) {
        const started = performance.now()
        const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } })
        await response.text()
        times.push(performance.now() - started)
        await new Promise((resolve) => setTimeout(resolve, gap))
      }
      return times
    },
    {
      path: `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(identity.identityId)}/datasets`,
      token: identity.token,
      writes: WRITES,
      gap: SETTLE_MS,
    },
  )
  report('baseline: one ListDatasets fetch from the page', fetches ?? [])

  let n = 0
  for (const row of rows) {
    process.stderr.write(`  … warming up: ${row.label}\n`)
    for (let i = 0; i < WARM_UP; i++) await sampleOnce(row, `warm-${n++}`, false)
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of rows) {
      process.stderr.write(`  … round ${round + 1}/${ROUNDS}: ${row.label}\n`)
      const share = Math.ceil(WRITES / ROUNDS)
      for (let i = 0; i < share && row.samples.length < WRITES; i++) await sampleOnce(row, `key-${n++}`, true)
    }
  }
  console.log(
    '\ndevice to device (a write on A until B’s listener has it), and what it cost each storage per write',
  )
  for (const row of rows) {
    report(row.label, row.samples)
    console.log(`    A: ${describeCounts(row.countsA)};  B: ${describeCounts(row.countsB)}`)
  }
  console.log(
    '\nthe write closest to the median of each row, both devices on one clock (until the next write)',
  )
  for (const row of rows) {
    console.log(`  ${row.label}:`)
    for (const line of medianTimeline(row)) console.log(line)
  }

  const profile = await newProfile(browser)
  const leader = await tabPage(profile)
  const other = await profile.newPage()
  await other.goto(`${url}/tab.html?${tabQuery}`)
  await other.waitForFunction(() => document.title === 'ready')
  const tabs: number[] = []
  for (let i = 0; i < WRITES; i++) {
    const started = await other.evaluate(async (key) => {
      const at = tab.now()
      await tab.put(key, 'v')
      return at
    }, `tab-${i}`)
    const seen = await leader.waitForFunction(
      (key) => tab.changes.find((change) => change.keys.includes(key))?.at,
      `tab-${i}`,
      { polling: 'raf', timeout: 10_000 },
    )
    tabs.push(((await seen.jsonValue()) as number) - started)
  }
  report('\ntab to tab (put in one tab → the other tab’s datasetChanged)', tabs)
} finally {
  await browser.close()
  pageServer.kill('SIGTERM')
  for (const server of servers) await server.stop()
}
