import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface RunningServer {
  readonly url: string
  readonly process: ChildProcess
  /** Everything the server wrote to stdout (the one `listening on` line) and stderr. */
  readonly output: { stdout: string; stderr: string }
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

const CLI = fileURLToPath(new URL('../../bin/pushsync-server.js', import.meta.url))

export const ADMIN = { accessKeyId: 'AKIDADMINEXAMPLE0001', secretAccessKey: 'admin-secret-for-tests' }

export interface SpawnOptions {
  /**
   * The server's working directory. Relative defaults (the bulk-publish NDJSON directory
   * `./pushsync-streams`) resolve against it, so a test can give each server a fresh one.
   */
  readonly cwd?: string
}

/** Starts the real CLI on a free port and waits for its `listening on` line. */
export async function spawnServer(
  args: readonly string[] = [],
  options: SpawnOptions = {},
): Promise<RunningServer> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      '--port',
      '0',
      '--db',
      ':memory:',
      '--allow-unauthenticated',
      '--admin-key',
      `${ADMIN.accessKeyId}:${ADMIN.secretAccessKey}`,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) },
  )
  const output = { stdout: '', stderr: '' }
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString()
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output.stderr}`)), 20_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output.stdout += chunk.toString()
      const match = /^listening on (http:\/\/\S+)\n/.exec(output.stdout)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output.stderr}`))
    })
  })
  return {
    url,
    process: child,
    output,
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode)
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code))
        child.kill(signal)
      })
    },
  }
}
