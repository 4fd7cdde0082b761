/**
 * Small, dependency-free source scanning for the architecture, purity and package tests.
 *
 * It is a lexer for the parts of JavaScript/TypeScript that decide what is code: comments, string
 * and template literals, regular expression literals. It is not a parser; the checks built on it
 * are regex searches over code whose comments (and optionally string contents) are blanked.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

export interface StripOptions {
  /** Also blank the contents of string and template literals (not their `${...}` expressions). */
  readonly blankStrings?: boolean
}

// After these characters a `/` starts a regular expression literal; after anything else it divides.
const REGEX_PRECEDERS = new Set([...'(,=:[!&|?{};+-*%<>~^'])
const REGEX_KEYWORDS =
  /(?:^|[^\w$])(?:return|typeof|instanceof|case|do|else|in|of|void|throw|delete|new|yield|await)$/

/**
 * Replaces comments with spaces, keeping newlines so line numbers still match the file.
 * String, template and regex literals are kept (or blanked with `blankStrings`), so `//` inside a
 * URL string or a regex does not hide the code after it.
 */
export function stripComments(source: string, options: StripOptions = {}): string {
  const blank = options.blankStrings === true
  const out: string[] = []
  // One entry per open `${`: the `{` depth inside that template expression.
  const templateDepths: number[] = []
  // The code emitted so far, trimmed, decides whether a `/` is division or a regex.
  let lastCode = ''
  let i = 0

  const keep = (text: string) => {
    out.push(text)
    if (text.trim() !== '') lastCode = (lastCode + text).slice(-16).trimEnd()
  }
  const hide = (text: string) => {
    out.push(text.replace(/[^\n]/g, ' '))
  }

  // Reads template text from `i` (just after a backtick or a closing `}`) up to the closing
  // backtick or the next `${`.
  const readTemplateText = () => {
    const start = i
    while (i < source.length) {
      const c = source[i]
      if (c === '\\') {
        i += 2
        continue
      }
      if (c === '`') {
        emitLiteral(source.slice(start, i))
        keep('`')
        i++
        return
      }
      if (c === '$' && source[i + 1] === '{') {
        emitLiteral(source.slice(start, i))
        keep('${')
        i += 2
        templateDepths.push(0)
        return
      }
      i++
    }
    emitLiteral(source.slice(start))
  }
  const emitLiteral = (text: string) => {
    if (blank) hide(text)
    else out.push(text)
  }

  while (i < source.length) {
    const c = source[i] as string
    const next = source[i + 1]
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i)
      const stop = end === -1 ? source.length : end
      hide(source.slice(i, stop))
      i = stop
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      const stop = end === -1 ? source.length : end + 2
      hide(source.slice(i, stop))
      i = stop
    } else if (c === '"' || c === "'") {
      let j = i + 1
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1
      keep(c)
      emitLiteral(source.slice(i + 1, j))
      keep(c)
      i = j + 1
    } else if (c === '`') {
      keep('`')
      i++
      readTemplateText()
    } else if (c === '}' && templateDepths.length > 0 && templateDepths[templateDepths.length - 1] === 0) {
      templateDepths.pop()
      keep('}')
      i++
      readTemplateText()
    } else if (
      c === '/' &&
      (lastCode === '' || REGEX_PRECEDERS.has(lastCode.at(-1) as string) || REGEX_KEYWORDS.test(lastCode))
    ) {
      // A regex literal ends at the first unescaped `/` outside a character class, on the same line.
      let j = i + 1
      let inClass = false
      while (j < source.length && source[j] !== '\n') {
        const r = source[j]
        if (r === '\\') j++
        else if (r === '[') inClass = true
        else if (r === ']') inClass = false
        else if (r === '/' && !inClass) break
        j++
      }
      keep('/')
      emitLiteral(source.slice(i + 1, j))
      keep('/')
      i = j + 1
    } else {
      if (templateDepths.length > 0) {
        const top = templateDepths.length - 1
        if (c === '{') templateDepths[top] = (templateDepths[top] as number) + 1
        else if (c === '}') templateDepths[top] = (templateDepths[top] as number) - 1
      }
      keep(c)
      i++
    }
  }
  return out.join('')
}

/** 1-based line of a character offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++
  return line
}

export interface ImportSpecifier {
  readonly specifier: string
  readonly line: number
}

const SPECIFIER_PATTERNS = [
  // import x from '...', import type { x } from '...', export * from '...', export { x } from '...'
  /\bfrom\s*(['"])([^'"\n]+)\1/g,
  // import '...' (side effects only)
  /(?<![\w$.])import\s*(['"])([^'"\n]+)\1/g,
  // import('...'), and require('...') should it ever appear
  /(?<![\w$.])(?:import|require)\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
]

/** Every static and literal dynamic module specifier of a JS/TS source, comments ignored. */
export function importSpecifiers(source: string): ImportSpecifier[] {
  const code = stripComments(source)
  const found: ImportSpecifier[] = []
  for (const pattern of SPECIFIER_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      found.push({ specifier: match[2] as string, line: lineOf(code, match.index) })
    }
  }
  return found.sort((a, b) => a.line - b.line)
}

/** Files under `dir` (recursively) whose names end with one of `extensions`; none if `dir` is absent. */
export function listFiles(dir: string, extensions: readonly string[]): string[] {
  let entries: string[]
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' })
  } catch {
    return []
  }
  return entries
    .filter((name) => extensions.some((extension) => name.endsWith(extension)))
    .filter((name) => !name.split(/[\\/]/).includes('node_modules'))
    .map((name) => join(dir, name))
    .sort()
}
