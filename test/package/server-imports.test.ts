/**
 * `@pushsync/server` is published on its own, so its sources may import only what its package.json
 * gives it: its own files, Node built-ins, its dependencies, and of the library (a dependency too)
 * only the public entries of its exports map. A relative path into the library's sources would be
 * bundled into server/dist as a second copy of the library; a deep `pushsync/...` path would fail in
 * an app's install. The packaging test proves the built result; this catches the mistake in seconds.
 */
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { importSpecifiers, listFiles } from '../architecture/source-scan.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const serverSources = resolve(root, 'server/src')

interface Manifest {
  readonly name: string
  readonly exports: Record<string, unknown>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}
const readManifest = (path: string) => JSON.parse(readFileSync(resolve(root, path), 'utf8')) as Manifest
const library = readManifest('package.json')
const server = readManifest('server/package.json')

const publicEntries = new Set(
  Object.keys(library.exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => (subpath === '.' ? library.name : `${library.name}/${subpath.slice(2)}`)),
)
const dependencies = new Set([
  ...Object.keys(server.dependencies ?? {}),
  ...Object.keys(server.peerDependencies ?? {}),
])
const packageName = (specifier: string) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string)

function problemOf(file: string, specifier: string): string | undefined {
  if (specifier.startsWith('./') || specifier.startsWith('../')) {
    const target = resolve(dirname(file), specifier)
    return target.startsWith(serverSources + sep) ? undefined : 'reaches outside server/src'
  }
  if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return undefined
  if (packageName(specifier) === library.name)
    return publicEntries.has(specifier) ? undefined : `is not an entry of ${library.name}'s exports map`
  return dependencies.has(packageName(specifier)) ? undefined : 'is not a dependency in server/package.json'
}

describe('@pushsync/server sources', () => {
  const files = listFiles(serverSources, ['.ts'])

  it('are found', () => {
    expect(files.length).toBeGreaterThan(10)
  })

  it('import only their own files, Node, their dependencies and pushsync’s public entries', () => {
    const problems = files.flatMap((file) =>
      importSpecifiers(readFileSync(file, 'utf8')).flatMap(({ specifier }) => {
        const problem = problemOf(file, specifier)
        return problem === undefined ? [] : [`${relative(root, file)}: '${specifier}' ${problem}`]
      }),
    )
    expect(problems).toEqual([])
  })

  it('depend on pushsync by a version range, which npm pack publishes as it is', () => {
    expect(server.dependencies?.pushsync).toMatch(/^\^?\d+\.\d+\.\d+$/)
  })
})
