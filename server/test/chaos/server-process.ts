import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../bin/pushsync-server.js', import.meta.url))

/**
 * The real `pushsync-server` command on a fixed port, to be killed and started again on it: what a
 * supervisor (systemd, Kubernetes) does after a crash. Throttling is off (chaos clients ask far more
 * of one identity than a person does).
 */
export interface ChaosServer {
  readonly url: string
  readonly port: number
  /** Whether the process is up (started and not killed since). */
  readonly up: boolean
  /** Kills the process with SIGKILL: no cleanup of any kind. */
  kill(): Promise<void>
  /** Starts it again on the same port and database, unless up or stopped; resolves once it listens. */
  start(): Promise<void>
  /** Stops it with SIGTERM, if it is up, for good: a start after it does nothing. */
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export async function startChaosServer(options: {
  readonly db: string
  readonly cwd: string
  readonly args?: readonly string[]
}): Promise<ChaosServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('PUSHSYNC_')) env[name] = value

  const startOnce = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const next = spawn(
        process.execPath,
        [
          CLI,
          '--port',
          String(port),
          '--db',
          options.db,
          '--allow-unauthenticated',
          '--throttle-identity-rate',
          '0',
          '--throttle-guest-rate',
          '0',
          '--log-level',
          'error',
          ...(options.args ?? []),
        ],
        { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let stderr = ''
      next.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const started = await new Promise<boolean>((resolve) => {
        next.stdout?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('listening on')) resolve(true)
        })
        next.once('exit', () => resolve(false))
      })
      if (started) {
        child = next
        return
      }
      // The port of a process killed a moment ago may still be held by the kernel: try again.
      if (attempt >= 20) throw new Error(`the server did not start:\n${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  const isUp = () => child !== undefined && child.exitCode === null && child.signalCode === null
  // One start at a time, none once up, none after stop: a start asked for while another is under
  // way (a restart on a timer, and the test's own once the rounds end) joins it. Two at once, the
  // loser would retry until the port was free again, after the test stopped the winner, and
  // outlive the test.
  let starting: Promise<void> | undefined
  let stopped = false
  const start = (): Promise<void> => {
    if (stopped || isUp()) return starting ?? Promise.resolve()
    starting ??= startOnce().finally(() => {
      starting = undefined
    })
    return starting
  }
  /** The process, once any start under way has settled. */
  const settled = async (): Promise<ChildProcess | undefined> => {
    await starting?.catch(() => undefined)
    const current = child
    child = undefined
    return current
  }

  await start()
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get up() {
      return isUp()
    },
    async kill() {
      const current = await settled()
      if (current === undefined || current.exitCode !== null || current.signalCode !== null) return
      await new Promise<void>((resolve) => {
        current.once('exit', () => resolve())
        current.kill('SIGKILL')
      })
    },
    start,
    async stop() {
      stopped = true
      const current = await settled()
      if (current === undefined || current.exitCode !== null || current.signalCode !== null) return
      await new Promise<void>((resolve) => {
        current.once('exit', () => resolve())
        current.kill('SIGTERM')
      })
    },
  }
}
