import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // `pushsync/...` resolves to the sources, as the tsconfig paths map it: the server reuses the
    // core, and the examples import the package by its published names.
    alias: [
      { find: /^pushsync$/, replacement: source('./src/index.ts') },
      { find: /^pushsync\/(core|testing)$/, replacement: source('./src/$1/index.ts') },
      {
        find: /^pushsync\/(storage|transport|push)\/([a-z-]+)$/,
        replacement: source('./adapters/$1/$2/index.ts'),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'server/test/**/*.test.ts'],
    setupFiles: ['test/setup/fast-check.ts'],
    // Property tests run 1,000 cases each; a model run can take a few seconds on a 2-core machine.
    testTimeout: 60_000,
  },
})
