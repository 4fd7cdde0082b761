/**
 * Server throughput and latency over loopback: `npm run bench:server`.
 *
 * Spawns the real CLI on a SQLite file (WAL) and drives it from this process with 1 to 64 concurrent
 * clients, each an identity of its own with bearer credentials (what pushsync's HTTP transport
 * sends; AWS SDK clients sign with SigV4, measured separately for the single-patch case). Reports
 * requests per second and p50/p99 latency for:
 *   - UpdateRecords with 1 patch and with 50 patches (SyncSessionTokens fetched before timing);
 *   - ListRecords of a whole 1,024-record dataset;
 *   - 16 writers of distinct identities of one pool, each sending UpdateRecords with the token the
 *     previous answer carried: on SQLite, on PostgreSQL with one server process, and on PostgreSQL
 *     with two processes sharing the database (writers alternate between them). This is where a
 *     lock wider than one identity would show.
 * Every loop is bounded by a request count; the servers are stopped at the end.
 *
 * `npm run bench:server -- writers` runs only the writers' part. PostgreSQL is the machine's own
 * (PUSHSYNC_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres); a database of
 * the bench's own is created there and dropped at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import pg from 'pg'
import { Sha256 } from '../server/src/auth/sigv4.js'
import { RawHttpConnection } from './raw-http.js'

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const CONCURRENCY = [1, 4, 16, 64]

interface Client {
  connection: RawHttpConnection
  identityId: string
  auth: Record<string, string>
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }
}

async function startServer(db?: string): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pushsync-bench-'))
  const child = spawn(
    process.execPath,
    [
      'server/bin/pushsync-server.js',
      '--port',
      '0',
      '--db',
      db ?? join(dir, 'bench.db'),
      '--log-level',
      'warn',
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

async function call(url: string, target: string, body: object): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${target}`,
    },
    body: JSON.stringify(body),
  })
  return (await response.json()) as Record<string, unknown>
}

async function newClient(url: string): Promise<Client> {
  const { IdentityId } = await call(url, 'GetId', { IdentityPoolId: POOL })
  const { Credentials } = (await call(url, 'GetCredentialsForIdentity', { IdentityId })) as {
    Credentials: { AccessKeyId: string; SecretKey: string; SessionToken: string }
  }
  const { hostname, port } = new URL(url)
  return {
    connection: await RawHttpConnection.open(hostname, Number(port)),
    identityId: String(IdentityId),
    auth: { authorization: `Bearer ${Credentials.SessionToken}` },
    credentials: {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretKey,
      sessionToken: Credentials.SessionToken,
    },
  }
}

function datasetPath(client: Client, dataset: string): string {
  return `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(client.identityId)}/datasets/${dataset}`
}

async function send(url: string, client: Client, method: string, path: string, body?: object, sigv4 = false) {
  const text = body === undefined ? undefined : JSON.stringify(body)
  let headers: Record<string, string> = {
    ...client.auth,
    ...(text ? { 'content-type': 'application/json' } : {}),
  }
  if (sigv4) headers = await sign(url, client, method, path, text)
  const response = await fetch(`${url}${path}`, {
    method,
    headers,
    ...(text === undefined ? {} : { body: text }),
  })
  const json = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`)
  return json
}

async function sign(url: string, client: Client, method: string, path: string, body: string | undefined) {
  const { hostname, port, host } = new URL(url)
  const [pathname, query = ''] = path.split('?')
  const signer = new SignatureV4({
    service: 'cognito-sync',
    region: 'us-east-1',
    credentials: client.credentials,
    sha256: Sha256,
  })
  const request = new HttpRequest({
    method,
    hostname,
    port: Number(port),
    path: pathname ?? path,
    query: Object.fromEntries(new URLSearchParams(query)),
    headers: { host, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body === undefined ? {} : { body }),
  })
  const signed = await signer.sign(request)
  // The raw client sets content-length itself.
  const { 'content-length': _, ...headers } = signed.headers
  return headers
}

async function sessionToken(
  url: string,
  client: Client,
  dataset: string,
  lastSyncCount: number,
): Promise<string> {
  const listed = await send(
    url,
    client,
    'GET',
    `${datasetPath(client, dataset)}/records?lastSyncCount=${lastSyncCount}`,
  )
  return String(listed.SyncSessionToken)
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

async function measure(
  label: string,
  clients: Client[],
  perClient: number,
  task: (client: Client, i: number) => Promise<void>,
) {
  const latencies: number[] = []
  const start = performance.now()
  await Promise.all(
    clients.map(async (client) => {
      for (let i = 0; i < perClient; i++) {
        const t0 = performance.now()
        await task(client, i)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  for (const client of clients) client.connection.close()
  const seconds = (performance.now() - start) / 1000
  latencies.sort((a, b) => a - b)
  console.log(
    `${label.padEnd(44)} ${String(clients.length).padStart(3)} clients  ${(latencies.length / seconds).toFixed(0).padStart(6)} req/s  p50 ${percentile(latencies, 0.5).toFixed(2)} ms  p99 ${percentile(latencies, 0.99).toFixed(2)} ms`,
  )
}

async function updateBench(
  url: string,
  concurrency: number,
  patches: number,
  requests: number,
  sigv4: boolean,
) {
  const clients = await Promise.all(Array.from({ length: concurrency }, () => newClient(url)))
  const perClient = Math.max(1, Math.floor(requests / concurrency))
  const state = new Map<Client, { tokens: string[]; counts: number[] }>()
  for (const client of clients) {
    const tokens: string[] = []
    for (let i = 0; i < perClient; i++) tokens.push(await sessionToken(url, client, 'bench', 0))
    state.set(client, { tokens, counts: Array.from({ length: patches }, () => 0) })
  }
  const label = `UpdateRecords ${patches} patch${patches === 1 ? '' : 'es'}${sigv4 ? ' (SigV4)' : ''}`
  await measure(label, clients, perClient, async (client, i) => {
    const own = state.get(client)
    if (own === undefined) throw new Error('no state')
    const RecordPatches = own.counts.map((count, k) => ({
      Op: 'replace',
      Key: `key-${k}`,
      Value: `value ${i} of ${k}`,
      SyncCount: count,
    }))
    const result = await send(
      url,
      client,
      'POST',
      datasetPath(client, 'bench'),
      { SyncSessionToken: own.tokens[i], RecordPatches },
      sigv4,
    )
    const records = result.Records as Array<{ SyncCount: number }>
    own.counts = own.counts.map(() => records[0]?.SyncCount ?? 0)
  })
}

async function listBench(url: string, concurrency: number, requests: number) {
  const clients = await Promise.all(Array.from({ length: concurrency }, () => newClient(url)))
  for (const client of clients) {
    const token = await sessionToken(url, client, 'big', 0)
    const RecordPatches = Array.from({ length: 1024 }, (_, k) => ({
      Op: 'replace',
      Key: `record-${k}`,
      Value: 'x'.repeat(100),
      SyncCount: 0,
    }))
    await send(url, client, 'POST', datasetPath(client, 'big'), { SyncSessionToken: token, RecordPatches })
  }
  await measure(
    'ListRecords of 1,024 records',
    clients,
    Math.max(1, Math.floor(requests / concurrency)),
    async (client) => {
      const listed = await send(url, client, 'GET', `${datasetPath(client, 'big')}/records?lastSyncCount=0`)
      if ((listed.Records as unknown[]).length !== 1024)
        throw new Error('ListRecords did not return the dataset')
    },
  )
}

/**
 * `writers` clients, each an identity of its own in one pool, spread over `urls` (one per server
 * process), each sending `perWriter` single-patch UpdateRecords one after another. After a first
 * ListRecords, each write uses the SyncSessionToken the previous answer carried: one round trip per
 * write, as a current device syncs.
 */
