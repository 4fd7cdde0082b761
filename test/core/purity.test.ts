/**
 * The core is pure (docs: architecture §2): no I/O, timers, clocks, randomness or globals. Time and
 * randomness arrive as arguments, which is what makes it deterministic under property tests and
 * reusable on the server. Biome's `noRestrictedGlobals` catches some of this while editing; this
 * test is the complete list, and it cannot be switched off by a lint suppression comment.
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { lineOf, listFiles, stripComments } from '../architecture/source-scan.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const coreDir = fileURLToPath(new URL('../../src/core', import.meta.url))

const FORBIDDEN: ReadonlyArray<readonly [rule: string, pattern: RegExp]> = [
  ['Date.now', /\bDate\s*\.\s*now\b/],
  ['new Date()', /\bnew\s+Date\s*\(\s*\)/],
  ['Math.random', /\bMath\s*\.\s*random\b/],
  ['setTimeout', /(?<![\w$])setTimeout\b/],
  ['setInterval', /(?<![\w$])setInterval\b/],
  ['setImmediate', /(?<![\w$])setImmediate\b/],
  ['queueMicrotask', /(?<![\w$])queueMicrotask\b/],
  ['performance', /(?<![\w$.])performance\b/],
  ['fetch(', /(?<![\w$])fetch\s*\(/],
  ['process.', /(?<![\w$.])process\s*\./],
  ['globalThis', /(?<![\w$])globalThis\b/],
  ['window', /(?<![\w$.])window\b/],
  ['self.', /(?<![\w$.])self\s*\./],
  ['crypto', /(?<![\w$.])crypto\b/],
  ['TextEncoder', /(?<![\w$])TextEncoder\b/],
  ['TextDecoder', /(?<![\w$])TextDecoder\b/],
  ['console.', /(?<![\w$.])console\s*\./],
  ['require(', /(?<![\w$.])require\s*\(/],
  ['import(', /(?<![\w$.])import\s*\(/],
  ['import.meta', /(?<![\w$.])import\s*\.\s*meta\b/],
]

interface Violation {
  readonly rule: string
  readonly line: number
}

/** Every forbidden use in `source`, ignoring comments and the text of string literals. */
function findImpurities(source: string): Violation[] {
  const code = stripComments(source, { blankStrings: true })
  const found: Violation[] = []
  for (const [rule, pattern] of FORBIDDEN) {
    for (const match of code.matchAll(new RegExp(pattern.source, 'g'))) {
      found.push({ rule, line: lineOf(code, match.index) })
    }
  }
  return found.sort((a, b) => a.line - b.line)
}

describe('the purity scanner', () => {
  // One line per rule, each using the name the way real code would.
  const uses: Record<string, string> = {
    'Date.now': 'const t = Date.now()',
    'new Date()': 'const d = new Date()',
    'Math.random': 'const r = Math.random()',
    setTimeout: 'setTimeout(tick, 10)',
    setInterval: 'const h = setInterval(tick, 10)',
    setImmediate: 'setImmediate(tick)',
    queueMicrotask: 'queueMicrotask(() => tick())',
    performance: 'const p = performance.now()',
    'fetch(': 'await fetch(url)',
    'process.': 'const env = process.env.HOME',
    globalThis: 'const g = globalThis',
    window: 'window.addEventListener("x", tick)',
    'self.': 'self.postMessage(1)',
    crypto: 'const id = crypto.randomUUID()',
    TextEncoder: 'const bytes = new TextEncoder().encode(s)',
    TextDecoder: 'const text = new TextDecoder().decode(b)',
    'console.': 'console.log(1)',
    'require(': 'const fs = require("node:fs")',
    'import(': 'const m = await import("./x.js")',
    'import.meta': 'const here = import.meta.url',
  }

  it('has a sample for every rule', () => {
    expect(Object.keys(uses).sort()).toEqual(FORBIDDEN.map(([rule]) => rule).sort())
  })

  it.each(Object.entries(uses))('detects %s', (rule, line) => {
    expect(findImpurities(line).map((v) => v.rule)).toContain(rule)
  })

  it('reports the line of each use in a file', () => {
    const source = Object.values(uses).join('\n')
    const found = findImpurities(source)
    for (const [index, rule] of Object.keys(uses).entries()) {
      expect(found).toContainEqual({ rule, line: index + 1 })
    }
  })

  it('sees code that follows a string or regex holding //', () => {
    expect(findImpurities("const u = 'https://example.com'; const t = Date.now()")).toEqual([
      { rule: 'Date.now', line: 1 },
    ])
    expect(findImpurities('const re = /^https?:\\/\\//; Math.random()')).toEqual([
      { rule: 'Math.random', line: 1 },
    ])
    expect(findImpurities(`const s = \`\${a}//\${Date.now()}\``)).toEqual([{ rule: 'Date.now', line: 1 }])
  })

  it('ignores the names in comments, strings and look-alike identifiers', () => {
    const clean = [
      '// Date.now() and Math.random() arrive as arguments; never setTimeout or fetch(url)',
      '/* process.env, globalThis, window, self.x, crypto, performance, console.log(x) */',
      '/**',
      ' * new Date() and require("x") and import("y") and new TextEncoder()',
      ' */',
      "const message = 'the window is closed; call fetch() later'",
      'const t = `elapsed since Date.now()`',
      'const date = new Date(now)',
      'const { setTimeoutMs, processed, selfTest, windowSize } = options',
      'export function decide(now: number, random: () => number) { return now + random() }',
      "import type { Limits } from './limits.js'",
      'const x = a / b / c',
    ].join('\n')
    expect(findImpurities(clean)).toEqual([])
  })
})

describe('src/core', () => {
  const files = listFiles(coreDir, ['.ts', '.mts', '.cts', '.tsx'])

  it('has source files to check', () => {
    expect(files.length).toBeGreaterThan(0)
  })

  it('uses no clock, timer, randomness, I/O or global', () => {
    const violations = files.flatMap((file) =>
      findImpurities(readFileSync(file, 'utf8')).map(
        (v) => `${relative(root, file)}:${v.line} uses ${v.rule}`,
      ),
    )
    expect(violations, 'pass time and randomness in as arguments instead').toEqual([])
  })

  it('type-checks without DOM or Node types', () => {
    // JSONC: drop comments and trailing commas before parsing.
    const text = stripComments(readFileSync(`${coreDir}/tsconfig.json`, 'utf8')).replace(/,(\s*[}\]])/g, '$1')
    const options = (JSON.parse(text) as { compilerOptions?: { lib?: string[]; types?: string[] } })
      .compilerOptions
    expect(options?.lib, 'src/core/tsconfig.json must set lib').toBeDefined()
    expect(options?.lib?.filter((lib) => /^dom\b/i.test(lib)) ?? []).toEqual([])
    expect(options?.types).toEqual([])
  })
})
