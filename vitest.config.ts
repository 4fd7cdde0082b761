import { fileURLToPath } from 'node:url'
import { playwright } from '@vitest/browser-playwright'
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'
import { CHROMIUM_ARGS, CHROMIUM_PATH, findChromium } from './test/browser/support/chromium-settings.js'

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url))

// Files named `*.browser.test.ts` run inside real Chromium (vitest browser mode); the others run in
// Node (those under test/browser/ drive Chromium from Node with playwright-core).
const BROWSER_FILES = ['test/browser/**/*.browser.test.ts']

const browserProject: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'chromium',
    include: BROWSER_FILES,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }),
      instances: [{ browser: 'chromium' }],
    },
  },
}

const chromiumFound = findChromium(`the in-browser tests (${BROWSER_FILES.join(', ')})`)

export default defineConfig({
  resolve: {
    // `pushsync/...` and `@pushsync/server` resolve to the sources, as the tsconfig paths map them:
    // the server reuses the core, and the examples import the packages by their published names.
    alias: [
      { find: /^pushsync$/, replacement: source('./src/index.ts') },
      { find: /^pushsync\/(core|testing|react)$/, replacement: source('./src/$1/index.ts') },
      { find: /^pushsync\/testing\/merge$/, replacement: source('./src/testing/merge/index.ts') },
      { find: /^pushsync\/session$/, replacement: source('./adapters/session/index.ts') },
      {
        find: /^pushsync\/push\/webpush\/service-worker$/,
        replacement: source('./adapters/push/webpush/service-worker.ts'),
      },
      {
        find: /^pushsync\/(storage|transport|push|tabs|connectivity)\/([a-z-]+)$/,
        replacement: source('./adapters/$1/$2/index.ts'),
      },
      // The server's package points at its build (server/dist); tests use its sources.
      { find: /^@pushsync\/server$/, replacement: source('./server/src/index.ts') },
    ],
  },
  test: {
    setupFiles: ['test/setup/fast-check.ts'],
    // Property tests run 1,000 cases each; a model run can take a few seconds on a 2-core machine.
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts', 'server/test/**/*.test.ts'],
          exclude: BROWSER_FILES,
        },
      },
      ...(chromiumFound ? [browserProject] : []),
    ],
  },
})
