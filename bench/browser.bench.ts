/**
 * A write on one device, visible on another, in real Chromium: `npm run bench:browser`.
 *
 * Pages of the app (IndexedDB storage, HTTP transport, SSE push, Web Locks tabs) against an
 * in-process server on loopback. Two figures, each over 200 writes:
 * - device to device: two browser profiles; from the call of `put()` on A (followed by its
 *   `synchronize()`) to B's `datasetChanged` for that key, which B emits once the push made it
 *   pull and store the record;
 * - tab to tab: two tabs of one profile; from the call of `put()` in one to the other's
 *   `datasetChanged` (BroadcastChannel; no network).
 * Times come from `performance.timeOrigin + performance.now()`, one clock for every page.
 */
import type { Page } from 'playwright-core'
import { chromiumAvailable, launchChromium, newProfile } from '../test/browser/support/chromium.js'
import { POOL, startPageServer } from '../test/browser/support/page-server.js'

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

const server = await startPageServer(['tab'])
const browser = await launchChromium()
try {
  const identity = await server.newIdentity()
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
  await server.close()
}
