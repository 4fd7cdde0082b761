/**
 * Real Chromium for the browser tests: Debian's package at /usr/bin/chromium (or
 * PUSHSYNC_CHROMIUM), driven by playwright-core. Where it is missing the browser tests skip and
 * say why, unless PUSHSYNC_REQUIRE_BROWSER=1 (set by CI), which turns the absence into a failure.
 */
import { existsSync } from 'node:fs'
import { type Browser, type BrowserContext, chromium } from 'playwright-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium-settings.js'

export { CHROMIUM_ARGS, CHROMIUM_PATH }

export const chromiumAvailable = existsSync(CHROMIUM_PATH)
export const browserRequired = process.env.PUSHSYNC_REQUIRE_BROWSER === '1'

if (!chromiumAvailable) {
  const message = `Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium, or set PUSHSYNC_CHROMIUM)`
  if (browserRequired)
    throw new Error(`${message}; PUSHSYNC_REQUIRE_BROWSER=1 makes the browser tests mandatory`)
  console.warn(`[pushsync] skipping the browser tests: ${message}`)
}

/** Whether this file's browser tests must be skipped (they never are where they are required). */
export const skipBrowserTests = !chromiumAvailable

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS })
}

/**
 * A fresh profile (its own IndexedDB, locks and channels) in one browser. Pages of one context
 * are tabs of one profile; pages of two contexts are two devices.
 */
export function newProfile(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1280, height: 800 } })
}
