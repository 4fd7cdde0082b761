/**
 * Child processes for the packaging test: commands with a deadline, a clean environment and
 * failures that say what ran, where, and what it printed.
 */
import { spawn } from 'node:child_process'

export interface RunOptions {
  readonly cwd: string
  readonly timeoutMs: number
  readonly env?: Readonly<Record<string, string>>
}

export interface RunResult {
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/**
 * The environment of a user's shell: this process's, without what `npm run` adds. npm passes its
 * configuration down as `npm_config_*` (`npm_config_local_prefix` would make a nested npm install
 * into this repository) and tsx may add a loader to NODE_OPTIONS, while the installed code must run
 * on plain Node.
 */
export function userEnvironment(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) || name === 'NODE_OPTIONS' || name === 'INIT_CWD') continue
    env[name] = value
  }
  return {
    ...env,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    // npx must never stop to ask whether to download something.
    npm_config_yes: 'true',
    // The AWS SDK warns on every client that Node 20 support ends; the test runs Node 20 on purpose.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  }
}

export class CommandError extends Error {}

const tail = (text: string, lines = 40) => text.trimEnd().split('\n').slice(-lines).join('\n')

/** Runs a command to its end; rejects on a non-zero exit, a signal or the deadline. */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now()
  const shown = `${command} ${args.join(' ')}`
  return new Promise((resolve, reject) => {
    // Its own process group, so the deadline stops what it started too (npx runs node, npm runs
    // node-gyp and make).
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: userEnvironment(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    let timedOut = false
    const deadline = setTimeout(() => {
      timedOut = true
      killGroup(child.pid)
    }, options.timeoutMs)
    child.once('error', (error) => {
      clearTimeout(deadline)
      reject(new CommandError(`${shown} (in ${options.cwd}) could not start: ${error.message}`))
    })
    child.once('close', (code, signal) => {
      clearTimeout(deadline)
      const ms = performance.now() - started
      if (code === 0) {
        resolve({ stdout, stderr, ms })
        return
      }
      const why = timedOut
        ? `did not finish within ${options.timeoutMs / 1000} s`
        : signal !== null
          ? `was killed by ${signal}`
          : `exited with status ${code}`
      reject(
        new CommandError(
          `${shown} (in ${options.cwd}) ${why} after ${(ms / 1000).toFixed(1)} s\n` +
            `--- stdout (end)\n${tail(stdout)}\n--- stderr (end)\n${tail(stderr)}`,
        ),
      )
    })
  })
}

/** Stops a process started with `detached: true` and everything it started. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}
