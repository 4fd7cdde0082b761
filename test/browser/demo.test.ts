/**
 * The demo `npm start` serves, end to end in real Chromium: device pages of one identity, each on
 * its own IndexedDB database, talking to the demo server started in this process.
 *
 * Devices never poll: a device learns of another's edit only by push, so an edit that does not show
 * up on the other device within the wait fails the test.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Demo, startDemo } from '../../examples/demo/serve.js'
import { launchChromium, newProfile, skipBrowserTests } from './support/chromium.js'

/** How long a push may take to show on another device: "within a moment", with room for a slow CI. */
const PUSH_WAIT = { timeout: 10_000, interval: 50 }
const SCREENSHOT_NAME = 'test-results/demo-two-devices.png'
const SCREENSHOT = fileURLToPath(new URL(`../../${SCREENSHOT_NAME}`, import.meta.url))

let browser: Browser
let demo: Demo
let scratch: string
const contexts: BrowserContext[] = []

beforeAll(async () => {
  if (skipBrowserTests) return
  scratch = await mkdtemp(join(tmpdir(), 'pushsync-demo-'))
  demo = await startDemo({ port: 0, db: join(scratch, 'demo.db') })
  browser = await launchChromium()
})

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {})
  await browser?.close()
  await demo?.close()
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
})

/** One device's page (or frame), read and driven through its `data-testid` hooks. */
function device(surface: Page | FrameLocator) {
  const byId = (id: string) => surface.getByTestId(id)
  const number = async (id: string) => Number(await byId(id).textContent())
  const row = (key: string) => surface.locator(`[data-testid="record"][data-key="${key}"]`)
  // Chromium holds back a page that is not the front tab: actions on it would wait about a second.
  const front = async () => {
    if ('bringToFront' in surface) await surface.bringToFront()
  }
  return {
    surface,
    lastSyncCount: () => number('last-sync-count'),
    pending: () => number('pending'),
    pushState: () => byId('push-state').getAttribute('data-state'),
    syncState: () => byId('sync-state').getAttribute('data-state'),
    /** The value shown for `key`, or undefined when the device has no such record. */
    async value(key: string): Promise<string | undefined> {
      if ((await row(key).count()) === 0) return undefined
      return (await row(key).getByTestId('record-value').textContent()) ?? undefined
    },
    /** The value and whether it waits to be sent, or undefined without the record. */
    async record(key: string): Promise<{ value: string; pending: boolean } | undefined> {
      if ((await row(key).count()) === 0) return undefined
      return {
        value: (await row(key).getByTestId('record-value').textContent()) ?? '',
        pending: (await row(key).getAttribute('data-pending')) === 'true',
      }
    },
    async records(): Promise<Record<string, string>> {
      const shown: Record<string, string> = {}
      for (const each of await surface.locator('[data-testid="record"]').all()) {
        const key = await each.getAttribute('data-key')
        if (key !== null) shown[key] = (await each.getByTestId('record-value').textContent()) ?? ''
      }
      return shown
    },
    pushes: (syncCount: number) =>
      byId('push-log').locator(`li[data-kind="received"][data-sync-count="${syncCount}"]`),
    conflicts: () => byId('conflict-log').locator('li[data-kind="conflict"]'),
    async set(key: string, value: string): Promise<void> {
      await front()
      await byId('key-input').fill(key)
      await byId('value-input').fill(value)
      await byId('save').click()
    },
    async setOnline(online: boolean): Promise<void> {
      const toggle = byId('online-toggle')
      await front()
      if ((await toggle.getAttribute('aria-checked')) !== String(online)) await toggle.click()
      await expect.poll(() => toggle.getAttribute('aria-checked')).toBe(String(online))
    },
    /** Signed in, the dataset open and the push stream connected. */
    async ready(): Promise<void> {
      await expect.poll(() => byId('push-state').getAttribute('data-state'), PUSH_WAIT).toBe('connected')
    },
  }
}

type Device = ReturnType<typeof device>

/**
 * Devices A and B as two pages of one profile: they share localStorage, hence the identity, and
 * each page opens the IndexedDB database of its device. A page error fails the test.
 */
async function openDevices(): Promise<{ a: Device; b: Device; pageA: Page; pageB: Page }> {
  const context = await newProfile(browser)
  contexts.push(context)
  const open = async (name: string) => {
    const page = await context.newPage()
    watchErrors(page)
    await page.goto(`${demo.url}device.html?device=${name}`)
    return page
  }
  const [pageA, pageB] = await Promise.all([open('A'), open('B')])
  const a = device(pageA)
  const b = device(pageB)
  await Promise.all([a.ready(), b.ready()])
  const identity = await pageA.locator('#identity').textContent()
  expect(identity).toMatch(/^us-east-1:/)
  expect(await pageB.locator('#identity').textContent()).toBe(identity)
  return { a, b, pageA, pageB }
}

const pageErrors: Error[] = []
function watchErrors(page: Page): void {
  page.on('pageerror', (error) => pageErrors.push(error))
}

/** Waits until both devices show the same records, none pending, at the same sync count. */
async function inSync(a: Device, b: Device, expected: Record<string, string>): Promise<number> {
  for (const each of [a, b]) {
    await expect.poll(() => each.records(), PUSH_WAIT).toEqual(expected)
    await expect.poll(() => each.pending(), PUSH_WAIT).toBe(0)
  }
  const count = await a.lastSyncCount()
  await expect.poll(() => b.lastSyncCount(), PUSH_WAIT).toBe(count)
  return count
}

