/**
 * Push sync latency and fan-out over loopback: `npm run bench:push`.
 *
 * Spawns the real CLI on a SQLite file. Latency: device A writes and synchronizes, device B listens
 * over SSE; over 200 writes, the time from just before A's `synchronize()` to B's storage holding the
 * value (push to visible), the time A's `synchronize()` takes, and the time from it resolving to B
 * holding the value. Fan-out: N raw SSE connections of one identity (plain sockets, so the client costs little
 * beside the server), one write, the time until the last connection has the event.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createSsePushSource } from '../adapters/push/sse/index.js'
import { createMemoryStorage } from '../adapters/storage/memory/index.js'
import { createHttpTransport } from '../adapters/transport/http/index.js'
import { createSyncManager } from '../src/index.js'

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const WRITES = 200

async function startServer(): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pushsync-bench-push-'))
  const child = spawn(
    process.execPath,
    [
      'server/bin/pushsync-server.js',
      '--port',
      '0',
      '--db',
      join(dir, 'push.db'),
      '--allow-unauthenticated',
      // A benchmark asks far more of one identity and one address than any person: no limits.
      '--throttle-identity-rate',
      '0',
      '--throttle-guest-rate',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (\S+)/.exec(out)
      if (match?.[1]) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  return { url, child, dir }
}

async function identity(url: string): Promise<{ identityId: string; token: string }> {
  const call = async (target: string, body: object) => {
    const response = await fetch(`${url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AWSCognitoIdentityService.${target}`,
      },
      body: JSON.stringify(body),
    })
    return (await response.json()) as { IdentityId: string; Credentials: { SessionToken: string } }
  }
  const { IdentityId } = await call('GetId', { IdentityPoolId: POOL })
  const { Credentials } = await call('GetCredentialsForIdentity', { IdentityId })
  return { identityId: IdentityId, token: Credentials.SessionToken }
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

async function latency(url: string): Promise<void> {
  const who = await identity(url)
  const device = () =>
    createSyncManager({
      identityPoolId: POOL,
      identityId: who.identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport({
        endpoint: url,
        identityPoolId: POOL,
        identityId: who.identityId,
        getToken: () => who.token,
      }),
    })
  const a = device()
  const b = device()
  const dsA = await a.openOrCreateDataset('bench')
  const dsB = await b.openOrCreateDataset('bench')
  await dsA.put('k', 'v-start')
  await dsA.synchronize()
  await dsB.synchronize()
  // A's own pushes must not come back to it: give A a source too, so its device id is sent.
  const stopA = a.addPushSource(
    createSsePushSource({
      endpoint: url,
      identityPoolId: POOL,
      identityId: who.identityId,
      getToken: () => who.token,
    }),
  )
  const stopB = b.addPushSource(
    createSsePushSource({
      endpoint: url,
      identityPoolId: POOL,
      identityId: who.identityId,
      getToken: () => who.token,
    }),
  )
  await new Promise((resolve) => setTimeout(resolve, 200))

  const samples: number[] = []
  const syncs: number[] = []
  const afterSync: number[] = []
  for (let i = 0; i < WRITES; i++) {
    const value = `v-${i}`
    const seen = new Promise<number>((resolve) => {
      const off = b.on('datasetChanged', async (event) => {
        if (event.source !== 'remote' || !event.keys.includes('k')) return
        if ((await dsB.get('k')) === value) {
          off()
          resolve(performance.now())
        }
      })
    })
    await dsA.put('k', value)
    const start = performance.now()
    await dsA.synchronize()
    const synced = performance.now()
    const visible = await seen
    samples.push(visible - start)
    syncs.push(synced - start)
    afterSync.push(Math.max(0, visible - synced))
  }
  const report = (label: string, values: number[]) => {
    values.sort((x, y) => x - y)
    console.log(
      `${label} (${WRITES} writes): p50 ${percentile(values, 0.5).toFixed(2)} ms  p99 ${percentile(values, 0.99).toFixed(2)} ms  max ${values[values.length - 1]?.toFixed(2)} ms`,
    )
  }
  report('push to visible, from before A synchronizes', samples)
  report("A's synchronize()", syncs)
  report("from A's synchronize() resolving to B holding the value", afterSync)
  stopA()
  stopB()
  await a.close()
  await b.close()
}

/** A raw SSE reader: resolves `ready` after the opening events, then watches for one sync count. */
function rawSse(
  url: string,
  path: string,
  token: string,
): Promise<{ socket: Socket; wait(count: number): Promise<number> }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${token}\r\naccept: text/event-stream\r\n\r\n`,
      )
    })
    let text = ''
    let waiting: { needle: string; resolve: (at: number) => void } | undefined
    let opened = false
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (!opened && text.includes('event: sync')) {
        opened = true
        resolve({
          socket,
          wait(count) {
            return new Promise((done) => {
              waiting = { needle: `"syncCount":${count}`, resolve: done }
            })
          },
        })
      }
      if (waiting !== undefined && text.includes(waiting.needle)) {
        waiting.resolve(performance.now())
        waiting = undefined
      }
      if (text.length > 4096) text = text.slice(-1024)
    })
    socket.once('error', reject)
  })
}

async function fanOut(url: string, connections: number): Promise<void> {
  const who = await identity(url)
  const base = `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(who.identityId)}`
  const headers = { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' }
  const list = async () =>
    (await (await fetch(`${url}${base}/datasets/fan/records`, { headers })).json()) as {
      SyncSessionToken: string
      DatasetSyncCount: number
    }
  const first = await list()
  await fetch(`${url}${base}/datasets/fan`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      SyncSessionToken: first.SyncSessionToken,
      RecordPatches: [{ Op: 'replace', Key: 'k', Value: '0', SyncCount: 0 }],
    }),
  })
  const readers: Array<{ socket: Socket; wait(count: number): Promise<number> }> = []
  const openStart = performance.now()
  for (let i = 0; i < connections; i += 250) {
    const batch = Math.min(250, connections - i)
    readers.push(
      ...(await Promise.all(Array.from({ length: batch }, () => rawSse(url, `${base}/events`, who.token)))),
    )
  }
  const openMs = performance.now() - openStart
  const session = await list()
  const target = session.DatasetSyncCount + 1
  const arrivals = Promise.all(readers.map((reader) => reader.wait(target)))
  const start = performance.now()
  await fetch(`${url}${base}/datasets/fan`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      SyncSessionToken: session.SyncSessionToken,
      RecordPatches: [{ Op: 'replace', Key: 'k', Value: '1', SyncCount: 1 }],
    }),
  })
  const times = (await arrivals).map((at) => at - start).sort((x, y) => x - y)
  console.log(
    `fan-out to ${String(connections).padStart(5)} SSE connections: last after ${times[times.length - 1]?.toFixed(1)} ms, p50 ${percentile(times, 0.5).toFixed(1)} ms (connections opened in ${(openMs / 1000).toFixed(1)} s)`,
  )
  for (const reader of readers) reader.socket.destroy()
}

const { url, child, dir } = await startServer()
try {
  console.log(`node ${process.version}; server ${url}`)
  await latency(url)
  for (const connections of [1_000, 10_000]) await fanOut(url, connections)
} finally {
  child.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
