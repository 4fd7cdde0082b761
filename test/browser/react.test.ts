/**
 * The React guide's settings app (docs/snippets/react-*.tsx) on two devices in real Chromium with
 * React 19, against a real pushsync-server: each device is a browser profile of its own (its own
 * IndexedDB database and network), signed in as the same identity. Devices never poll: the other
 * device shows an edit only if a push (SSE) made it synchronize. Going offline is Chromium's own
 * (`context.setOffline`), which the app hears through `pushsync/connectivity/browser`.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { createHttpTransport } from '../../adapters/transport/http/index.js'
import { renderSettingsPage } from '../../docs/snippets/react-ssr.js'
import { createSyncManager } from '../../src/index.js'
import { launchChromium, newProfile, skipBrowserTests } from './support/chromium.js'
import { type PageServer, POOL, startPageServer } from './support/page-server.js'

/** How long a push may take to show on the other device, with room for a slow CI. */
const PUSH_WAIT = { timeout: 15_000, interval: 50 }
/** Where `localStorageIdentityStore` keeps the identity id. */
const IDENTITY_KEY = 'pushsync:identity-id'

/** The app as a user sees it: by roles and labels, as docs/snippets/react-*.tsx render them. */
function settingsApp(page: Page) {
  return {
    page,
    status: () => page.getByRole('status').textContent(),
    theme: () => page.locator('fieldset button[aria-pressed="true"]').textContent(),
    chooseTheme: (name: string) => page.getByRole('button', { name, exact: true }).click(),
    language: () => page.getByLabel('Language').inputValue(),
    chooseLanguage: (value: string) => page.getByLabel('Language').selectOption(value),
    notification: (label: string) => page.getByLabel(label, { exact: true }),
    alert: () => page.getByRole('alert'),
  }
}
type SettingsApp = ReturnType<typeof settingsApp>

describe.skipIf(skipBrowserTests)('the React guide’s settings app in Chromium', () => {
  let browser: Browser
  let server: PageServer
  const contexts: BrowserContext[] = []
  /** Page errors and React's console errors; network failures of an offline device are expected. */
  const problems: string[] = []

  beforeAll(async () => {
    server = await startPageServer(['react-settings', 'react-hydrate'])
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close()
    expect(problems.splice(0)).toEqual([])
  })

  /** A device: a profile of its own, signed in as `identityId`, with `page` open. */
  const openDevice = async (identityId: string, page = 'react-settings', before?: () => string) => {
    const context = await newProfile(browser)
    contexts.push(context)
    await context.addInitScript(({ key, id }) => localStorage.setItem(key, id), {
      key: IDENTITY_KEY,
      id: identityId,
    })
    if (before !== undefined) {
      await context.addInitScript((markup) => Object.assign(globalThis, { serverMarkup: markup }), before())
    }
    const tab = await context.newPage()
    tab.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    tab.on('console', (message) => {
      const text = message.text()
      if (message.type() === 'error' && !/Failed to load resource|net::ERR_/.test(text))
        problems.push(`console: ${text}`)
    })
    await tab.goto(`${server.url}/${page}.html`)
    await tab.waitForFunction(() => document.title === 'ready')
    return { context, app: settingsApp(tab) }
  }

  const inSync = async (...apps: SettingsApp[]) => {
    for (const app of apps) await expect.poll(() => app.status(), PUSH_WAIT).toBe('in sync')
  }

  /** A dataset as the server holds it, read by a device in Node with the identity's token. */
  const onServer = async (identity: { identityId: string; token: string }, dataset: string) => {
    const { identityId, token } = identity
    const node = createSyncManager({
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
      const handle = await node.openOrCreateDataset(dataset)
      await handle.synchronize()
      return { ...(await handle.getAll()) }
    } finally {
      await node.close()
    }
  }

  it('shows an edit made on one device on the other, by push: strings and typed values', async () => {
    const { identityId, token } = await server.newIdentity()
    const { app: a } = await openDevice(identityId)
    const { app: b } = await openDevice(identityId)
    await inSync(a, b)
    expect(await b.theme()).toBe('light')

    await a.chooseTheme('dark')
    // Shown once IndexedDB has committed it, a moment later.
    await expect.poll(() => a.theme()).toBe('dark')
    await expect.poll(() => b.theme(), PUSH_WAIT).toBe('dark')

    await a.chooseLanguage('fr')
    await expect.poll(() => b.language(), PUSH_WAIT).toBe('fr')

    // The typed dataset: a boolean checked by the zod schema, JSON text on the wire.
    await expect.poll(() => b.notification('Email').isChecked(), PUSH_WAIT).toBe(false)
    await a.notification('Email').check()
    await expect.poll(() => b.notification('Email').isChecked(), PUSH_WAIT).toBe(true)
    await expect
      .poll(() => b.page.locator('legend', { hasText: 'Notifications' }).textContent())
      .toBe('Notifications (1 on)')
    await inSync(a, b)

    // On the wire, a client without the schema (here in Node) reads the JSON text.
    expect(await onServer({ identityId, token }, 'notifications')).toEqual({ email: 'true' })
  })

  it('shows an offline edit as pending, and the conflict it meets when it comes back', async () => {
    const identity = await server.newIdentity()
    const { identityId } = identity
    const { app: a } = await openDevice(identityId)
    const { app: b, context: bNetwork } = await openDevice(identityId)
    await inSync(a, b)

    await bNetwork.setOffline(true)
    await expect.poll(() => b.status(), PUSH_WAIT).toBe('offline')
    await b.chooseTheme('sepia')
    await expect.poll(() => b.status()).toBe('offline · 1 pending')
    expect(await b.theme()).toBe('sepia')

    // Meanwhile the other device changes the same setting, later, and the server has it.
    await a.chooseTheme('dark')
    await expect.poll(() => onServer(identity, 'settings'), PUSH_WAIT).toEqual({ theme: 'dark' })
    await inSync(a)
    expect(await b.alert().count()).toBe(0)

    // Back online: the pending change goes out by itself, meets the other one, and the later wins.
    await bNetwork.setOffline(false)
    await expect.poll(() => b.alert().count(), PUSH_WAIT).toBe(1)
    expect(await b.alert().textContent()).toContain('Changed on another device at the same time: theme.')
    await inSync(b)
    await expect.poll(() => b.theme(), PUSH_WAIT).toBe('dark')
    expect(await a.theme()).toBe('dark')

    await b.page.getByRole('button', { name: 'OK' }).click()
    await expect.poll(() => b.alert().count()).toBe(0)
  })

  it('hydrates the markup rendered on the server, then reads and writes the datasets', async () => {
    const { identityId } = await server.newIdentity()
    const { app: writer } = await openDevice(identityId)
    await writer.chooseTheme('sepia')
    await inSync(writer)

    const markup = renderSettingsPage()
    const { app } = await openDevice(identityId, 'react-hydrate', () => markup)
    // The server's markup says loading; the hydrated app then shows the identity's settings.
    expect(markup).toContain('<p role="status">…</p>')
    await expect.poll(() => app.theme(), PUSH_WAIT).toBe('sepia')
    await inSync(app)
    await app.chooseTheme('dark')
    await expect.poll(() => writer.theme(), PUSH_WAIT).toBe('dark')
  })
})
