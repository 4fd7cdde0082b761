/**
 * A page calling a sync server on another origin, in Chromium, which enforces CORS: the server's
 * `corsOrigins` lets the page's origin in; without it the browser keeps every answer from the page.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, type SyncServer } from '../../server/src/server.js'
import { launchChromium, newProfile, skipBrowserTests } from './support/chromium.js'
import { guestIdentity, type PageServer, POOL, startPageServer } from './support/page-server.js'

declare function syncOnce(): Promise<{ lastSyncCount: number } | { error: string }>

describe.skipIf(skipBrowserTests)('a page on another origin, in Chromium', () => {
  let browser: Browser
  let pages: PageServer
  const servers: SyncServer[] = []

  beforeAll(async () => {
    pages = await startPageServer(['cross-origin'])
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await pages?.close()
    for (const server of servers) await server.close()
  })

  /** A sync server on its own port: another origin than the page's. */
  const apiServer = async (corsOrigins?: string[]) => {
    const server = await createSyncServer({
      db: ':memory:',
      allowUnauthenticated: true,
      tokenSecret: 'cors-browser',
      ...(corsOrigins === undefined ? {} : { corsOrigins }),
    })
    servers.push(server)
    const { url } = await server.listen(0)
    // The page signs in on the same server it syncs with; the test does it for the page.
    return { url, ...(await guestIdentity(url)) }
  }

  const runPage = async (api: { url: string; identityId: string; token: string }) => {
    const profile = await newProfile(browser)
    try {
      const page = await profile.newPage()
      const query = new URLSearchParams({
        pool: POOL,
        identity: api.identityId,
        token: api.token,
        endpoint: api.url,
      })
      await page.goto(`${pages.url}/cross-origin.html?${query}`)
      await page.waitForFunction(() => document.title === 'ready')
      return await page.evaluate(() => syncOnce())
    } finally {
      await profile.close()
    }
  }

  it('syncs with a server that lists the page’s origin', async () => {
    const api = await apiServer([pages.url])
    expect(new URL(api.url).origin).not.toBe(new URL(pages.url).origin)
    expect(await runPage(api)).toEqual({ lastSyncCount: 1 })
  })

  it('cannot reach a server that does not list it: the sync fails as offline, and nothing is written', async () => {
    const api = await apiServer(['http://elsewhere.example.test'])
    expect(await runPage(api)).toEqual({ error: 'TRANSPORT_OFFLINE' })
    const server = servers.at(-1) as SyncServer
    expect(await server.store.transaction((tx) => tx.listDatasets(api.identityId))).toEqual([])
  })
})
