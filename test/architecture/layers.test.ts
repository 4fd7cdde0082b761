/**
 * The layer rules of docs/architecture.md §2, checked on the source tree:
 *
 * - `src/**` never imports `adapters/**`, so the root entry (and a browser bundle of it) never pulls
 *   SQLite, Node built-ins or the AWS SDK;
 * - `adapters/**` reach the library only through `src/contracts`, `src/core` and `src/errors`, so
 *   the engine can change without breaking adapters (ours or third parties');
 * - `src/core/**` imports nothing but itself: it is pure and runs anywhere, including the server;
 * - the rest of `src/` stays isomorphic: no Node built-ins, and the test tooling only in `src/testing`.
 *
 * Neither layer may import the package by its own name: a self-reference would be left external by
 * the build and load a second copy of the library at run time.
 */

import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { importSpecifiers, listFiles } from './source-scan.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SOURCE_EXTENSIONS = ['.ts', '.mts', '.cts', '.tsx']

const isRelative = (specifier: string) => specifier.startsWith('./') || specifier.startsWith('../')
const isSelfReference = (specifier: string) => specifier === 'pushsync' || specifier.startsWith('pushsync/')
const isBuiltin = (specifier: string) =>
  specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0] as string)
const isTestTooling = (specifier: string) =>
  /^(?:vitest|fast-check|@vitest\/[^/]+|@fast-check\/[^/]+)(?:\/|$)/.test(specifier)
const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`)

/** Repository-relative path (always with `/`) of a file. */
const repoPath = (file: string) => relative(root, file).split(sep).join('/')

/**
 * Why `importer` (a repository-relative path) may not import `specifier`, or `null` when it may.
 */
function layerViolation(importer: string, specifier: string): string | null {
  if (isSelfReference(specifier)) return 'import the module by relative path, not by the package name'
  if (specifier.startsWith('/')) return 'absolute paths do not survive publishing'

  const target = isRelative(specifier) ? repoPath(resolve(root, dirname(importer), specifier)) : null

  if (within(importer, 'src/core')) {
    if (target === null) return 'src/core imports no package and no built-in: it is pure'
    if (!within(target, 'src/core')) return 'src/core imports only files inside src/core'
    return null
  }
  if (within(importer, 'src')) {
    if (target !== null && within(target, 'adapters')) return 'src never imports adapters'
    if (target !== null && !within(target, 'src')) return 'src imports only files inside src'
    if (target === null && isBuiltin(specifier)) return 'src is isomorphic: no Node built-ins'
    if (target === null && isTestTooling(specifier) && !within(importer, 'src/testing')) {
      return 'only src/testing may import the test tooling'
    }
    return null
  }
  if (within(importer, 'adapters')) {
    if (target === null) return null
    const allowed =
      within(target, 'adapters') ||
      within(target, 'src/contracts') ||
      within(target, 'src/core') ||
      within(target, 'src/errors') ||
      /^src\/errors\.(?:[cm]?[jt]s)$/.test(target)
    return allowed ? null : 'adapters import only src/contracts, src/core and src/errors'
  }
  return null
}

describe('the layer checker', () => {
  it('finds every kind of import and ignores commented-out ones', () => {
    const source = [
      "import { a } from './a.js'",
      "import type { B } from '../b.js'",
      'import {',
      '  c,',
      '  type D,',
      "} from './c.js'",
      "export * from './e.js'",
      "export { f } from './f.js'",
      "import './g.js'",
      "const h = await import('./h.js')",
      "// import { x } from '../../adapters/x.js'",
      "/* import { y } from 'node:fs' */",
      "const s = 'not an import'",
    ].join('\n')
    expect(importSpecifiers(source)).toEqual([
      { specifier: './a.js', line: 1 },
      { specifier: '../b.js', line: 2 },
      { specifier: './c.js', line: 6 },
      { specifier: './e.js', line: 7 },
      { specifier: './f.js', line: 8 },
      { specifier: './g.js', line: 9 },
      { specifier: './h.js', line: 10 },
    ])
  })

  it.each([
    ['src/engine/sync-manager.ts', '../../adapters/storage/memory/index.js'],
    ['src/index.ts', '../adapters/storage/memory/index.js'],
    ['src/engine/sync-manager.ts', 'node:events'],
    ['src/engine/sync-manager.ts', 'fs'],
    ['src/engine/sync-manager.ts', 'vitest'],
    ['src/index.ts', 'pushsync/core'],
    ['src/core/pull.ts', '../errors.js'],
    ['src/core/pull.ts', '../contracts/storage.js'],
    ['src/core/pull.ts', 'fast-check'],
    ['src/core/pull.ts', 'node:crypto'],
    ['adapters/storage/memory/index.ts', '../../../src/engine/sync-manager.js'],
    ['adapters/storage/memory/index.ts', '../../../src/index.js'],
    ['adapters/storage/memory/index.ts', 'pushsync/core'],
  ])('refuses %s importing %s', (importer, specifier) => {
    expect(layerViolation(importer, specifier)).not.toBeNull()
  })

  it.each([
    ['src/engine/sync-manager.ts', '../core/index.js'],
    ['src/engine/sync-manager.ts', '../errors.js'],
    ['src/engine/sync-manager.ts', 'eventemitter3'],
    ['src/testing/index.ts', 'vitest'],
    ['src/testing/index.ts', 'fast-check'],
    ['src/core/pull.ts', './model.js'],
    ['src/core/pull.ts', './sub/helper.js'],
    ['adapters/storage/memory/index.ts', '../../../src/contracts/storage.js'],
    ['adapters/storage/memory/index.ts', '../../../src/core/index.js'],
    ['adapters/storage/memory/index.ts', '../../../src/errors.js'],
    ['adapters/storage/memory/index.ts', './memory-storage.js'],
    ['adapters/storage/sqlite/index.ts', '../shared/rows.js'],
    ['adapters/storage/sqlite/index.ts', 'node:path'],
    ['adapters/transport/cognito/index.ts', '@aws-sdk/client-cognito-sync'],
  ])('allows %s importing %s', (importer, specifier) => {
    expect(layerViolation(importer, specifier)).toBeNull()
  })
})

describe('the source tree', () => {
  const files = [
    ...listFiles(resolve(root, 'src'), SOURCE_EXTENSIONS),
    ...listFiles(resolve(root, 'adapters'), SOURCE_EXTENSIONS),
  ]

  it('has files to check', () => {
    expect(files.some((file) => repoPath(file).startsWith('src/core/'))).toBe(true)
  })

  it('follows the layer rules', () => {
    const violations = files.flatMap((file) => {
      const importer = repoPath(file)
      return importSpecifiers(readFileSync(file, 'utf8')).flatMap(({ specifier, line }) => {
        const reason = layerViolation(importer, specifier)
        return reason === null ? [] : [`${importer}:${line} imports '${specifier}': ${reason}`]
      })
    })
    expect(violations, 'see docs/architecture.md §2').toEqual([])
  })
})
