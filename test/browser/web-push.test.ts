/**
 * Web Push in Chromium, from the push event on: Chromium's DevTools protocol delivers a push
 * message to the page's real service worker (as the browser does when its push service hands one
 * over), `relayPush` posts it to the window, `createWebPushSource` relays it to the manager, which
 * syncs when the push names a newer sync count. The push service's network leg cannot run here;
 * server/test/push/webpush*.test.ts covers the server's side of it (encryption, VAPID).
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { createHttpTransport } from '../../adapters/transport/http/index.js'
import { encodePushPayload } from '../../src/core/index.js'
import { createSyncManager } from '../../src/index.js'
import { launchChromium, newProfile, skipBrowserTests } from './support/chromium.js'
import { type PageServer, POOL, startPageServer } from './support/page-server.js'

interface AppApi {
  received: number[]
  ignored: string[]
  get(key: string): Promise<string | undefined>
  lastSyncCount(): Promise<number>
  controlled(): boolean
}
declare const app: AppApi

describe.skipIf(skipBrowserTests)('Web Push in Chromium', () => {
  let browser: Browser
  let server: PageServer
  let profile: BrowserContext
  let identity: { identityId: string; token: string }

  beforeAll(async () => {
    server = await startPageServer(['webpush', 'sw'])
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

  /** The app's page, its service worker active, and a DevTools session that can push to it. */
  const openApp = async (): Promise<{ page: Page; push: (data: string) => Promise<void> }> => {
    const page = await profile.newPage()
    const cdp: CDPSession = await profile.newCDPSession(page)
    const registrations: string[] = []
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) => {
      for (const registration of updated)
        if (!registration.isDeleted) registrations.push(registration.registrationId)
    })
    await cdp.send('ServiceWorker.enable')
    const query = new URLSearchParams({ pool: POOL, identity: identity.identityId, token: identity.token })
    await page.goto(`${server.url}/webpush.html?${query}`)
    await page.waitForFunction(() => document.title === 'ready')
    await expect.poll(() => page.evaluate(() => app.controlled())).toBe(true)
    await expect.poll(() => registrations.length).toBeGreaterThan(0)
    const push = async (data: string) => {
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin: server.url,
        registrationId: registrations.at(-1) as string,
        data,
      })
    }
    return { page, push }
  }

  /** Another device of the identity writes through the real server; resolves with the new count. */
  const writeElsewhere = async (key: string, value: string) => {
    const manager = createSyncManager({
      identityPoolId: POOL,
      identityId: identity.identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport({
        endpoint: server.url,
        identityPoolId: POOL,
        identityId: identity.identityId,
        getToken: () => identity.token,
      }),
    })
    const ds = await manager.openOrCreateDataset('settings')
    await ds.put(key, value)
    const { lastSyncCount } = await ds.synchronize()
    await manager.close()
    return lastSyncCount
  }

  /** The payload pushsync-server sends to a Web Push subscription (the same encoder). */
  const payload = (syncCount: number, identityId = identity.identityId) =>
    JSON.stringify(
      encodePushPayload(
        { source: 'cognito-sync', identityPoolId: POOL, identityId, datasetName: 'settings', syncCount },
        'json',
      ),
    )

  it('syncs the page when its service worker gets a push naming a newer count', async () => {
    const { page, push } = await openApp()
    const syncCount = await writeElsewhere('theme', 'dark')
    expect(await page.evaluate(() => app.get('theme'))).toBeUndefined()
    await push(payload(syncCount))
    await expect.poll(() => page.evaluate(() => app.get('theme')), { timeout: 10_000 }).toBe('dark')
    expect(await page.evaluate(() => app.received)).toEqual([syncCount])
    expect(await page.evaluate(() => app.lastSyncCount())).toBe(syncCount)
  })

  it('reports pushes it must not act on, and syncs for none of them', async () => {
    const { page, push } = await openApp()
    await writeElsewhere('theme', 'dark')
    await push('not json at all')
    await push(payload(1, 'us-east-1:00000000-0000-4000-8000-00000000beef'))
    await expect.poll(() => page.evaluate(() => app.ignored.length), { timeout: 10_000 }).toBe(2)
    expect(await page.evaluate(() => app.received)).toEqual([])
    expect(await page.evaluate(() => app.get('theme'))).toBeUndefined()
  })
})
