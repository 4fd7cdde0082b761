/**
 * Several tabs of one app in one Chromium profile, against the real server: they share one
 * IndexedDB database, one leads (Web Locks) and holds the only push connection, the others see its
 * changes at once (BroadcastChannel), and a closed, frozen or hung leader is replaced.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { launchChromium, newProfile, skipBrowserTests } from './support/chromium.js'
import { type PageServer, POOL, startPageServer } from './support/page-server.js'

interface TabApi {
  isLeader(): boolean
  sseConnects(): number
  changes: Array<{ dataset: string; keys: string[]; source: string; at: number }>
  pushes: number[]
  put(key: string, value: string): Promise<void>
  get(key: string): Promise<string | undefined>
  getAll(): Promise<Record<string, string>>
  pending(): number
  synchronize(): Promise<{ pushed: number; lastSyncCount: number }>
  lastSyncCount(): Promise<number>
  hang(ms: number): void
}
declare const tab: TabApi

describe.skipIf(skipBrowserTests)('multi-tab in Chromium', () => {
  let browser: Browser
  let server: PageServer
  let profile: BrowserContext
  let identity: { identityId: string; token: string }

  beforeAll(async () => {
    server = await startPageServer(['tab'])
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })
  beforeEach(async () => {
    identity = await server.newIdentity()
    profile = await newProfile(browser)
  })
  afterEach(async () => {
    await profile.close()
  })

  const openTab = async (context = profile): Promise<Page> => {
    const page = await context.newPage()
    const query = new URLSearchParams({ pool: POOL, identity: identity.identityId, token: identity.token })
    await page.goto(`${server.url}/tab.html?${query}`)
    await page.waitForFunction(() => document.title === 'ready')
    return page
  }
  const isLeader = (page: Page) => page.evaluate(() => tab.isLeader())
  /** Waits until exactly one of `pages` leads, and returns it. */
  const soleLeader = async (pages: readonly Page[]): Promise<Page> => {
    await expect
      .poll(async () => (await Promise.all(pages.map(isLeader))).filter(Boolean).length, { timeout: 10_000 })
      .toBe(1)
    const flags = await Promise.all(pages.map(isLeader))
    return pages[flags.indexOf(true)] as Page
  }

  it('elects one leader, which alone holds the push connection; a follower’s write is seen by every tab at once', async () => {
    const pages = [await openTab(), await openTab(), await openTab()]
    const leader = await soleLeader(pages)
    const followers = pages.filter((page) => page !== leader)
    const [writer, watcher] = followers as [Page, Page]
    expect(await leader.evaluate(() => tab.sseConnects())).toBe(1)
    for (const page of followers) expect(await page.evaluate(() => tab.sseConnects())).toBe(0)

    await writer.evaluate(() => tab.put('theme', 'dark'))
    // BroadcastChannel: the other tabs hear of the write without polling, and read it from the shared database.
    for (const page of [leader, watcher]) {
      await page.waitForFunction(() => tab.changes.some((change) => change.keys.includes('theme')))
      expect(await page.evaluate(() => tab.get('theme'))).toBe('dark')
      expect(await page.evaluate(() => tab.pending())).toBe(1)
    }
    // The follower's sync runs in the leader; the follower's page sends no request itself.
    const sent: string[] = []
    writer.on('request', (request) => sent.push(request.url()))
    expect(await writer.evaluate(() => tab.synchronize())).toEqual({ pushed: 1, lastSyncCount: 1 })
    expect(sent).toEqual([])
    for (const page of pages) await expect.poll(() => page.evaluate(() => tab.pending())).toBe(0)
  })

  it('brings another device’s change to every tab by the leader’s push', async () => {
    const pages = [await openTab(), await openTab()]
    await soleLeader(pages)
    const other = await newProfile(browser)
    try {
      const device = await openTab(other)
      await device.evaluate(async () => {
        await tab.put('language', 'fr')
        await tab.synchronize()
      })
      for (const page of pages) {
        // By push: nothing in these tabs asks for a sync.
        await expect.poll(() => page.evaluate(() => tab.get('language')), { timeout: 10_000 }).toBe('fr')
        expect(await page.evaluate(() => tab.lastSyncCount())).toBe(1)
        expect(await page.evaluate(() => tab.changes)).toContainEqual(
          expect.objectContaining({ dataset: 'settings', keys: ['language'], source: 'remote' }),
        )
      }
    } finally {
      await other.close()
    }
  })

  it('replaces a closed leader: the next one opens the push connection and syncs what was left pending', async () => {
    const pages = [await openTab(), await openTab(), await openTab()]
    const first = await soleLeader(pages)
    const rest = pages.filter((page) => page !== first)
    await first.close()
    const second = await soleLeader(rest)
    await expect.poll(() => second.evaluate(() => tab.sseConnects())).toBe(1)
    const follower = rest.find((page) => page !== second) as Page
    expect(await follower.evaluate(() => tab.synchronize())).toMatchObject({ lastSyncCount: 0 })

    const other = await newProfile(browser)
    try {
      const device = await openTab(other)
      await device.evaluate(async () => {
        await tab.put('after', 'handover')
        await tab.synchronize()
      })
      await expect.poll(() => follower.evaluate(() => tab.get('after')), { timeout: 10_000 }).toBe('handover')
    } finally {
      await other.close()
    }
  })

  it('gives the lead up on its page’s freeze event and follows after resume', async () => {
    // Headless Chromium does not freeze a visible page, so the test fires the page's own events.
    const pages = [await openTab(), await openTab()]
    const first = await soleLeader(pages)
    const other = pages.find((page) => page !== first) as Page
    await first.evaluate(() => document.dispatchEvent(new Event('freeze')))
    await expect.poll(() => isLeader(other), { timeout: 10_000 }).toBe(true)
    expect(await isLeader(first)).toBe(false)
    await expect.poll(() => other.evaluate(() => tab.sseConnects())).toBe(1)
    await first.evaluate(() => document.dispatchEvent(new Event('resume')))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(await soleLeader(pages)).toBe(other)
  })

  it('replaces a leader whose page stopped running (paused, as a frozen page is), which steps down after', async () => {
    const pages = [await openTab(), await openTab()]
    const first = await soleLeader(pages)
    const other = pages.find((page) => page !== first) as Page
    const debuggerSession = await profile.newCDPSession(first)
    await debuggerSession.send('Debugger.enable')
    await debuggerSession.send('Debugger.pause')
    // The next task of the paused page (a check from the other tab, at the latest) stops in the debugger.
    await expect.poll(() => isLeader(other), { timeout: 10_000 }).toBe(true)
    await debuggerSession.send('Debugger.resume')
    await expect.poll(() => isLeader(first)).toBe(false)
    expect(await soleLeader(pages)).toBe(other)
  })

  it('replaces a hung leader, which steps down when it runs again', async () => {
    const pages = [await openTab(), await openTab()]
    const first = await soleLeader(pages)
    const other = pages.find((page) => page !== first) as Page
    // Not awaited: the leader's thread is blocked for 4 s, past the followers' 750 ms patience.
    const hanging = first.evaluate(() => tab.hang(4000))
    await expect.poll(() => isLeader(other), { timeout: 10_000 }).toBe(true)
    await hanging
    await expect.poll(() => isLeader(first)).toBe(false)
    expect(await soleLeader(pages)).toBe(other)
    const written = await other.evaluate(async () => {
      await tab.put('after', 'hang')
      return tab.synchronize()
    })
    expect(written).toEqual({ pushed: 1, lastSyncCount: 1 })
    await expect.poll(() => first.evaluate(() => tab.get('after'))).toBe('hang')
  })
})
