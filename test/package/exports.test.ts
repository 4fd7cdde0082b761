/**
 * The published package, checked on the built `dist/`: every subpath of the `exports` map resolves
 * to JavaScript and types, loads through Node's own resolution of the package name, and the
 * isomorphic entries pull nothing that only works on Node or only belongs in tests.
 *
 * CI builds before it tests; on a fresh checkout the build runs here once, so `npm test` works.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { importSpecifiers, listFiles } from '../architecture/source-scan.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dist = resolve(root, 'dist')

interface PackageJson {
  readonly name: string
  readonly exports: Record<string, string | Record<string, string>>
}
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as PackageJson

const subpaths = Object.entries(pkg.exports)
  .filter(([subpath]) => subpath !== './package.json')
  .map(([subpath, target]) => {
    // A missing condition becomes '' so the test below fails with the subpath's name.
    const conditions: Record<string, string> = typeof target === 'string' ? { default: target } : target
    return {
      subpath,
      specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      types: conditions.types ?? '',
      default: conditions.default ?? '',
    }
  })

/**
 * The entries any app may bundle for a browser or a worker (`./testing` is for test runs only), and
 * the forbidden kinds of import each one may still make: the IndexedDB adapter is built on `idb`
 * (an optional peer), while the SQLite adapter takes a driver and imports no SQLite package at all.
 */
const ISOMORPHIC: ReadonlyArray<readonly [entry: string, allowed: readonly string[]]> = [
  ['dist/index.js', []],
  ['dist/core/index.js', []],
  ['dist/storage/memory.js', []],
  ['dist/storage/sqlite.js', []],
  ['dist/storage/indexeddb.js', ['IndexedDB wrapper']],
  // The Cognito transport is built on the SDK's Cognito Sync client (an optional peer), and nothing else of it.
  ['dist/transport/cognito.js', ['Cognito Sync client']],
  ['dist/transport/http.js', []],
  // The WebSocket class is passed in (or global): `ws` is never imported.
  ['dist/transport/websocket.js', []],
  ['dist/push/sse.js', []],
  ['dist/push/callback.js', []],
  ['dist/push/webpush.js', []],
  ['dist/push/webpush/service-worker.js', []],
  ['dist/session.js', []],
  ['dist/connectivity/browser.js', []],
  // React is an optional peer; nothing else it imports is forbidden, so nothing needs allowing.
  ['dist/react.js', []],
]
const FORBIDDEN_IN_ISOMORPHIC: ReadonlyArray<
  readonly [reason: string, test: (specifier: string) => boolean]
> = [
  ['Node built-in', (s) => s.startsWith('node:') || builtinModules.includes(s.split('/')[0] as string)],
  ['test tooling', (s) => /^(?:vitest|@vitest\/|fast-check)(?:\/|$)/.test(s)],
  ['SQLite driver', (s) => /^(?:better-sqlite3|sql\.js)(?:\/|$)/.test(s)],
  ['IndexedDB wrapper', (s) => /^idb(?:\/|$)/.test(s)],
  ['Cognito Sync client', (s) => /^@aws-sdk\/client-cognito-sync(?:\/|$)/.test(s)],
  ['AWS SDK', (s) => s.startsWith('@aws-sdk/') && !/^@aws-sdk\/client-cognito-sync(?:\/|$)/.test(s)],
]

const repoPath = (file: string) => relative(root, file).split(sep).join('/')

beforeAll(() => {
  if (existsSync(dist)) return
  // `--no` keeps npx from downloading anything: tsdown is a devDependency.
  execFileSync('npx', ['--no', 'tsdown'], { cwd: root, stdio: 'pipe' })
}, 180_000)

