import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { z } from 'zod'
import { validateVapidKeys } from '../push/senders/webpush.js'
import { type Setting, type Settings, settings, settingsSchema } from './schema.js'

/**
 * The command's settings from its three sources and the defaults: a flag wins over its `PUSHSYNC_*`
 * variable, a variable over the `--config` file's field, a field over the default. Everything is
 * checked before anything starts, and every fault is reported at once.
 */

/** Settings that cannot be used: `problems` has one line per fault, naming where it was set. */
export class SettingsError extends Error {
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? (problems[0] ?? '')
        : `${problems.length} settings are wrong:\n  ${problems.join('\n  ')}`,
    )
    this.problems = problems
  }
}

export type Environment = Readonly<Record<string, string | undefined>>

const CONFIG_ENV = 'PUSHSYNC_CONFIG'

/** Reads the settings; `'help'` when `--help` was asked for. Throws a SettingsError. */
export function loadSettings(argv: readonly string[], env: Environment): Settings | 'help' {
  const all = settings()
  let flags: Record<string, string | boolean | string[] | undefined>
  try {
    flags = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(
          all.map((setting) => [
            setting.flag,
            { type: setting.arg === undefined ? 'boolean' : 'string', multiple: setting.repeatable ?? false },
          ]),
        ),
        config: { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values as typeof flags
  } catch (error) {
    // Node's message goes on to explain how to pass odd values; its first sentence says it all.
    const message = (error as Error).message
    throw new SettingsError([message.split('\n')[0]?.split('. ')[0]?.replace(/\.$/, '') ?? message])
  }
  if (flags.help === true) return 'help'

  const problems: string[] = []
  const origins = new Map<string, Origin>()
  let merged: Record<string, unknown> = {}

  const configPath = typeof flags.config === 'string' ? flags.config : nonEmpty(env[CONFIG_ENV])
  const configName = typeof flags.config === 'string' ? '--config' : CONFIG_ENV
  if (configPath !== undefined) {
    const file = readConfigFile(configPath)
    if (typeof file === 'string') problems.push(`${configName} ${file}`)
    else {
      merged = file
      for (const setting of all) origins.set(key(setting.path), { file: configPath })
    }
  }
  for (const setting of all) {
    const text = nonEmpty(env[setting.env])
    if (text === undefined) continue
    const value = setting.repeatable
      ? text
          .split(setting.separator ?? ',')
          .map((part) => part.trim())
          .filter((part) => part !== '')
      : text
    merged = withValue(merged, setting.path, value)
    origins.set(key(setting.path), { name: setting.env })
  }
  for (const setting of all) {
    const value = flags[setting.flag]
    if (value === undefined) continue
    merged = withValue(merged, setting.path, value)
    origins.set(key(setting.path), { name: `--${setting.flag}` })
  }

  const parsed = settingsSchema.safeParse(merged)
  if (!parsed.success)
    problems.push(...parsed.error.issues.map((issue) => describe(issue, origins, configPath)))
  problems.push(...incompleteGroups(merged, all, origins))
  if (problems.length > 0) throw new SettingsError(problems)
  return (parsed as { data: Settings }).data
}

/** Where a setting's value came from: a flag or variable by its name, or the config file. */
type Origin = { readonly name: string } | { readonly file: string }

const nonEmpty = (text: string | undefined): string | undefined =>
  text === undefined || text.trim() === '' ? undefined : text

const key = (path: readonly PropertyKey[]): string => path.map(String).join('.')

/** The config file's object, or why there is none. */
function readConfigFile(path: string): Record<string, unknown> | string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    return `names ${path}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `names ${path}, which is not JSON: ${(error as Error).message}`
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `names ${path}, which must hold a JSON object`
  return value as Record<string, unknown>
}

/** `object` with `value` at `path`, nested objects copied, not changed. */
function withValue(
  object: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path
  if (head === undefined) return object
  if (rest.length === 0) return { ...object, [head]: value }
  const inner = object[head]
  const nested = typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? inner : {}
  return { ...object, [head]: withValue(nested as Record<string, unknown>, rest, value) }
}

/** One issue as a line: where the value came from, then what is wrong with it. */
function describe(
  issue: z.core.$ZodIssue,
  origins: ReadonlyMap<string, Origin>,
  configPath?: string,
): string {
  if (issue.code === 'unrecognized_keys') {
    const fields = `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.join(', ')}`
    const origin = originOf(issue.path, origins)
    if (origin !== undefined && 'name' in origin.origin) return `${entryName(origin)} has ${fields}`
    const where = issue.path.length === 0 ? '' : ` in ${jsonPath(issue.path)}`
    return `${configPath ?? 'the settings'} has ${fields}${where}`
  }
  const found = originOf(issue.path, origins)
  if (found === undefined) return `${jsonPath(issue.path)} ${issue.message}`
  if ('file' in found.origin) return `${jsonPath(issue.path)} in ${found.origin.file} ${issue.message}`
  return `${entryName(found)} ${issue.message}`
}

interface Found {
  readonly origin: Origin
  /** The rest of the path below the setting: an entry of a list, a field of it. */
  readonly rest: readonly PropertyKey[]
}

/** The setting an issue's path is in: the longest prefix with a known origin. */
function originOf(path: readonly PropertyKey[], origins: ReadonlyMap<string, Origin>): Found | undefined {
  for (let length = path.length; length >= 0; length--) {
    const origin = origins.get(key(path.slice(0, length)))
    if (origin !== undefined) return { origin, rest: path.slice(length) }
  }
  return undefined
}

/** `--login`, or `--login (entry 2, jwksUrl)` for a part of it. */
function entryName({ origin, rest }: Found): string {
  const name = 'name' in origin ? origin.name : origin.file
  if (rest.length === 0) return name
  const entry = typeof rest[0] === 'number' ? `entry ${rest[0] + 1}` : String(rest[0])
  const field = rest.slice(1).map(String).join('.')
  return `${name} (${entry}${field === '' ? '' : `, ${field}`})`
}

/** `logins[0].jwksUrl` */
const jsonPath = (path: readonly PropertyKey[]): string =>
  path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('')

/**
 * Settings that only work together: APNs needs its four, Web Push its three (and keys that sign),
 * bearer JWTs an issuer and a key; the metrics port cannot be the API's.
 */
function incompleteGroups(
  merged: Record<string, unknown>,
  all: readonly Setting[],
  origins: ReadonlyMap<string, Origin>,
): string[] {
  const named = (path: string): string => {
    const origin = origins.get(path)
    return origin === undefined ? path : 'file' in origin ? `${path} in ${origin.file}` : origin.name
  }
  const problems: string[] = []
  const value = (path: readonly string[]): unknown =>
    path.reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], merged)
  const group = (name: string, prefix: string, required: readonly string[]) => {
    const members = all.filter((setting) => setting.path[0] === prefix)
    const given = members.filter((setting) => value(setting.path) !== undefined)
    if (given.length === 0) return
    const missing = members.filter(
      (setting) => required.includes(setting.path[1] ?? '') && value(setting.path) === undefined,
    )
    if (missing.length > 0)
      problems.push(
        `${name} is half configured: ${missing.map((setting) => `--${setting.flag} (${setting.env})`).join(', ')} missing`,
      )
    return missing.length === 0
  }
  group('APNs', 'apns', ['keyFile', 'keyId', 'teamId', 'bundleId'])
  if (group('Web Push', 'vapid', ['subject', 'publicKey', 'privateKey'])) {
    const text = (field: string) => String(value(['vapid', field])).trim()
    try {
      validateVapidKeys({
        subject: text('subject'),
        publicKey: text('publicKey'),
        privateKey: text('privateKey'),
      })
    } catch (error) {
      problems.push(`Web Push keys (${named('vapid.publicKey')}) do not work: ${(error as Error).message}`)
    }
  }
  if (group('Bearer JWTs', 'bearerJwt', ['issuer'])) {
    if (value(['bearerJwt', 'secret']) === undefined && value(['bearerJwt', 'jwksUrl']) === undefined)
      problems.push('Bearer JWTs need a key: --bearer-jwt-secret or --bearer-jwt-jwks-url')
  }
  const port = value(['port'])
  const metricsPort = value(['metrics', 'port'])
  if (
    metricsPort !== undefined &&
    String(metricsPort) !== '0' &&
    String(metricsPort) === String(port ?? 8787)
  )
    problems.push(`${named('metrics.port')} must differ from the API's port: metrics are never served there`)
  return problems
}
