import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * The real `pushsync-server` command in child processes: runs to completion, or starts and waits for
 * its `listening on` line. Every child is tracked, so a test file stops what it started by pid.
 */

const CLI = fileURLToPath(new URL('../../bin/pushsync-server.js', import.meta.url))
const READY = /^listening on http:\/\/127\.0\.0\.1:(\d+)\n$/

export interface Output {
  stdout: string
  stderr: string
}

export interface Running {
  readonly url: string
  readonly port: number
  readonly output: Output
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stop(signal?: NodeJS.Signals): Promise<number | null>
  /** The JSON lines logged on stderr so far. */
  logLines(): Array<Record<string, unknown>>
}

/** The test runner's environment without any PUSHSYNC_* setting, plus `extra`. */
export function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('PUSHSYNC_')) env[name] = value
  return { ...env, ...extra }
}

/** JSON lines of `text`; the plain lines between them are skipped. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

export function cliRunner(workingDirectory: () => string) {
  const children = new Set<ChildProcess>()

  const launch = (args: readonly string[], env: Record<string, string>) => {
    // The working directory is scratch space, so the default ./pushsync.db never lands in the repo.
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: workingDirectory(),
      env: environment(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(child)
    const output: Output = { stdout: '', stderr: '' }
    child.stdout?.on('data', (chunk: Buffer) => {
      output.stdout += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      output.stderr += chunk.toString()
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    )
    return { child, output, exited }
  }

  return {
    launch,

    /** Runs the command to completion (it must not start a server). */
    async run(args: readonly string[], env: Record<string, string> = {}) {
      const { output, exited } = launch(args, env)
      const { code, signal } = await exited
      return { code, signal, ...output }
    },

    /** Starts the server and waits for the first line on stdout. */
    async start(args: readonly string[], env: Record<string, string> = {}): Promise<Running> {
      const { child, output, exited } = launch(args, env)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ready line:\n${output.stderr}`)), 20_000)
        child.stdout?.on('data', () => {
          if (!output.stdout.includes('\n')) return
          clearTimeout(timer)
          resolve()
        })
        void exited.then(({ code }) => {
          clearTimeout(timer)
          reject(new Error(`exited with ${code} before it was ready:\n${output.stderr}`))
        })
      })
      const match = READY.exec(output.stdout)
      if (match?.[1] === undefined) throw new Error(`unexpected ready line ${JSON.stringify(output.stdout)}`)
      const port = Number(match[1])
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        output,
        exited,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          return (await exited).code
        },
        logLines: () => jsonLines(output.stderr),
      }
    },

    /** Kills, by pid, every child still running. */
    stopAll() {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
  }
}