describe.skipIf(skipBrowserTests)('the demo in Chromium', () => {
  test('an edit on one device shows on the other by push', async () => {
    const { a, b } = await openDevices()

    await a.set('theme', 'dark')
    await expect.poll(() => a.record('theme'), PUSH_WAIT).toEqual({ value: 'dark', pending: false })
    const count = await a.lastSyncCount()
    expect(count).toBeGreaterThan(0)

    await expect.poll(() => b.value('theme'), PUSH_WAIT).toBe('dark')
    await expect.poll(() => b.pushes(count).count(), PUSH_WAIT).toBeGreaterThan(0)
    await expect.poll(() => b.lastSyncCount(), PUSH_WAIT).toBe(count)
    expect(await b.pending()).toBe(0)
    expect(pageErrors).toEqual([])
  })

  test('an edit made offline waits, and reaches the other device after reconnecting', async () => {
    const { a, b, pageB } = await openDevices()
    await b.setOnline(false)
    expect(await b.pushState()).toBe('off')
    const apiRequests: string[] = []
    pageB.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/identitypools')) apiRequests.push(request.url())
    })

    await b.set('language', 'fr')
    await expect.poll(() => b.record('language')).toEqual({ value: 'fr', pending: true })
    await expect.poll(() => b.pending()).toBe(1)
    // Offline with a change the server has not seen: not "in sync", whatever the last sync did.
    await expect.poll(() => b.syncState()).toBe('offline')
    expect(await a.value('language')).toBeUndefined()
    // Offline means no network: the transport was not let through and the push stream is closed.
    expect(apiRequests).toEqual([])

    await b.setOnline(true)
    await expect.poll(() => a.value('language'), PUSH_WAIT).toBe('fr')
    await expect.poll(() => b.pending(), PUSH_WAIT).toBe(0)
    await expect.poll(() => b.syncState(), PUSH_WAIT).toBe('idle')
    expect(apiRequests.length).toBeGreaterThan(0)
    await inSync(a, b, { language: 'fr' })
    expect(pageErrors).toEqual([])
  })

  test('offline edits of one key on two devices: a visible conflict, then the same value on both', async () => {
    const { a, b } = await openDevices()
    await a.set('theme', 'light')
    await inSync(a, b, { theme: 'light' })

    await a.setOnline(false)
    await b.setOnline(false)
    await a.set('theme', 'red')
    await expect.poll(() => a.record('theme')).toEqual({ value: 'red', pending: true })
    await b.set('theme', 'blue')
    await expect.poll(() => b.record('theme')).toEqual({ value: 'blue', pending: true })

    // A syncs first and its edit goes through; B syncs second and finds A's edit in its way.
    await a.setOnline(true)
    await expect.poll(() => a.record('theme'), PUSH_WAIT).toEqual({ value: 'red', pending: false })
    await b.setOnline(true)

    const conflict = b.conflicts().filter({ hasText: 'theme' })
    await expect.poll(() => conflict.count(), PUSH_WAIT).toBe(1)
    expect(await conflict.getAttribute('data-local')).toBe('blue')
    expect(await conflict.getAttribute('data-remote')).toBe('red')
    // Last writer wins by default: B's edit was the later one.
    expect(await conflict.getAttribute('data-kept')).toBe('blue')

    await inSync(a, b, { theme: 'blue' })
    expect(await a.conflicts().count()).toBe(0)
    expect(pageErrors).toEqual([])
  })

  test('the side-by-side page with two devices in sync (screenshot)', async ({ annotate }) => {
    const context = await newProfile(browser)
    contexts.push(context)
    const page = await context.newPage()
    watchErrors(page)
    await page.goto(demo.url)
    expect(await page.locator('iframe[data-device]').count()).toBe(2)
    const a = device(page.frameLocator('iframe[data-device="A"]'))
    const b = device(page.frameLocator('iframe[data-device="B"]'))
    await Promise.all([a.ready(), b.ready()])

    await a.set('theme', 'dark')
    await a.set('language', 'en')
    await b.set('fontSize', '14')
    const count = await inSync(a, b, { theme: 'dark', language: 'en', fontSize: '14' })
    expect(count).toBeGreaterThanOrEqual(2)
    // The frames signed in once, for both: the page shows that identity.
    const identity = await page.getByTestId('identity').textContent()
    expect(identity).toMatch(/^us-east-1:/)
    expect(await a.surface.locator('#identity').textContent()).toBe(identity)
    expect(await b.surface.locator('#identity').textContent()).toBe(identity)

    // No focus ring or hover in the picture.
    for (const each of [a, b]) await each.surface.getByTestId('value-input').blur()
    await page.mouse.move(0, 0)
    await mkdir(join(SCREENSHOT, '..'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    await annotate(`demo with two devices in sync: ${SCREENSHOT_NAME}`, {
      path: SCREENSHOT,
      contentType: 'image/png',
    })
    console.log(`screenshot of the demo with two devices in sync: ${SCREENSHOT}`)
    expect(pageErrors).toEqual([])
  })
})
