import { type CliSettings, parseCliSettings, USAGE, UsageError } from './cli-args.js'
import { importCommand } from './import/command.js'
import { createLogger } from './ops/logger.js'
import { createSyncServer, type SyncServer } from './server.js'
import { redactDatabaseUrl } from './store/index.js'

/**
 * `pushsync-server`: prints exactly one line on stdout, `listening on http://HOST:PORT`, once it
 * accepts connections; logs JSON lines on stderr; closes cleanly on SIGINT and SIGTERM (in-flight
 * requests finish, the database is closed).
 *
 * What keeps it from starting is one plain line on stderr, for the person at the terminal: settings
 * that cannot be used (all of them named, exit code 2), a port in use (exit code 2), a database it
 * cannot open (exit code 1).
 *
 * `pushsync-server import ...` loads Cognito Streams records instead (import/command.ts).
 */
async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv[0] === 'import') {
    process.exitCode = await importCommand(argv.slice(1), process.env, process.stdout, process.stderr)
    return
  }
  let settings: CliSettings | 'help'
  try {
    settings = parseCliSettings(argv, process.env)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    fail(2, `${error.message}\n(pushsync-server --help lists every setting)`)
    return
  }
  if (settings === 'help') {
    process.stdout.write(USAGE)
    return
  }

  const logger = createLogger(settings.logLevel)
  let server: SyncServer
  try {
    server = await createSyncServer({ ...settings.options, logger })
  } catch (error) {
    fail(1, (error as Error).message)
    return
  }

  // Handlers go in before the ready line: a supervisor may signal as soon as it reads it.
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    logger.info({ signal }, `${signal}, closing`)
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ error: String(error) }, 'close failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))

  let which: 'api' | 'metrics' = 'api'
  let url: string
  let metricsUrl: string | undefined
  try {
    url = (await server.listen(settings.port, settings.host)).url
    which = 'metrics'
    if (settings.metrics !== undefined)
      metricsUrl = `${(await server.listenMetrics(settings.metrics.port, settings.metrics.host)).url}/metrics`
  } catch (error) {
    closing = true
    await server.close()
    const code = (error as NodeJS.ErrnoException).code
    fail(2, listenFailure(code, which, settings) ?? (error as Error).message)
    return
  }
  // Logged once serving: a start that fails says so in its one line, and nothing else.
  logger.info(
    { url, ...(metricsUrl === undefined ? {} : { metricsUrl }), ...startupSummary(settings) },
    'started',
  )
  process.stdout.write(`listening on ${url}\n`)
}

function fail(exitCode: number, message: string): void {
  process.stderr.write(`pushsync-server: ${message}\n`)
  process.exitCode = exitCode
}

/** Why a port could not be had, and which setting changes it. */
function listenFailure(
  code: string | undefined,
  which: 'api' | 'metrics',
  settings: CliSettings,
): string | undefined {
  const [port, host, portSetting, hostSetting] =
    which === 'api'
      ? [settings.port, settings.host, '--port or set PUSHSYNC_PORT', '--host or set PUSHSYNC_HOST']
      : [
          settings.metrics?.port,
          settings.metrics?.host,
          '--metrics-port or set PUSHSYNC_METRICS_PORT',
          '--metrics-host or set PUSHSYNC_METRICS_HOST',
        ]
  const name = which === 'api' ? 'port' : 'metrics port'
  switch (code) {
    case 'EADDRINUSE':
      return `${name} ${port} is in use: pass ${portSetting}`
    case 'EACCES':
      return `${name} ${port} needs privileges this process lacks: pass ${portSetting}`
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `${host} is not an address of this machine: pass ${hostSetting}`
    default:
      return undefined
  }
}

/** What the log says the server starts with: never a secret, only whether one is set. */
function startupSummary(settings: CliSettings): object {
  const { options } = settings
  return {
    db: redactDatabaseUrl(settings.db),
    allowUnauthenticated: settings.allowUnauthenticated,
    adminKeys: settings.adminKeys.length,
    tokenSecretFrom: settings.tokenSecret === undefined ? 'the database' : 'the settings',
    corsOrigins: settings.corsOrigins,
    logins: (options.logins ?? []).map((login) => login.provider),
    bearerJwt: options.bearerJwt?.issuer ?? null,
    push: [
      ...(options.webPush === undefined ? [] : ['WEBPUSH']),
      ...(options.apns === undefined ? [] : ['APNS', 'APNS_SANDBOX']),
      ...(options.fcm === undefined ? [] : ['GCM']),
    ],
    throttle: options.throttle,
    trustProxy: options.trustProxy,
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `pushsync-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
