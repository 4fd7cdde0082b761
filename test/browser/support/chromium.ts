/**
 * Real Chromium for the browser tests: Debian's package at /usr/bin/chromium (or
 * PUSHSYNC_CHROMIUM), driven by playwright-core. Where it is missing the browser tests skip and
 * say why, unless PUSHSYNC_REQUIRE_BROWSER=1 (set by CI), which turns the absence into a failure.
 */
import { type Browser, type BrowserContext, chromium } from 'playwright-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH, findChromium } from './chromium-settings.js'

export { CHROMIUM_ARGS, CHROMIUM_PATH }

export const chromiumAvailable = findChromium('the tests that drive Chromium')

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
