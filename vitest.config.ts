import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/fast-check.ts'],
    // Property tests run 1,000 cases each; a model run can take a few seconds on a 2-core machine.
    testTimeout: 60_000,
  },
})
