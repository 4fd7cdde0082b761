/**
 * The code a reader copies from the READMEs and the getting-started guides is complete code the
 * project compiles: every TypeScript block of README.md and server/README.md is a whole file of
 * docs/snippets (which `npm run typecheck` compiles), and every snippet region a guide includes
 * exists (VitePress would show the whole file instead of a region it cannot find) and compiles on
 * its own, as the reader sees it: its imports, declarations and code, nothing from around it.
 * The README's program also runs here against a real server, as a user runs it.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, type SyncServer } from '../../server/src/server.js'
import { codeBlocks, programOf } from './markdown.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const snippets = join(root, 'docs/snippets')
const read = (path: string) => readFileSync(join(root, path), 'utf8')

const TYPESCRIPT = new Set(['ts', 'tsx', 'typescript', 'js', 'javascript'])
const READMES = ['README.md', 'server/README.md']
const GUIDES = readdirSync(join(root, 'docs/guide'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/guide/${name}`)

const snippetFiles = readdirSync(snippets)
  .filter((name) => name.endsWith('.ts'))
  .map((name) => ({ name, text: readFileSync(join(snippets, name), 'utf8') }))

describe.each(READMES)('%s', (page) => {
  const blocks = codeBlocks(read(page)).filter((block) => TYPESCRIPT.has(block.lang))

  it('has TypeScript to check', () => {
    expect(blocks.length).toBeGreaterThan(0)
  })

  it.each(blocks.map((block, index) => ({ ...block, index })))(
    'block $index (under "$section") is a whole compiled snippet',
    ({ code, section }) => {
      const match = snippetFiles.find((file) => file.text === code)
      expect(
        match?.name,
        `the ${'```'}ts block under "${section}" in ${page} matches no file of docs/snippets: copy it there ` +
          '(a complete program, compiled by `npm run typecheck`) and keep both the same',
      ).toBeDefined()
    },
  )
})

describe.each(GUIDES)('%s', (page) => {
  const text = read(page)
  const includes = [...text.matchAll(/^<<< @\/snippets\/([\w.-]+)(?:#([\w-]+))?/gm)].map((m) => ({
    file: m[1] as string,
    region: m[2],
  }))

  it('shows no TypeScript that is not a compiled snippet', () => {
    const inline = codeBlocks(text).filter((block) => TYPESCRIPT.has(block.lang))
    expect(inline.map((block) => block.section)).toEqual([])
  })

  it.each(includes)('includes $file#$region, which exists', ({ file, region }) => {
    const path = join(snippets, file)
    expect(existsSync(path), `${page} includes docs/snippets/${file}, which does not exist`).toBe(true)
    if (region === undefined) return
    const lines = readFileSync(path, 'utf8').split('\n')
    expect(lines.some((line) => line.trim() === `// #region ${region}`)).toBe(true)
    expect(lines.some((line) => line.trim() === `// #endregion ${region}`)).toBe(true)
  })
})

/** The text VitePress shows for `<<< file#region`: the region's lines without markers, dedented. */
function regionText(file: string, region: string | undefined): string {
  const text = readFileSync(join(snippets, file), 'utf8')
  if (region === undefined) return text
  const lines = text.split('\n')
  const start = lines.findIndex((line) => line.trim() === `// #region ${region}`)
  const end = lines.findIndex((line) => line.trim() === `// #endregion ${region}`)
  const body = lines.slice(start + 1, end).filter((line) => !/^\/\/ #(?:end)?region /.test(line.trim()))
  const indent = Math.min(
    ...body.filter((line) => line.trim() !== '').map((line) => /^\s*/.exec(line)?.[0].length ?? 0),
  )
  return body.map((line) => line.slice(indent)).join('\n')
}

/**
 * Type-checks each text as a module of its own, placed in docs/snippets (so a block may import a
 * snippet another page shows, as `./sign-in.js`), with the repository's compiler options; returns
 * the errors per text. A block shown from a `.tsx` snippet is compiled as TSX.
 */
function compileAlone(blocks: ReadonlyArray<{ readonly text: string; readonly tsx: boolean }>): string[][] {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
      },
    },
  )
  if (parsed === undefined) throw new Error('tsconfig.json could not be read')
  const virtual = new Map(
    blocks.map(({ text, tsx }, index) => [
      join(snippets, `.guide-block-${index}.${tsx ? 'tsx' : 'ts'}`),
      text,
    ]),
  )
  const host = ts.createCompilerHost(parsed.options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (file) => virtual.has(file) || fileExists(file)
  host.readFile = (file) => virtual.get(file) ?? readFile(file)
  host.getSourceFile = (file, language, ...rest) => {
    const text = virtual.get(file)
    return text === undefined
      ? getSourceFile(file, language, ...rest)
      : ts.createSourceFile(file, text, language, true)
  }
  // Ambient declarations of docs/snippets (the React Native modules the guides import) apply too.
  const ambient = readdirSync(snippets)
    .filter((name) => name.endsWith('.d.ts'))
    .map((name) => join(snippets, name))
  const program = ts.createProgram([...virtual.keys(), ...ambient], parsed.options, host)
  return [...virtual.keys()].map((file) => {
    const source = program.getSourceFile(file)
    if (source === undefined) return [`${file} was not compiled`]
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map(
      (diagnostic) => {
        const line =
          diagnostic.start === undefined ? 0 : source.getLineAndCharacterOfPosition(diagnostic.start).line + 1
        return `line ${line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`
      },
    )
  })
}

