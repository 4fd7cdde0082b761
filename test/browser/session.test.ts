/**
 * `pushsync/session` and `pushsync/connectivity/browser` in real Chromium, against a real
 * pushsync-server: the page signs in by itself (GetId, GetCredentialsForIdentity) and keeps its
 * identity across reloads; Chromium going offline and online (`context.setOffline`, which fires the
 * page's `offline` and `online` events) reaches the manager, which sends what was written offline
 * once it is back, without being asked.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { createHttpTransport } from '../../adapters/transport/http/index.js'
import { createSyncManager } from '../../src/index.js'
import { launchChromium, newProfile, skipBrowserTests } from './support/chromium.js'
import { type PageServer, POOL, startPageServer } from './support/page-server.js'

interface AppApi {
  identityId: string
  storedIdentityId(): string | null
  token(): Promise<string>
  isOnline(): boolean
  heard: boolean[]
  synced: number[]
  put(key: string, value: string): Promise<void>
  pending(): number
  synchronize(): Promise<number>
}
declare const app: AppApi

describe.skipIf(skipBrowserTests)('sign-in and connectivity in Chromium', () => {
  let browser: Browser
  let server: PageServer
  let profile: BrowserContext
  /** The Cognito Identity operations the page called, in order. */
  let identityCalls: string[]

  beforeAll(async () => {
    server = await startPageServer(['session'])
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })
  beforeEach(async () => {
    profile = await newProfile(browser)
    identityCalls = []
  })
  afterEach(async () => {
    await profile.close()
  })

  const openApp = async (page?: Page): Promise<Page> => {
    const tab = page ?? (await profile.newPage())
    if (page === undefined) {
      tab.on('request', (request) => {
        const target = request.headers()['x-amz-target']
        if (target !== undefined) identityCalls.push(target.replace('AWSCognitoIdentityService.', ''))
      })
      await tab.goto(`${server.url}/session.html?${new URLSearchParams({ pool: POOL })}`)
    } else {
      await tab.reload()
    }
    await tab.waitForFunction(() => document.title === 'ready')
    return tab
  }

  /** What the server holds for `identityId`, read by another device in Node with the page's token. */
  const onServer = async (identityId: string, token: string) => {
    const reader = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport({
        endpoint: server.url,
        identityPoolId: POOL,
        identityId,
        getToken: () => token,
      }),
    })
    try {
      const settings = await reader.openOrCreateDataset('settings')
      await settings.synchronize()
      return { ...(await settings.getAll()) }
    } finally {
      await reader.close()
    }
  }

  it('signs in from the page, syncs with the token, and is the same identity after a reload', async () => {
    const page = await openApp()
    const identityId = await page.evaluate(() => app.identityId)
    expect(identityId).toMatch(/^us-east-1:[0-9a-f-]{36}$/)
    expect(await page.evaluate(() => app.storedIdentityId())).toBe(identityId)
    expect(identityCalls).toEqual(['GetId'])

    await page.evaluate(() => app.put('theme', 'dark'))
    expect(await page.evaluate(() => app.synchronize())).toBe(1)
    expect(identityCalls).toEqual(['GetId', 'GetCredentialsForIdentity'])
    const token = await page.evaluate(() => app.token())
    expect(await onServer(identityId, token)).toEqual({ theme: 'dark' })

    // A new visit: the identity comes from localStorage, GetId is not asked again.
    await openApp(page)
    expect(await page.evaluate(() => app.identityId)).toBe(identityId)
    expect(await page.evaluate(() => app.synchronize())).toBe(1)
    expect(identityCalls).toEqual(['GetId', 'GetCredentialsForIdentity', 'GetCredentialsForIdentity'])
  })

  it('hears Chromium go offline and online, and sends the offline writes when it is back', async () => {
    const page = await openApp()
    const identityId = await page.evaluate(() => app.identityId)
    expect(await page.evaluate(() => app.isOnline())).toBe(true)
    // Signed in and synced once while online: the credentials are at hand when the network goes.
    expect(await page.evaluate(() => app.synchronize())).toBe(0)

    await profile.setOffline(true)
    await expect.poll(() => page.evaluate(() => app.heard)).toEqual([false])
    expect(await page.evaluate(() => app.isOnline())).toBe(false)
    await page.evaluate(() => app.put('language', 'fr'))
    expect(await page.evaluate(() => app.pending())).toBe(1)
    // A sync the app asks for while offline fails as offline, and the write stays pending.
    const failure = await page.evaluate(() =>
      app.synchronize().then(
        () => 'synchronized',
        (error: { code?: string }) => error.code,
      ),
    )
    expect(failure).toBe('TRANSPORT_OFFLINE')
    expect(await page.evaluate(() => app.pending())).toBe(1)

    await profile.setOffline(false)
    await expect.poll(() => page.evaluate(() => app.heard)).toEqual([false, true])
    expect(await page.evaluate(() => app.isOnline())).toBe(true)
    // Nobody calls synchronize: the manager's connectivity source brings the pending write out.
    await expect.poll(() => page.evaluate(() => app.pending()), { timeout: 10_000 }).toBe(0)
    expect(await page.evaluate(() => app.synced)).toEqual([0, 1])
    const token = await page.evaluate(() => app.token())
    expect(await onServer(identityId, token)).toEqual({ language: 'fr' })
  })
})
