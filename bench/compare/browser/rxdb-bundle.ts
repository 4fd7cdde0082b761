import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * Bundles rxdb-page.ts for the browser, as an app's bundler would, with `ws` aliased to the
 * browser's WebSocket; writes it to a temporary file (for rxdb-server.ts `--page`) and returns its path.
 */
export async function bundleRxdbPage(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./rxdb-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    alias: { ws: fileURLToPath(new URL('./ws-shim.ts', import.meta.url)) },
    logLevel: 'error',
  })
  const output = result.outputFiles[0]
  if (output === undefined) throw new Error('esbuild produced nothing for rxdb-page.ts')
  const file = join(mkdtempSync(join(tmpdir(), 'rxdb-page-')), 'rxdb.js')
  writeFileSync(file, output.text)
  return file
}
