/**
 * `npm start`: pushsync-server on its SQLite default (`./pushsync.db`) with a demo page at `/`:
 * devices of one guest identity side by side, each keeping the `settings` dataset in its own
 * IndexedDB database and learning of the others' edits by push (server-sent events).
 *
 * It takes the server CLI's flags and `PUSHSYNC_*` variables (`npm start -- --port 9000`), and
 * always lets guests in: the demo signs in without a login. The device script is bundled from the
 * library's sources with esbuild when it starts, in memory.
 */
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { parseCliSettings, USAGE, UsageError } from '../../server/src/cli-args.js'
import { createLogger } from '../../server/src/ops/logger.js'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../../server/src/server.js'

export interface DemoOptions extends Omit<SyncServerOptions, 'site' | 'allowUnauthenticated'> {
  /** Default 8787; 0 picks a free port. */
  readonly port?: number
  /** Default 127.0.0.1. */
  readonly host?: string
}

export interface Demo {
  /** The demo page, `http://HOST:PORT/`; the API is at the same origin. */
  readonly url: string
  readonly server: SyncServer
  /** Closes the server and its database. */
  close(): Promise<void>
}

interface Asset {
  readonly body: string
  readonly type: string
}

const directory = new URL('./', import.meta.url)
const tsconfig = fileURLToPath(new URL('../../tsconfig.json', import.meta.url))

/** The pages, the stylesheet and the bundled scripts, by path. */
export async function demoAssets(): Promise<Map<string, Asset>> {
  const file = async (name: string) => readFile(new URL(name, directory), 'utf8')
  const html = 'text/html; charset=utf-8'
  const assets = new Map<string, Asset>()
  const index = { body: await file('index.html'), type: html }
  assets.set('/', index)
  assets.set('/index.html', index)
  assets.set('/device.html', { body: await file('device.html'), type: html })
  assets.set('/demo.css', { body: await file('demo.css'), type: 'text/css; charset=utf-8' })
  // `pushsync/...` resolves to the sources through the root tsconfig's paths, as in an app's build.
  const bundled = await build({
    entryPoints: ['device.ts', 'index.ts'].map((name) => fileURLToPath(new URL(name, directory))),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outdir: fileURLToPath(directory),
    sourcemap: 'inline',
    tsconfig,
    logLevel: 'silent',
  })
  for (const output of bundled.outputFiles)
    assets.set(`/${basename(output.path)}`, { body: output.text, type: 'text/javascript; charset=utf-8' })
  return assets
}

/** Starts the server with the demo pages; `port: 0` picks a free port. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const { port = 8787, host = '127.0.0.1', ...serverOptions } = options
  // Bundled before the database opens: a build error stops the start with nothing to clean up.
  const assets = await demoAssets()
  const server = await createSyncServer({
    ...serverOptions,
    allowUnauthenticated: true,
    site: (request) => {
      const asset = assets.get(new URL(request.url).pathname)
      if (asset === undefined) return undefined
      return new Response(asset.body, {
        headers: {
          'content-type': asset.type,
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        },
      })
    },
  })
  try {
    const address = await server.listen(port, host)
    return { url: `${address.url}/`, server, close: () => server.close() }
  } catch (error) {
    await server.close()
    throw error
  }
}

/**
 * The command: prints `listening on http://HOST:PORT` and `demo: http://HOST:PORT/` once it accepts
 * connections, and closes cleanly on SIGINT and SIGTERM.
 */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  let settings: ReturnType<typeof parseCliSettings>
  try {
    settings = parseCliSettings(argv, env)
  } catch (error) {
    if (!(error instanceof Error)) throw error
    const usage = error instanceof UsageError ? `\n\n${USAGE}` : '\n'
    process.stderr.write(`pushsync demo: ${error.message}${usage}`)
    process.exitCode = 2
    return
  }
  if (settings === 'help') {
    process.stdout.write(
      `npm start [-- options]: pushsync-server with the demo page at /; guests are always allowed.\n\n${USAGE}`,
    )
    return
  }
  // Every setting of the server's command applies (errors go to its JSON logs on stderr); guests are
  // let in whatever the settings say.
  const { allowUnauthenticated: _, ...options } = settings.options
  const demo = await startDemo({
    ...options,
    port: settings.port,
    host: settings.host,
    logger: createLogger(settings.logLevel),
  })
  if (settings.metrics !== undefined)
    await demo.server.listenMetrics(settings.metrics.port, settings.metrics.host)
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    process.stderr.write(`pushsync demo: ${signal}, closing\n`)
    demo.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`pushsync demo: close failed: ${String(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  const origin = demo.url.slice(0, -1)
  process.stdout.write(`listening on ${origin}\ndemo: ${demo.url}\n`)
}