/** CPU seconds (user + system) used so far by the processes named `name` (`postgres`, `node`...). */
function cpuSecondsOf(filter: (pid: number, command: string) => boolean): number {
  let ticks = 0
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      if (!filter(pid, command)) continue
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks / 100
}

const postgresCpu = () => cpuSecondsOf((_, command) => command === 'postgres')

async function writersBench(
  label: string,
  urls: readonly string[],
  writers: number,
  perWriter: number,
  serverPids: readonly number[] = [],
) {
  const clients = await Promise.all(
    Array.from({ length: writers }, (_, i) => newClient(urls[i % urls.length] ?? '')),
  )
  const state = new Map<Client, { url: string; token: string; count: number }>()
  for (const [i, client] of clients.entries()) {
    const url = urls[i % urls.length] ?? ''
    state.set(client, { url, token: await sessionToken(url, client, 'writes', 0), count: 0 })
  }
  const serversCpu = () => cpuSecondsOf((pid) => serverPids.includes(pid))
  const cpuBefore = { postgres: postgresCpu(), servers: serversCpu() }
  await measure(label, clients, perWriter, async (client, i) => {
    const own = state.get(client)
    if (own === undefined) throw new Error('no state')
    const answer = await client.connection.request(
      'POST',
      datasetPath(client, 'writes'),
      { ...client.auth, 'content-type': 'application/json' },
      JSON.stringify({
        SyncSessionToken: own.token,
        RecordPatches: [{ Op: 'replace', Key: 'key', Value: `value ${i}`, SyncCount: own.count }],
      }),
    )
    if (answer.status !== 200) throw new Error(`UpdateRecords: ${answer.status} ${answer.body}`)
    const result = JSON.parse(answer.body) as {
      Records: Array<{ SyncCount: number }>
      SyncSessionToken: string
    }
    own.token = result.SyncSessionToken
    own.count = result.Records[0]?.SyncCount ?? 0
  })
  // What one write costs the database and the server processes, in CPU: writes per core-second.
  const writes = writers * perWriter
  const postgres = postgresCpu() - cpuBefore.postgres
  const servers = serversCpu() - cpuBefore.servers
  console.log(
    `${''.padEnd(44)} CPU per 1,000 writes: server processes ${((servers / writes) * 1000).toFixed(2)} s${postgres > 0.05 ? `, PostgreSQL ${((postgres / writes) * 1000).toFixed(2)} s (${(writes / postgres).toFixed(0)} writes per PostgreSQL core-second)` : ''}`,
  )
}

