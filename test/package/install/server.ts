/**
 * `npx pushsync-server` in an installed project, as a user starts it: running until stopped, with
 * the time from the command to its ready line.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { killGroup, userEnvironment } from './exec.js'

export interface RunningServer {
  readonly url: string
  readonly port: number
  /** From spawning `npx pushsync-server` to its `listening on` line. */
  readonly msToReady: number
  /** Everything it printed so far, for failure messages. */
  output(): string
  stop(): Promise<void>
}

const READY = /^listening on (http:\/\/[^\s:]+:(\d+))$/m

export function startServer(cwd: string, args: readonly string[], timeoutMs: number): Promise<RunningServer> {
  const started = performance.now()
  const child: ChildProcess = spawn('npx', ['pushsync-server', ...args], {
    cwd,
    env: userEnvironment(),
    stdio: ['ignore', 'pipe', 'pipe'],
    // npx starts node as its child: the group lets stop() end both.
    detached: true,
  })
  let stdout = ''
  let stderr = ''
  const output = () => `--- stdout\n${stdout}--- stderr\n${stderr}`
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    killGroup(child.pid, 'SIGTERM')
    const gone = await Promise.race([
      exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000)),
    ])
    if (!gone) killGroup(child.pid, 'SIGKILL')
    await exited
  }

  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(deadline)
      void stop().then(() => reject(new Error(`npx pushsync-server ${args.join(' ')} ${why}\n${output()}`)))
    }
    const deadline = setTimeout(() => fail(`printed no ready line within ${timeoutMs / 1000} s`), timeoutMs)
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = READY.exec(stdout)
      if (match?.[1] === undefined || match[2] === undefined) return
      clearTimeout(deadline)
      resolve({
        url: match[1],
        port: Number(match[2]),
        msToReady: performance.now() - started,
        output,
        stop,
      })
    })
    child.once('error', (error) => fail(`could not start: ${error.message}`))
    child.once('close', (code, signal) => {
      if (READY.test(stdout)) return
      fail(`exited (${signal ?? `status ${code}`}) before its ready line`)
    })
  })
}
