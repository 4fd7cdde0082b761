import { parseArgs } from 'node:util'

/** The CLI's settings, from flags first and `PUSHSYNC_*` environment variables second. */
export interface CliSettings {
  readonly port: number
  readonly host: string
  readonly db: string
  readonly allowUnauthenticated: boolean
  readonly adminKeys: ReadonlyArray<{ readonly accessKeyId: string; readonly secretAccessKey: string }>
  readonly tokenSecret: string | undefined
  /** Origins whose pages may call the API (CORS); empty: none. */
  readonly corsOrigins: readonly string[]
}

export const USAGE = `Usage: pushsync-server [options]

  --port N                  port to listen on; 0 picks a free one (env PUSHSYNC_PORT, default 8787)
  --host H                  address to bind (env PUSHSYNC_HOST, default 127.0.0.1)
  --db PATH|:memory:|URL    SQLite database file, or a postgres:// URL for PostgreSQL
                            (env PUSHSYNC_DB, default ./pushsync.db)
  --allow-unauthenticated   pools accept identities without logins (env PUSHSYNC_ALLOW_UNAUTHENTICATED=1)
  --admin-key AKID:SECRET   developer credentials for admin operations; repeatable
                            (env PUSHSYNC_ADMIN_KEYS, comma-separated)
  --token-secret SECRET     key for tokens and credentials (env PUSHSYNC_TOKEN_SECRET; otherwise
                            generated once and kept in the database)
  --cors-origin ORIGIN      let pages of ORIGIN (https://app.example.com, or * for any) call the API
                            from the browser; repeatable (env PUSHSYNC_CORS_ORIGINS, comma-separated)
  --help                    print this text

Push delivery is configured through the environment:
  Web Push  PUSHSYNC_VAPID_SUBJECT, PUSHSYNC_VAPID_PUBLIC_KEY, PUSHSYNC_VAPID_PRIVATE_KEY
  APNs      PUSHSYNC_APNS_KEY_FILE (.p8), PUSHSYNC_APNS_KEY_ID, PUSHSYNC_APNS_TEAM_ID, PUSHSYNC_APNS_BUNDLE_ID
  FCM       PUSHSYNC_FCM_SERVICE_ACCOUNT_FILE (the service account's JSON key)
`

export class UsageError extends Error {}

export function parseCliSettings(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CliSettings | 'help' {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values } = parsed
  if (values.help) return 'help'
  const portText = values.port ?? env.PUSHSYNC_PORT ?? '8787'
  if (!/^\d+$/.test(portText) || Number(portText) > 65535)
    throw new UsageError(`--port must be 0 to 65535, not ${portText}`)
  const keyTexts =
    values['admin-key'] ?? (env.PUSHSYNC_ADMIN_KEYS ?? '').split(',').filter((text) => text !== '')
  const adminKeys = keyTexts.map((text) => {
    const colon = text.indexOf(':')
    if (colon <= 0 || colon === text.length - 1)
      throw new UsageError(`--admin-key must be AKID:SECRET, not ${text}`)
    return { accessKeyId: text.slice(0, colon), secretAccessKey: text.slice(colon + 1) }
  })
  const allowEnv = env.PUSHSYNC_ALLOW_UNAUTHENTICATED
  return {
    port: Number(portText),
    host: values.host ?? env.PUSHSYNC_HOST ?? '127.0.0.1',
    db: values.db ?? env.PUSHSYNC_DB ?? './pushsync.db',
    allowUnauthenticated: values['allow-unauthenticated'] ?? (allowEnv === '1' || allowEnv === 'true'),
    adminKeys,
    tokenSecret: values['token-secret'] ?? env.PUSHSYNC_TOKEN_SECRET,
    corsOrigins: corsOrigins(
      values['cors-origin'] ?? (env.PUSHSYNC_CORS_ORIGINS ?? '').split(',').map((text) => text.trim()),
    ),
  }
}

/** Origins as browsers send them: `scheme://host[:port]`, nothing more; or `*`. */
function corsOrigins(texts: readonly string[]): string[] {
  return texts
    .filter((text) => text !== '')
    .map((text) => {
      if (text === '*') return text
      let origin: string
      try {
        origin = new URL(text).origin
      } catch {
        throw new UsageError(`--cors-origin must be an origin such as https://app.example.com, not ${text}`)
      }
      // `new URL('https://a.example/x').origin` drops the path: refuse it rather than guess.
      if (origin === 'null' || origin !== text.replace(/\/$/, ''))
        throw new UsageError(`--cors-origin must be an origin such as https://app.example.com, not ${text}`)
      return origin
    })
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      db: { type: 'string' },
      'allow-unauthenticated': { type: 'boolean' },
      'admin-key': { type: 'string', multiple: true },
      'token-secret': { type: 'string' },
      'cors-origin': { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  })
}