/** A PostgreSQL database of the bench's own, dropped by `drop`. */
async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.PUSHSYNC_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const name = `pushsync_bench_${process.pid}`
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

const WRITERS = 16
const WRITES_PER_WRITER = 400

async function writersSection(): Promise<void> {
  const sqlite = await startServer()
  try {
    await writersBench('16 writers, SQLite file', [sqlite.url], WRITERS, WRITES_PER_WRITER, [
      sqlite.child.pid ?? 0,
    ])
  } finally {
    sqlite.child.kill('SIGTERM')
    rmSync(sqlite.dir, { recursive: true, force: true })
  }
  for (const processes of [1, 2]) {
    const database = await benchDatabase()
    const servers: Array<Awaited<ReturnType<typeof startServer>>> = []
    try {
      // One after the other: the first applies the migrations.
      for (let i = 0; i < processes; i++) servers.push(await startServer(database.url))
      await writersBench(
        `16 writers, PostgreSQL, ${processes} process${processes === 1 ? '' : 'es'}`,
        servers.map((server) => server.url),
        WRITERS,
        WRITES_PER_WRITER,
        servers.map((server) => server.child.pid ?? 0),
      )
    } finally {
      for (const server of servers) {
        server.child.kill('SIGTERM')
        await new Promise((resolve) => server.child.once('exit', resolve))
        rmSync(server.dir, { recursive: true, force: true })
      }
      await database.drop()
    }
  }
}

console.log(`node ${process.version}`)
if (process.argv[2] !== 'writers') {
  const { url, child, dir } = await startServer()
  try {
    console.log(`server ${url}; SQLite file in ${dir}`)
    for (const concurrency of CONCURRENCY) await updateBench(url, concurrency, 1, 3000, false)
    for (const concurrency of [1, 16]) await updateBench(url, concurrency, 1, 1000, true)
    for (const concurrency of CONCURRENCY) await updateBench(url, concurrency, 50, 1000, false)
    for (const concurrency of CONCURRENCY) await listBench(url, concurrency, 640)
  } finally {
    child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
}
await writersSection()
