/**
 * A write on one device, visible on another, in real Chromium: `npm run bench:browser`.
 *
 * Pages of the app (IndexedDB storage, HTTP transport, SSE push, Web Locks tabs) against a server
 * in its own process on loopback. Two figures, each over 200 writes:
 * - device to device: two browser profiles; from the call of `put()` on A (followed by its
 *   `synchronize()`) to B's `datasetChanged` for that key, which B emits once the push made it
 *   pull and store the record;
 * - tab to tab: two tabs of one profile; from the call of `put()` in one to the other's
 *   `datasetChanged` (BroadcastChannel; no network).
 * Times come from `performance.timeOrigin + performance.now()`, one clock for every page. For
 * scale it also times a plain `fetch` of one API request from the page.
 */
import { spawn } from 'node:child_process'
import type { Page } from 'playwright-core'
import { chromiumAvailable, launchChromium, newProfile } from '../test/browser/support/chromium.js'
import { guestIdentity, POOL } from '../test/browser/support/page-server.js'

const WRITES = 200

interface TabApi {
  now(): number
  put(key: string, value: string): Promise<void>
  synchronize(): Promise<unknown>
  changes: Array<{ keys: string[]; at: number }>
  isLeader(): boolean
}
declare const tab: TabApi

if (!chromiumAvailable) {
  console.error('bench:browser needs Chromium (apt-get install -y chromium)')
  process.exit(1)
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
const report = (label: string, samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b)
  console.log(
    `${label}: p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${(sorted.at(-1) as number).toFixed(2)} ms (n=${sorted.length})`,
  )
}

/** Writes on `from`, waits for `to` to see the key; returns the delay. */
async function once(from: Page, to: Page, key: string, sync: boolean): Promise<number> {
  const started = await from.evaluate(
    async ({ key, sync }) => {
      const at = tab.now()
      await tab.put(key, 'v')
      if (sync) await tab.synchronize()
      return at
    },
    { key, sync },
  )
  const seen = await to.waitForFunction(
    (key) => tab.changes.find((change) => change.keys.includes(key))?.at,
    key,
    { polling: 'raf', timeout: 10_000 },
  )
  return ((await seen.jsonValue()) as number) - started
}

// The server runs in a process of its own, as it would in production: this one is busy driving
// the browser.
const child = spawn(process.execPath, ['--import', 'tsx', 'test/browser/support/page-server.ts', 'tab'], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const url = await new Promise<string>((resolve, reject) => {
  child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()))
  child.once('exit', (code) => reject(new Error(`the page server exited with ${code}`)))
})
const server = { url }
const browser = await launchChromium()
try {
  const identity = await guestIdentity(url)
  const query = new URLSearchParams({ pool: POOL, identity: identity.identityId, token: identity.token })
  const open = async (profile: Awaited<ReturnType<typeof newProfile>>) => {
    const page = await profile.newPage()
    await page.goto(`${server.url}/tab.html?${query}`)
    await page.waitForFunction(() => document.title === 'ready')
    await page.waitForFunction(() => tab.isLeader())
    return page
  }

  const deviceA = await open(await newProfile(browser))
  const deviceB = await open(await newProfile(browser))
  // What one request costs a page here, for scale: a sync makes two, the other device's pull one.
  const fetches = await deviceA.evaluate(
    async ({ path, token, writes }) => {
      const times: number[] = []
      for (let i = 0; i < writes; i++) {
        const started = performance.now()
        const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } })
        await response.text()
        times.push(performance.now() - started)
      }
      return times
    },
    {
      path: `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(identity.identityId)}/datasets`,
      token: identity.token,
      writes: WRITES,
    },
  )
  report('baseline: one ListDatasets fetch from the page', fetches)
  // The push connection is up once B has been told of a first write.
  await once(deviceA, deviceB, 'warm-up', true)
  const devices: number[] = []
  for (let i = 0; i < WRITES; i++) devices.push(await once(deviceA, deviceB, `device-${i}`, true))
  report('device to device (put + synchronize on A → B has it by push)', devices)

  const profile = await newProfile(browser)
  const leader = await open(profile)
  const other = await profile.newPage()
  await other.goto(`${server.url}/tab.html?${query}`)
  await other.waitForFunction(() => document.title === 'ready')
  const tabs: number[] = []
  for (let i = 0; i < WRITES; i++) tabs.push(await once(other, leader, `tab-${i}`, false))
  report('tab to tab (put in one tab → the other tab’s datasetChanged)', tabs)
} finally {
  await browser.close()
  child.kill('SIGTERM')
}
