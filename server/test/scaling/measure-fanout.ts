/**
 * What carrying changes between server processes costs: `npx tsx --tsconfig server/tsconfig.json
 * server/test/scaling/measure-fanout.ts`.
 *
 * PostgreSQL LISTEN/NOTIFY, as the PostgreSQL store's bus uses it (one `pg_notify` per committed
 * change, through a pooled connection; one listening connection per process), with 1, 4 and 16
 * listeners: notifications published per second, all delivered to every listener, and the CPU the
 * PostgreSQL server spent per thousand. Then the same fan-out through NATS core publish/subscribe
 * (at 127.0.0.1:4222, with a minimal client of NATS's text protocol written here), when a NATS
 * server is there. Messages are 600 bytes, the size of a small change's message. Figures for
 * docs/server/scaling.md.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import pg from 'pg'

const PG_URL = process.env.PUSHSYNC_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const MESSAGES = 20_000
const PUBLISHERS = 8
const PAYLOAD = 'x'.repeat(600)

/** CPU seconds (user + system) used so far by every postgres process of this machine, from /proc. */
function postgresCpuSeconds(): number {
  let ticks = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks / 100
}

async function notifyRound(listeners: number): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: listeners }, async () => {
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      await client.query('LISTEN fanout_bench')
      let received = 0
      client.on('notification', () => received++)
      return { client, received: () => received }
    }),
  )
  const pool = new pg.Pool({ connectionString: PG_URL, max: PUBLISHERS })
  const cpuBefore = postgresCpuSeconds()
  const started = performance.now()
  let sent = 0
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      while (sent < MESSAGES) {
        sent++
        await pool.query('SELECT pg_notify($1, $2)', ['fanout_bench', PAYLOAD])
      }
    }),
  )
  const published = (performance.now() - started) / 1000
  while (clients.some((c) => c.received() < MESSAGES)) await new Promise((r) => setTimeout(r, 5))
  const delivered = (performance.now() - started) / 1000
  const cpu = postgresCpuSeconds() - cpuBefore
  console.log(
    `NOTIFY, ${String(listeners).padStart(2)} listeners: ${(MESSAGES / published).toFixed(0).padStart(6)} published/s, all delivered in ${delivered.toFixed(2)} s (${((MESSAGES * listeners) / delivered).toFixed(0)} deliveries/s), PostgreSQL CPU ${((cpu / MESSAGES) * 1000).toFixed(2)} s per 1,000`,
  )
  await pool.end()
  for (const { client } of clients) await client.end()
}

/** The least of NATS's text protocol: CONNECT, SUB, PUB, and counting MSG. */
class NatsConnection {
  private buffer = ''
  private readonly socket: Socket
  received = 0

  private constructor(socket: Socket) {
    this.socket = socket
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      for (;;) {
        const end = this.buffer.indexOf('\r\n')
        if (end < 0) return
        const line = this.buffer.slice(0, end)
        if (line.startsWith('MSG ')) {
          const size = Number(line.slice(line.lastIndexOf(' ') + 1))
          if (this.buffer.length < end + 2 + size + 2) return
          this.received++
          this.buffer = this.buffer.slice(end + 2 + size + 2)
        } else {
          if (line === 'PING') socket.write('PONG\r\n')
          this.buffer = this.buffer.slice(end + 2)
        }
      }
    })
  }

  static open(): Promise<NatsConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(4222, '127.0.0.1', () => {
        socket.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
        resolve(new NatsConnection(socket))
      })
      socket.once('error', reject)
    })
  }

  subscribe(subject: string): void {
    this.socket.write(`SUB ${subject} 1\r\n`)
  }

  publish(subject: string, payload: string): boolean {
    return this.socket.write(`PUB ${subject} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`)
  }

  /** Resolves once the server has read everything sent before (a PING answered with PONG). */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      const onData = (chunk: string) => {
        if (chunk.includes('PONG')) {
          this.socket.off('data', onData)
          resolve()
        }
      }
      this.socket.on('data', onData)
      this.socket.write('PING\r\n')
    })
  }

  close(): void {
    this.socket.destroy()
  }
}

async function natsRound(listeners: number): Promise<void> {
  const subscribers = await Promise.all(Array.from({ length: listeners }, () => NatsConnection.open()))
  for (const subscriber of subscribers) {
    subscriber.subscribe('pushsync.changes')
    await subscriber.flush()
  }
  const publisher = await NatsConnection.open()
  const started = performance.now()
  for (let i = 0; i < MESSAGES; i++) {
    if (!publisher.publish('pushsync.changes', PAYLOAD)) await publisher.flush()
  }
  await publisher.flush()
  const published = (performance.now() - started) / 1000
  while (subscribers.some((s) => s.received < MESSAGES)) await new Promise((r) => setTimeout(r, 5))
  const delivered = (performance.now() - started) / 1000
  console.log(
    `NATS,   ${String(listeners).padStart(2)} listeners: ${(MESSAGES / published).toFixed(0).padStart(6)} published/s, all delivered in ${delivered.toFixed(2)} s (${((MESSAGES * listeners) / delivered).toFixed(0)} deliveries/s)`,
  )
  publisher.close()
  for (const subscriber of subscribers) subscriber.close()
}

console.log(`node ${process.version}; ${MESSAGES} messages of ${PAYLOAD.length} bytes`)
for (const listeners of [1, 4, 16]) await notifyRound(listeners)
let nats = true
try {
  ;(await NatsConnection.open()).close()
} catch {
  nats = false
  console.log('NATS is not reachable at 127.0.0.1:4222: skipped')
}
if (nats) for (const listeners of [1, 4, 16]) await natsRound(listeners)
