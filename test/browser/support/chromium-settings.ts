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
