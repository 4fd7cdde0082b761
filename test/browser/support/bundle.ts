/**
 * Bundles a test page's TypeScript entry for the browser with esbuild, resolving `pushsync/...`
 * to the sources through the root tsconfig's paths, the way an app's bundler would.
 */
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const tsconfig = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url))

export async function bundleForBrowser(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    sourcemap: 'inline',
    tsconfig,
    logLevel: 'silent',
  })
  const output = result.outputFiles[0]
  if (output === undefined) throw new Error(`esbuild produced nothing for ${entry}`)
  return output.text
}
