/**
 * `npm start`'s entry as a process: `node examples/demo/start.js` prints where it listens, serves
 * the demo page and its bundled script next to the API, and exits 0 on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const START = fileURLToPath(new URL('../examples/demo/start.js', import.meta.url))
const READY = /^listening on (http:\/\/127\.0\.0\.1:\d+)\ndemo: (http:\/\/127\.0\.0\.1:\d+\/)\n$/

const children = new Set<ChildProcess>()
let scratch: string

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'pushsync-demo-start-'))
})

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await rm(scratch, { recursive: true, force: true })
})

/** The test runner's environment without any PUSHSYNC_* setting. */
function environment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('PUSHSYNC_')) env[name] = value
  return env
}

function launch(args: readonly string[]) {
  // Scratch space as the working directory: nothing the server writes lands in the repository.
  const child = spawn(process.execPath, [START, ...args], {
    cwd: scratch,
    env: environment(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  const output = { stdout: '', stderr: '' }
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

describe('npm start', () => {
  it('serves the demo next to the API and exits 0 on SIGTERM', async () => {
    const db = join(scratch, 'demo.db')
    const { child, output, exited } = launch(['--port', '0', '--db', db])
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready lines:\n${output.stderr}`)), 30_000)
      child.stdout?.on('data', () => {
        if (output.stdout.split('\n').length < 3) return
        clearTimeout(timer)
        resolve()
      })
      void exited.then(({ code }) => {
        clearTimeout(timer)
        reject(new Error(`exited with ${code} before it was ready:\n${output.stderr}`))
      })
    })
    const match = READY.exec(output.stdout)
    expect(match, output.stdout).not.toBeNull()
    const [, origin, page] = match ?? []
    expect(page).toBe(`${origin}/`)

    const index = await fetch(`${page}`)
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await index.text()
    expect(html).toContain('<iframe src="device.html?device=A"')
    expect(html).toContain('<iframe src="device.html?device=B"')
    expect(html).toContain('src="index.js"')

    const devicePage = await (await fetch(`${origin}/device.html?device=A`)).text()
    expect(devicePage).toContain('src="device.js"')
    const script = await fetch(`${origin}/device.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
    const code = await script.text()
    // The library's browser build is in it: the manager, the IndexedDB storage and the SSE source.
    expect(code).toContain('createSyncManager')
    expect(code).toContain('createIndexedDbStorage')
    expect(code).toContain('createSsePushSource')
    // Bundled whole: no import statement is left for the browser to resolve (statements start a
    // line; an example inside a dependency's doc comment is indented and does not count).
    expect(code).not.toMatch(/^import[\s{*]/m)

    // The API answers on the same origin: a guest signs in.
    const getId = await fetch(`${origin}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSCognitoIdentityService.GetId',
      },
      body: JSON.stringify({ IdentityPoolId: 'us-east-1:de770000-5e1f-4000-8000-00000000de70' }),
    })
    expect(getId.status).toBe(200)
    expect(await getId.json()).toMatchObject({ IdentityId: expect.stringMatching(/^us-east-1:/) })

    child.kill('SIGTERM')
    expect(await exited).toEqual({ code: 0, signal: null })
    expect(existsSync(db)).toBe(true)
  })

  it('prints the usage on --help and refuses unknown flags', async () => {
    const help = launch(['--help'])
    expect(await help.exited).toEqual({ code: 0, signal: null })
    expect(help.output.stdout).toContain('--port N')

    const wrong = launch(['--no-such-flag'])
    expect(await wrong.exited).toEqual({ code: 2, signal: null })
    expect(wrong.output.stderr).toContain('Usage:')
  })
})