describe('the exports map', () => {
  it('lists the subpaths', () => {
    expect(subpaths.map((s) => s.subpath)).toContain('.')
    expect(subpaths.map((s) => s.subpath)).toContain('./core')
  })

  it.each(subpaths)('$subpath points at built JavaScript and types', (entry) => {
    expect(entry.types, `exports['${entry.subpath}'].types`).toMatch(/^\.\/dist\/.+\.d\.ts$/)
    expect(entry.default, `exports['${entry.subpath}'].default`).toMatch(/^\.\/dist\/.+\.js$/)
    for (const file of [entry.types, entry.default]) {
      expect(existsSync(resolve(root, file)), `${file} is missing: run \`npm run build\` first`).toBe(true)
    }
    // The types must describe the JavaScript next to them, not another entry.
    expect(entry.types.replace(/\.d\.ts$/, '')).toBe(entry.default.replace(/\.js$/, ''))
  })

  it('loads every subpath by package name with named exports', () => {
    // A separate Node process resolves `pushsync/...` through the exports map exactly as an app's
    // Node would (a package may import itself by name), without the test runner's resolver.
    const script = `
      const names = {}
      for (const specifier of ${JSON.stringify(subpaths.map((s) => s.specifier))}) {
        names[specifier] = Object.keys(await import(specifier)).filter((name) => name !== 'default')
      }
      process.stdout.write(JSON.stringify(names))
    `
    const output = execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
      cwd: root,
      encoding: 'utf8',
    })
    const names = JSON.parse(output) as Record<string, string[]>
    for (const { specifier } of subpaths) {
      expect(names[specifier]?.length ?? 0, `${specifier} has no named export`).toBeGreaterThan(0)
    }
  })
})

describe('the built isomorphic entries', () => {
  it.each(ISOMORPHIC)('%s imports nothing Node-only or test-only', (entry, allowed) => {
    const seen = new Set<string>()
    const problems: string[] = []
    // Walk the relative imports through the shared chunks; check every package import on the way.
    const visit = (file: string, via: string[]) => {
      if (seen.has(file)) return
      seen.add(file)
      expect(existsSync(file), `${repoPath(file)} is missing: run \`npm run build\` first`).toBe(true)
      const chain = [...via, repoPath(file)]
      for (const { specifier } of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('./') || specifier.startsWith('../')) {
          visit(resolve(dirname(file), specifier), chain)
          continue
        }
        for (const [reason, test] of FORBIDDEN_IN_ISOMORPHIC) {
          if (test(specifier) && !allowed.includes(reason))
            problems.push(`${chain.join(' → ')} imports '${specifier}' (${reason})`)
        }
      }
    }
    visit(resolve(root, entry), [])
    expect(problems).toEqual([])
  })

  it('pushsync/testing/merge needs fast-check but no test runner', () => {
    // Apps run checkConflictResolver from any runner (or none): the entry must not pull vitest.
    const seen = new Set<string>()
    const packages = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      for (const { specifier } of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('./') || specifier.startsWith('../'))
          visit(resolve(dirname(file), specifier))
        else packages.add(specifier)
      }
    }
    visit(resolve(root, 'dist/testing/merge/index.js'))
    expect([...packages].filter((specifier) => /^(?:vitest|@vitest\/)/.test(specifier))).toEqual([])
    expect(packages).toContain('fast-check')
  })

  it('share one copy of the core and the errors', () => {
    // Each exported function and class of the core and of the errors is defined in exactly one
    // emitted file: the entries import the shared chunk instead of inlining their own copy (a
    // second copy of SyncError would also break `instanceof` across subpaths).
    const sources = [...listFiles(resolve(root, 'src/core'), ['.ts']), resolve(root, 'src/errors.ts')]
    const names = sources.flatMap((file) =>
      [
        ...readFileSync(file, 'utf8').matchAll(
          /^export (?:async |abstract )?(?:function\*?|class) *([\w$]+)/gm,
        ),
      ].map((m) => m[1] as string),
    )
    expect(names.length).toBeGreaterThan(0)
    const emitted = listFiles(dist, ['.js']).map((file) => ({
      file: repoPath(file),
      text: readFileSync(file, 'utf8'),
    }))
    const duplicated = names.flatMap((name) => {
      const escaped = name.replace(/\$/g, '\\$')
      const definition = new RegExp(
        `(?:function\\*? *${escaped}\\s*\\(|\\bclass ${escaped}\\b|\\b(?:var|let|const) ${escaped} = class\\b)`,
      )
      const definedIn = emitted.filter(({ text }) => definition.test(text))
      return definedIn.length > 1 ? [`${name}: ${definedIn.map((e) => e.file).join(', ')}`] : []
    })
    expect(duplicated).toEqual([])
  })
})
