/**
 * What pushsync adds to a browser app: `npx tsx bench/bundle-size.ts` (`--json` for the figures).
 *
 * Each app below is bundled the way an app's bundler would (esbuild: bundle, minify, tree-shake,
 * ES2022, `NODE_ENV=production`), resolving `pushsync/...` through the repository's tsconfig paths,
 * and its bytes are gzipped at level 9. React and React DOM are measured on their own as well, so
 * the React app's figure can be split into React's share and pushsync's. Two peers installed here
 * for the side-by-side benchmark are measured the same way: Dexie alone (IndexedDB, no sync), and
 * RxDB with its Dexie storage and its replication protocol.
 */
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

/** An app's entry module: what it imports and uses, so nothing it needs is shaken off. */
export interface AppEntry {
  readonly name: string
  readonly what: string
  readonly source: string
}

/** The manager, IndexedDB, the HTTP transport and SSE pushes: the least a synced web app needs. */
const MINIMAL = `
import { createSyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createHttpTransport } from 'pushsync/transport/http'

export function startSync(endpoint, identityPoolId, identityId, getToken) {
  const remote = { endpoint, identityPoolId, identityId, getToken }
  const manager = createSyncManager({
    identityPoolId,
    identityId,
    storage: createIndexedDbStorage({ name: 'app' }),
    transport: createHttpTransport(remote),
    writeThrough: true,
  })
  manager.addPushSource(createSsePushSource(remote))
  return manager
}
`

/** The minimal app, signing in with pushsync/session and following the browser's connectivity. */
const WITH_SESSION = `
import { createSyncManager } from 'pushsync'
import { createBrowserConnectivity } from 'pushsync/connectivity/browser'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIdentitySession, localStorageIdentityStore } from 'pushsync/session'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createHttpTransport } from 'pushsync/transport/http'

export async function startSync(endpoint, identityPoolId) {
  const session = createIdentitySession({ endpoint, identityPoolId, identityStore: localStorageIdentityStore() })
  const identityId = await session.identityId()
  const remote = { endpoint, identityPoolId, identityId, getToken: session.getToken }
  const manager = createSyncManager({
    identityPoolId,
    identityId,
    storage: createIndexedDbStorage({ name: 'app' }),
    transport: createHttpTransport(remote),
    connectivity: createBrowserConnectivity(),
    writeThrough: true,
  })
  manager.addPushSource(createSsePushSource(remote))
  return manager
}
`

/** React and React DOM alone, rendering one element. */
const REACT_ONLY = `
import { createElement } from 'react'
import { createRoot } from 'react-dom/client'

export function mount(element) {
  createRoot(element).render(createElement('p', null, 'hello'))
}
`

/** The app with session and connectivity, rendered by React through every hook of pushsync/react. */
const REACT_APP = `
${WITH_SESSION}
import { createElement as h } from 'react'
import { createRoot } from 'react-dom/client'
import { SyncProvider, useDataset, useRecord, useSyncManager, useSyncStatus } from 'pushsync/react'

function Settings() {
  const manager = useSyncManager()
  const settings = useDataset('settings')
  const [theme = 'light', setTheme] = useRecord('settings', 'theme')
  const { online, pendingChanges, lastConflict } = useSyncStatus('settings')
  return h('main', null,
    h('p', null, online ? (pendingChanges > 0 ? pendingChanges + ' pending' : 'in sync') : 'offline'),
    h('button', { onClick: () => setTheme(theme === 'dark' ? 'light' : 'dark') }, theme),
    h('pre', null, JSON.stringify(settings.values), lastConflict?.dataset, manager?.identityId))
}

export async function mount(element, endpoint, identityPoolId) {
  const manager = await startSync(endpoint, identityPoolId)
  createRoot(element).render(h(SyncProvider, { manager }, h(Settings)))
}
`

/** Dexie opening a table: IndexedDB storage with no sync. */
const DEXIE = `
import Dexie from 'dexie'

export function open() {
  const db = new Dexie('app')
  db.version(1).stores({ settings: 'key' })
  return db
}
`

/** RxDB on its Dexie storage, with live replication through the app's own pull and push handlers. */
const RXDB = `
import { createRxDatabase } from 'rxdb'
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie'
import { replicateRxCollection } from 'rxdb/plugins/replication'

export async function start(pull, push) {
  const db = await createRxDatabase({ name: 'app', storage: getRxStorageDexie() })
  const schema = {
    version: 0,
    primaryKey: 'key',
    type: 'object',
    properties: { key: { type: 'string', maxLength: 128 }, value: { type: 'string' } },
  }
  await db.addCollections({ settings: { schema } })
  return replicateRxCollection({ collection: db.settings, replicationIdentifier: 'app', pull, push, live: true })
}
`

export const APPS: readonly AppEntry[] = [
  { name: 'minimal', what: 'manager + IndexedDB + HTTP + SSE', source: MINIMAL },
  { name: 'browser', what: 'the same + pushsync/session + browser connectivity', source: WITH_SESSION },
  { name: 'react-only', what: 'React 19 + React DOM, nothing else', source: REACT_ONLY },
  { name: 'react-app', what: 'the browser app + React 19 + React DOM + pushsync/react', source: REACT_APP },
  { name: 'dexie', what: 'peer: Dexie 4 (IndexedDB, no sync)', source: DEXIE },
  { name: 'rxdb', what: 'peer: RxDB 17 + Dexie storage + replication', source: RXDB },
]

export interface BundleSize {
  readonly name: string
  readonly what: string
  readonly minifiedBytes: number
  readonly gzipBytes: number
  /** The packages whose code is in the bundle. */
  readonly packages: readonly string[]
}

/** Bundles and gzips one app. */
export async function measure(app: AppEntry): Promise<BundleSize> {
  const result = await build({
    stdin: { contents: app.source, resolveDir: root, loader: 'js', sourcefile: `${app.name}.js` },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"production"' },
    tsconfig: `${root}tsconfig.json`,
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const output = result.outputFiles[0]
  if (output === undefined) throw new Error(`esbuild produced nothing for ${app.name}`)
  const packages = new Set<string>()
  for (const input of Object.keys(result.metafile.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)
    packages.add(
      match?.[1] ?? (input.startsWith('src/') || input.startsWith('adapters/') ? 'pushsync' : input),
    )
  }
  return {
    name: app.name,
    what: app.what,
    minifiedBytes: output.contents.byteLength,
    gzipBytes: gzipSync(output.contents, { level: 9 }).byteLength,
    packages: [...packages].sort(),
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const sizes = await Promise.all(APPS.map(measure))
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(sizes, null, 2)}\n`)
  } else {
    const react = sizes.find((size) => size.name === 'react-only')
    const browser = sizes.find((size) => size.name === 'browser')
    const app = sizes.find((size) => size.name === 'react-app')
    for (const size of sizes) {
      console.log(
        `${size.name.padEnd(11)} ${kb(size.gzipBytes).padStart(8)} gzip  ${kb(size.minifiedBytes).padStart(9)} min  ${size.what}`,
      )
    }
    if (react !== undefined && browser !== undefined && app !== undefined) {
      console.log(
        `\npushsync in the React app: ${kb(app.gzipBytes - react.gzipBytes)} gzip ` +
          `(of which pushsync/react: ${kb(app.gzipBytes - react.gzipBytes - browser.gzipBytes)})`,
      )
    }
  }
}
