import { readFileSync } from 'node:fs'
import { z } from 'zod'

/**
 * The kinds of setting a deployment writes, as zod schemas that take a value from any source: text
 * from a flag or a `PUSHSYNC_*` variable, or JSON from the `--config` file. Every message reads after
 * the setting's name (`--port must be ...`) and never repeats a value that may be a secret.
 */

/** Turns a value into the issue `message`, leaving the rest of the parse to carry on. */
function refuse(ctx: z.RefinementCtx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message })
  return z.NEVER
}

const shown = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value))

/** Non-empty text; `secret` keeps it out of messages. */
export const text = () => z.string({ error: 'must be text' }).trim().min(1, { error: 'must not be empty' })

/** An integer in [min, max], from a number or its decimal digits. */
export const integer = (min: number, max: number, range = `${min} to ${max}`) =>
  z.union([z.number(), z.string()], { error: `must be a number from ${range}` }).transform((value, ctx) => {
    const number =
      typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(number) || number < min || number > max)
      return refuse(ctx, `must be ${range}, not ${shown(value)}`)
    return number
  })

/** A number (fractions allowed) of at least `min`. */
export const decimal = (min: number, what: string) =>
  z.union([z.number(), z.string()], { error: `must be ${what}` }).transform((value, ctx) => {
    const number =
      typeof value === 'number' ? value : /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isFinite(number) || number < min) return refuse(ctx, `must be ${what}, not ${shown(value)}`)
    return number
  })

/** A switch: `true`/`false` in the file, the bare flag, or `1`, `true`, `0`, `false` in a variable. */
export const flag = () =>
  z.union([z.boolean(), z.string()], { error: 'must be true or false' }).transform((value, ctx) => {
    if (typeof value === 'boolean') return value
    const word = value.trim().toLowerCase()
    if (word === '1' || word === 'true') return true
    if (word === '0' || word === 'false') return false
    return refuse(ctx, `must be 1, true, 0 or false, not ${value}`)
  })

/** A list: repeated flags, a separated variable (split before this sees it), or a JSON array. */
export const list = <T extends z.ZodType>(item: T) => z.array(item, { error: 'must be a list' })

/** A URL of one of `protocols`; it is not repeated in messages (it may carry credentials). */
export const url = (protocols: readonly string[]) =>
  text().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol)
      } catch {
        return false
      }
    },
    { error: `must be a ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')} URL` },
  )

/** An origin as browsers send it, `scheme://host[:port]` (a trailing `/` allowed), or `*`. */
export const origin = () =>
  text().transform((value, ctx) => {
    if (value === '*') return value
    let parsed: string
    try {
      parsed = new URL(value).origin
    } catch {
      return refuse(ctx, `must be an origin such as https://app.example.com, not ${value}`)
    }
    // `new URL('https://a.example/x').origin` drops the path: refuse it rather than guess.
    if (parsed === 'null' || parsed !== value.replace(/\/$/, ''))
      return refuse(ctx, `must be an origin such as https://app.example.com, not ${value}`)
    return parsed
  })

/** The content of a file named by the setting, read at start-up; `check` says what is wrong with it. */
export const fileContent = (check: (content: string) => string | undefined) =>
  text().transform((path, ctx) => {
    let content: string
    try {
      content = readFileSync(path, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
      return refuse(ctx, `names ${path}, which cannot be read (${code})`)
    }
    const problem = check(content)
    return problem === undefined ? content : refuse(ctx, `names ${path}, which ${problem}`)
  })

/**
 * A structured entry that is an object in the file and `key=value,key=value` text on the command
 * line; kebab-case keys become the object's camelCase fields (`jwks-url` → `jwksUrl`).
 */
export const keyValues = <T extends z.ZodType>(object: T, example: string) =>
  z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value
    const entry: Record<string, string> = {}
    for (const part of value.split(',')) {
      const eq = part.indexOf('=')
      if (eq <= 0) return refuse(ctx, `must be ${example}`)
      const key = part
        .slice(0, eq)
        .trim()
        .replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
      entry[key] = part.slice(eq + 1).trim()
    }
    return entry
  }, object)
