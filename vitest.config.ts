import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // The server reuses the library's core from source, as server/tsconfig.json maps it.
    alias: { 'pushsync/core': fileURLToPath(new URL('./src/core/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts', 'server/test/**/*.test.ts'],
    setupFiles: ['test/setup/fast-check.ts'],
    // Property tests run 1,000 cases each; a model run can take a few seconds on a 2-core machine.
    testTimeout: 60_000,
  },
})
