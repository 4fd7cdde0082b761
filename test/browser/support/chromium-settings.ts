import { existsSync } from 'node:fs'

/**
 * Where the browser tests find Chromium and how they start it; shared by the vitest config (the
 * in-browser project) and the tests that drive Chromium from Node.
 */
export const CHROMIUM_PATH = process.env.PUSHSYNC_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Flags for a headless Chromium on a machine without a GPU or outside network: without the
 * background-networking ones it keeps trying to reach Google's hosts.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Whether Chromium is there. Where it is not, says which tests skip and why, unless
 * PUSHSYNC_REQUIRE_BROWSER=1 (set by CI), which turns its absence into a failure.
 */
export function findChromium(skipping: string): boolean {
  if (existsSync(CHROMIUM_PATH)) return true
  const message = `Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium, or set PUSHSYNC_CHROMIUM)`
  if (process.env.PUSHSYNC_REQUIRE_BROWSER === '1')
    throw new Error(`${message}; PUSHSYNC_REQUIRE_BROWSER=1 makes the browser tests mandatory`)
  console.warn(`[pushsync] skipping ${skipping}: ${message}`)
  return false
}
