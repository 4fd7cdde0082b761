/**
 * The size claims of the docs' home page, kept true: bench/bundle-size.ts bundles the apps as an
 * app's bundler would, and here the figures must stay where the docs say they are.
 */
import { describe, expect, it } from 'vitest'
import { APPS, type BundleSize, measure } from '../../bench/bundle-size.js'

const sizes = new Map<string, BundleSize>()
const size = async (name: string): Promise<BundleSize> => {
  const known = sizes.get(name)
  if (known !== undefined) return known
  const app = APPS.find((entry) => entry.name === name)
  if (app === undefined) throw new Error(`no app ${name} in bench/bundle-size.ts`)
  const measured = await measure(app)
  sizes.set(name, measured)
  return measured
}

describe('bundle sizes', { timeout: 120_000 }, () => {
  it('a synced web app (manager, IndexedDB, HTTP, SSE) is smaller than Dexie alone', async () => {
    const minimal = await size('minimal')
    expect(minimal.packages).toEqual(['idb', 'minimal.js', 'p-queue', 'p-timeout', 'pushsync'])
    expect(minimal.gzipBytes).toBeLessThan((await size('dexie')).gzipBytes)
    expect(minimal.gzipBytes).toBeLessThan((await size('rxdb')).gzipBytes / 3)
  })

  it('pushsync/react adds less than 3 KB to an app that already has React and pushsync', async () => {
    const [react, browser, app] = await Promise.all([size('react-only'), size('browser'), size('react-app')])
    const bindings = app.gzipBytes - react.gzipBytes - browser.gzipBytes
    expect(bindings).toBeGreaterThan(0)
    expect(bindings).toBeLessThan(3 * 1024)
    // The bindings bring no package of their own: React is the app's.
    expect(app.packages).toEqual([
      'idb',
      'p-queue',
      'p-timeout',
      'pushsync',
      'react',
      'react-app.js',
      'react-dom',
      'scheduler',
    ])
  })
})
