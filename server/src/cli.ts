import { parseCliSettings, USAGE, UsageError } from './cli-args.js'
import { pushConfigFromEnv } from './push-config.js'
import { createSyncServer } from './server.js'

/**
 * `pushsync-server`: prints exactly one line, `listening on http://HOST:PORT`, once it accepts
 * connections, and closes cleanly on SIGINT and SIGTERM (in-flight requests finish, the database
 * is closed).
 */
async function main(): Promise<void> {
  let settings: ReturnType<typeof parseCliSettings>
  try {
    settings = parseCliSettings(process.argv.slice(2), process.env)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`pushsync-server: ${error.message}\n\n${USAGE}`)
    process.exitCode = 2
    return
  }
  if (settings === 'help') {
    process.stdout.write(USAGE)
    return
  }
  let push: ReturnType<typeof pushConfigFromEnv>
  try {
    push = pushConfigFromEnv(process.env)
  } catch (error) {
    process.stderr.write(`pushsync-server: ${(error as Error).message}\n`)
    process.exitCode = 2
    return
  }
  const server = await createSyncServer({
    ...push,
    db: settings.db,
    allowUnauthenticated: settings.allowUnauthenticated,
    adminKeys: settings.adminKeys,
    ...(settings.tokenSecret === undefined ? {} : { tokenSecret: settings.tokenSecret }),
    ...(settings.corsOrigins.length === 0 ? {} : { corsOrigins: settings.corsOrigins }),
    onError: (error) =>
      process.stderr.write(
        `pushsync-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      ),
  })
  // Handlers go in before the ready line: a supervisor may signal as soon as it reads it.
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    process.stderr.write(`pushsync-server: ${signal}, closing\n`)
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`pushsync-server: close failed: ${String(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))

  const address = await server.listen(settings.port, settings.host)
  process.stdout.write(`listening on ${address.url}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(
    `pushsync-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
