import { defineConfig } from 'tsdown'

/**
 * `@pushsync/server` as published: `dist/index.js` (the embedding API, with its `.d.ts`) and
 * `dist/cli.js` (the `pushsync-server` command), plain ESM that Node runs without TypeScript tooling.
 *
 * `pushsync` stays an import (a dependency, never bundled) and resolves through its exports map:
 * build the library first (`npm run build` at the repository root does both, in that order).
 */
export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  tsconfig: 'tsconfig.build.json',
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  outExtensions: () => ({ js: '.js', dts: '.d.ts' }),
  dts: true,
  clean: true,
  outputOptions: {
    // npm links `bin` files as they are: the command needs its interpreter line. (Rolldown's own
    // `banner` runs per chunk; tsdown's top-level `banner` function is evaluated for one chunk only.)
    banner: (chunk) => (chunk.fileName === 'cli.js' ? '#!/usr/bin/env node' : ''),
  },
  deps: {
    // Everything the server imports is a dependency in package.json and stays external; this
    // fails the build if a module from node_modules would be copied into dist instead.
    onlyBundle: [],
  },
})
