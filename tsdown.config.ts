import { defineConfig } from 'tsdown'

/**
 * One build for every subpath export. Building the entries together lets Rolldown put the code they
 * share (the core, the errors) in common chunks instead of copying it into each entry.
 *
 * The output names are the `exports` map of package.json without the extension; a new subpath
 * export needs a line here and one there (test/package/exports.test.ts fails when a file the map
 * names is not built).
 */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'core/index': 'src/core/index.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/merge/index': 'src/testing/merge/index.ts',
    'storage/memory': 'adapters/storage/memory/index.ts',
    'storage/sqlite': 'adapters/storage/sqlite/index.ts',
    'storage/indexeddb': 'adapters/storage/indexeddb/index.ts',
    'transport/cognito': 'adapters/transport/cognito/index.ts',
    'transport/http': 'adapters/transport/http/index.ts',
    'transport/websocket': 'adapters/transport/websocket/index.ts',
    'push/sse': 'adapters/push/sse/index.ts',
    'push/callback': 'adapters/push/callback/index.ts',
    'push/webpush': 'adapters/push/webpush/index.ts',
    'push/webpush/service-worker': 'adapters/push/webpush/service-worker.ts',
    'tabs/web-locks': 'adapters/tabs/web-locks/index.ts',
    session: 'adapters/session/index.ts',
    'connectivity/browser': 'adapters/connectivity/browser/index.ts',
    react: 'src/react/index.ts',
  },
  format: 'esm',
  // The library runs in browsers, React Native, workers and Node: no Node resolution or shims.
  platform: 'neutral',
  // engines.node is >=20.19; browsers get the same ES2022 syntax.
  target: ['node20.19', 'es2022'],
  // The package is `"type": "module"`, so plain `.js` / `.d.ts` are ESM and match the exports map.
  outExtensions: () => ({ js: '.js', dts: '.d.ts' }),
  dts: true,
  clean: true,
  deps: {
    // Only `pushsync/testing` uses these, and the app that runs the suites provides them:
    // bundling them would ship a second copy of the test runner inside the library.
    // `idb` is an optional peer of `pushsync/storage/indexeddb`: the app installs the one copy it uses.
    // `@aws-sdk/client-cognito-sync` is an optional peer of `pushsync/transport/cognito`, likewise.
    neverBundle: ['vitest', /^vitest\//, 'fast-check', 'idb', '@aws-sdk/client-cognito-sync'],
  },
})
