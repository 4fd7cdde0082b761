import { type Environment, loadSettings, SettingsError } from './config/load.js'
import { planServer, type ServerPlan } from './config/server-options.js'
import { usage } from './config/usage.js'

/**
 * The command's settings, from flags, `PUSHSYNC_*` variables and a `--config` file (see
 * config/schema.ts for every one). Also what other launchers of the server (the demo's `npm start`)
 * parse their arguments with.
 */
export interface CliSettings extends ServerPlan {
  readonly db: string
  readonly allowUnauthenticated: boolean
  readonly adminKeys: ReadonlyArray<{ readonly accessKeyId: string; readonly secretAccessKey: string }>
  readonly tokenSecret: string | undefined
  /** Origins whose pages may call the API (CORS); empty: none. */
  readonly corsOrigins: readonly string[]
}

export const USAGE = usage()

/** Settings that cannot be used; `problems` lists every fault, one line each. */
export { SettingsError as UsageError }

export function parseCliSettings(argv: readonly string[], env: Environment): CliSettings | 'help' {
  const settings = loadSettings(argv, env)
  if (settings === 'help') return 'help'
  return {
    ...planServer(settings),
    db: settings.db,
    allowUnauthenticated: settings.allowUnauthenticated,
    adminKeys: settings.adminKeys,
    tokenSecret: settings.tokenSecret,
    corsOrigins: settings.corsOrigins,
  }
}