describe('the guides’ code blocks', () => {
  const blocks = GUIDES.flatMap((page) =>
    [...read(page).matchAll(/^<<< @\/snippets\/([\w.-]+)(?:#([\w-]+))?/gm)].map((m) => ({
      page,
      shown: `${m[1]}${m[2] === undefined ? '' : `#${m[2]}`}`,
      text: regionText(m[1] as string, m[2]),
      tsx: (m[1] as string).endsWith('.tsx'),
    })),
  )

  it('each compile on their own, as shown', { timeout: 120_000 }, () => {
    const errors = compileAlone(blocks)
    const incomplete = blocks.flatMap((block, index) =>
      (errors[index] ?? []).length === 0
        ? []
        : [`${block.page} shows ${block.shown}:\n  ${(errors[index] ?? []).join('\n  ')}`],
    )
    expect(blocks.length).toBeGreaterThan(5)
    expect(incomplete.join('\n'), 'blocks that need code the page does not show').toBe('')
  })
})

describe('the README program', () => {
  let server: SyncServer
  let url: string
  const directory = mkdtempSync(join(tmpdir(), 'pushsync-readme-'))

  beforeAll(async () => {
    server = await createSyncServer({ db: ':memory:', allowUnauthenticated: true })
    url = (await server.listen(0, '127.0.0.1')).url
  })
  afterAll(async () => {
    await server?.close()
    rmSync(directory, { recursive: true, force: true })
  })

  it('is docs/snippets/readme.ts', () => {
    expect(programOf(read('README.md'), 'Using it')).toBe(read('docs/snippets/readme.ts'))
  })

  it('runs: the laptop shows each of the phone’s writes, brought by push', async () => {
    // A process of its own, as `node app.ts` would be: top-level await, SQLite files in its working
    // directory. tsx maps `pushsync/...` to the sources through the repository's tsconfig paths.
    const { stdout } = await promisify(execFile)(
      join(root, 'node_modules/.bin/tsx'),
      ['--tsconfig', join(root, 'tsconfig.json'), join(snippets, 'readme.ts')],
      { cwd: directory, env: { ...process.env, PUSHSYNC_ENDPOINT: url }, timeout: 60_000 },
    )
    expect(stdout).toBe('dark\nlight\n')
  })
})
