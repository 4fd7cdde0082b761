import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface ServerProcess {
  readonly url: string
  readonly child: ChildProcess
  stop(): Promise<void>
}

/**
 * Starts a server in a process of its own and resolves once it prints `listening on URL`. Servers
 * run apart from the bench process, as they would in production: the devices' work and the
 * server's do not share one event loop.
 */
export function startServerProcess(
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly name: string },
): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, {
    // Logs are read and dropped (the tail is kept for an error message): the table is the output.
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  })
  let tail = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4096)
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const onExit = (code: number | null) =>
      reject(new Error(`${options.name} exited with ${code}:\n${out}\n${tail}`))
    child.once('exit', onExit)
    child.stdout?.on('data', (chunk: Buffer) => {
      if (out.length < 65_536) out += chunk.toString()
      const match = /listening on (\S+)/.exec(out)
      if (match?.[1] === undefined) return
      child.off('exit', onExit)
      // Keep reading, or a chatty server would block on a full pipe.
      child.stdout?.removeAllListeners('data')
      child.stdout?.resume()
      resolve({
        url: match[1],
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGTERM')
          }),
      })
    })
  })
}

/** `node --import tsx FILE ARGS`: a TypeScript server script of this folder in its own process. */
export function tsxArgs(file: URL, ...args: string[]): string[] {
  return ['--import', 'tsx', file.pathname, ...args]
}

/**
 * pushsync-server from its command line, as bench/push.bench.ts starts it: a SQLite file in a
 * directory removed on stop, guests allowed, throttling lifted (a benchmark asks far more of one
 * identity than any person). `nodeOptions` go before the script (`--import` of a preload); `db`
 * `:memory:` keeps the server's SQLite database in memory instead, to show what the file costs.
 */
export async function startPushsyncServer(
  options: { readonly nodeOptions?: readonly string[]; readonly db?: 'file' | ':memory:' } = {},
): Promise<ServerProcess> {
  const directory = mkdtempSync(join(tmpdir(), 'pushsync-compare-server-'))
  const cli = fileURLToPath(new URL('../../server/bin/pushsync-server.js', import.meta.url))
  const server = await startServerProcess(
    [
      ...(options.nodeOptions ?? []),
      cli,
      '--port',
      '0',
      '--db',
      options.db === ':memory:' ? ':memory:' : join(directory, 'bench.db'),
      '--allow-unauthenticated',
      '--throttle-identity-rate',
      '0',
      '--throttle-guest-rate',
      '0',
    ],
    { name: 'pushsync-server' },
  )
  return {
    ...server,
    async stop() {
      await server.stop()
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
