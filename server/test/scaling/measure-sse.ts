/**
 * What live event streams cost one server process: `npx tsx --tsconfig server/tsconfig.json
 * server/test/scaling/measure-sse.ts [max streams, default 5000]`.
 *
 * Starts the server command (SQLite file, throttling off, metrics on), makes one guest identity per
 * stream, then opens event streams (`GET .../events`, bearer token) in steps of 1,000 from raw
 * sockets, and reads the process's resident memory and V8 heap from its metrics after each step
 * (after a pause, so the heartbeat timers have run). Then it measures the CPU the process spends
 * per second with every stream open and idle (heartbeats only), and the time a write takes to reach
 * the streams of its identity. Figures for docs/server/scaling.md.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../chaos/server-process.js'

const POOL = 'us-east-1:5e5e0000-0000-4000-8000-0000000000aa'
const MAX = Number(process.argv[2] ?? 5000)
const STEP = 1000
const HEARTBEAT_MS = 15_000

const dir = mkdtempSync(join(tmpdir(), 'pushsync-sse-'))
const port = await freePort()
const metricsPort = await freePort()
const child = spawn(
  process.execPath,
  [
    'server/bin/pushsync-server.js',
    '--port',
    String(port),
    '--db',
    join(dir, 'sse.db'),
    '--allow-unauthenticated',
    '--throttle-identity-rate',
    '0',
    '--throttle-guest-rate',
    '0',
    '--max-connections',
    String(MAX + 1000),
    '--metrics-port',
    String(metricsPort),
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
)
await new Promise<void>((resolve) =>
  child.stdout?.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('listening on')) resolve()
  }),
)
const url = `http://127.0.0.1:${port}`

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1])
}

/** CPU seconds (user + system) the server process has used, from /proc. */
function cpuSeconds(): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function identity(): Promise<{ identityId: string; token: string }> {
  const call = async (target: string, body: object) =>
    (await (
      await fetch(`${url}/`, {
        method: 'POST',
        headers: { 'x-amz-target': `AWSCognitoIdentityService.${target}` },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, unknown>
  const { IdentityId } = await call('GetId', { IdentityPoolId: POOL })
  const { Credentials } = (await call('GetCredentialsForIdentity', { IdentityId })) as {
    Credentials: { SessionToken: string }
  }
  return { identityId: String(IdentityId), token: Credentials.SessionToken }
}

/** An event stream on a raw socket; `received` counts the `sync` events it has read. */
function openStream(who: {
  identityId: string
  token: string
}): Promise<{ socket: Socket; events: () => number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `GET /identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(who.identityId)}/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${who.token}\r\naccept: text/event-stream\r\n\r\n`,
      )
    })
    let events = 0
    let opened = false
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString()
      events += text.split('event: sync').length - 1
      if (!opened && text.startsWith('HTTP/1.1 200')) {
        opened = true
        resolve({ socket, events: () => events })
      }
    })
    socket.on('error', reject)
  })
}

const who: Array<{ identityId: string; token: string }> = []
for (let i = 0; i < MAX; i++) who.push(await identity())
const streams: Array<{ socket: Socket; events: () => number }> = []
await sleep(2000)
const baseline = {
  rss: await metric('process_resident_memory_bytes'),
  heap: await metric('nodejs_heap_size_used_bytes'),
}
console.log(
  `node ${process.version}; ${MAX} identities made; baseline RSS ${(baseline.rss / 2 ** 20).toFixed(1)} MiB, heap ${(baseline.heap / 2 ** 20).toFixed(1)} MiB`,
)
console.log('streams   RSS MiB   heap MiB   RSS KiB/stream   heap KiB/stream')
for (let target = STEP; target <= MAX; target += STEP) {
  while (streams.length < target) {
    const batch = who.slice(streams.length, Math.min(target, streams.length + 200))
    streams.push(...(await Promise.all(batch.map(openStream))))
  }
  await sleep(HEARTBEAT_MS + 1000)
  const rss = await metric('process_resident_memory_bytes')
  const heap = await metric('nodejs_heap_size_used_bytes')
  console.log(
    `${String(target).padStart(7)}   ${(rss / 2 ** 20).toFixed(1).padStart(7)}   ${(heap / 2 ** 20).toFixed(1).padStart(8)}   ${((rss - baseline.rss) / 1024 / target).toFixed(1).padStart(14)}   ${((heap - baseline.heap) / 1024 / target).toFixed(1).padStart(15)}`,
  )
}

// Idle cost: every stream open, nothing written, heartbeats every 15 s.
const idleFrom = cpuSeconds()
await sleep(30_000)
const idle = (cpuSeconds() - idleFrom) / 30
console.log(`idle with ${streams.length} streams: ${(idle * 100).toFixed(1)}% of one core`)

// A write reaching its identity's stream: one UpdateRecords per identity for 500 identities.
const sample = who.slice(0, 500)
const started = performance.now()
for (const [i, w] of sample.entries()) {
  const path = `${url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(w.identityId)}/datasets/live`
  const listed = (await (
    await fetch(`${path}/records`, { headers: { authorization: `Bearer ${w.token}` } })
  ).json()) as {
    SyncSessionToken: string
  }
  await fetch(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      SyncSessionToken: listed.SyncSessionToken,
      RecordPatches: [{ Op: 'replace', Key: 'k', Value: String(i), SyncCount: 0 }],
    }),
  })
}
const writeSeconds = (performance.now() - started) / 1000
while (sample.some((_, i) => (streams[i]?.events() ?? 0) < 1)) await sleep(10)
console.log(
  `500 identities wrote once each in ${writeSeconds.toFixed(2)} s with ${streams.length} streams open; every write reached its stream`,
)

for (const stream of streams) stream.socket.destroy()
child.kill('SIGTERM')
await new Promise((resolve) => child.once('exit', resolve))
rmSync(dir, { recursive: true, force: true })
