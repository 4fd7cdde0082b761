/**
 * `checkConflictResolver` and the simulator run under any test runner: the modules behind
 * `pushsync/testing/merge` reach fast-check and the core, never vitest, while `pushsync/testing`
 * (whose conformance suites are vitest's) re-exports them for apps that use vitest anyway.
 */
import { readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as testing from '../../src/testing/index.js'
import * as merge from '../../src/testing/merge/index.js'
import { importSpecifiers } from '../architecture/source-scan.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Every module `entry` loads, following relative imports, and the packages they name. */
function importGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = []
  const packages = new Set<string>()
  const pending = [resolve(root, entry)]
  while (pending.length > 0) {
    const file = pending.pop() as string
    if (files.includes(file)) continue
    files.push(file)
    for (const { specifier } of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')))
      else packages.add(specifier)
    }
  }
  return { files: files.map((file) => relative(root, file)), packages }
}

describe('pushsync/testing/merge', () => {
  it('loads fast-check and the core, and no test runner', () => {
    const { files, packages } = importGraph('src/testing/merge/index.ts')
    expect([...packages]).toEqual(['fast-check'])
    const outside = files.filter(
      (file) => !file.startsWith('src/testing/merge/') && !file.startsWith('src/core/'),
    )
    expect(outside).toEqual([])
  })

  it('is the graph the check would see: the conformance suites do load vitest', () => {
    expect(importGraph('src/testing/index.ts').packages.has('vitest')).toBe(true)
  })

  it('is re-exported whole by pushsync/testing', () => {
    const mergeExports = Object.entries(merge)
    const testingExports = new Map(Object.entries(testing))
    for (const [name, value] of mergeExports) expect(testingExports.get(name), name).toBe(value)
    expect(typeof testing.checkConflictResolver).toBe('function')
  })
})
