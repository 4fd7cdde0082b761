/**
 * Loaded into pushsync-server's process for the breakdown (`node --import tsx --import THIS cli`),
 * without changing the server: it notes, on the system-wide monotonic clock the bench process reads
 * too, when each HTTP request arrives, when its response ends, when a `sync` event is written to an
 * SSE response and when its bytes reach the socket (Node corks a response's socket on write and
 * uncorks it on the next tick), and when the SQLite store's transactions begin and commit (with the
 * statements run in between). `GET /__trace` answers the notes so far and forgets them.
 */
import { type IncomingMessage, Server, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { Socket } from 'node:net'
import { TRACE_PATH, type TraceNote } from './trace-notes.js'

const notes: TraceNote[] = []
const syncCountIn = (text: string) => /"syncCount":(\d+)/.exec(text)?.[1]
const now = () => Number(process.hrtime.bigint()) / 1e6
const requests = new WeakMap<ServerResponse, { method: string; path: string }>()

type Emit = (this: Server, event: string | symbol, ...args: unknown[]) => boolean
const emit = Server.prototype.emit as Emit
Server.prototype.emit = function traced(this: Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') {
    const at = now()
    const [request, response] = args as [IncomingMessage, ServerResponse]
    if (request.url === TRACE_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(notes.splice(0)))
      return true
    }
    const info = { method: request.method ?? '', path: (request.url ?? '').split('?')[0] ?? '' }
    requests.set(response, info)
    notes.push({ at, kind: 'request', ...info })
  }
  return emit.call(this, event, ...args)
} as typeof Server.prototype.emit

type Write = (this: ServerResponse, chunk: unknown, ...rest: unknown[]) => boolean
const write = ServerResponse.prototype.write as Write
ServerResponse.prototype.write = function traced(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
  const info = requests.get(this)
  if (info?.path.endsWith('/events')) {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString()
    const count = syncCountIn(text)
    if (count !== undefined) notes.push({ at: now(), kind: 'sse', ...info, syncCount: Number(count) })
  }
  return write.call(this, chunk, ...rest)
} as typeof ServerResponse.prototype.write

type End = (this: ServerResponse, ...args: unknown[]) => ServerResponse
const end = ServerResponse.prototype.end as End
ServerResponse.prototype.end = function traced(this: ServerResponse, ...args: unknown[]) {
  const info = requests.get(this)
  if (info !== undefined) notes.push({ at: now(), kind: 'end', ...info })
  return end.apply(this, args)
} as typeof ServerResponse.prototype.end

// better-sqlite3 is CommonJS: the server's import and this require share one module, so patching
// the prototype of its statements reaches the store's BEGIN IMMEDIATE and COMMIT.
type SqliteDatabase = new (path: string) => { prepare(sql: string): object; close(): void }
const Database = createRequire(import.meta.url)('better-sqlite3') as SqliteDatabase
const probe = new Database(':memory:')
const statementPrototype = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>
probe.close()
let statements: string[] = []
for (const name of ['run', 'get', 'all', 'iterate']) {
  const original = statementPrototype[name] as (this: { source: string }, ...args: unknown[]) => unknown
  statementPrototype[name] = function traced(this: { source: string }, ...args: unknown[]) {
    if (this.source === 'BEGIN IMMEDIATE') {
      notes.push({ at: now(), kind: 'begin' })
      statements = []
      return original.apply(this, args)
    }
    if (this.source !== 'COMMIT') {
      statements.push(this.source.replace(/\s+/g, ' ').slice(0, 60))
      return original.apply(this, args)
    }
    const result = original.apply(this, args)
    notes.push({ at: now(), kind: 'commit', statements: statements.length, sql: statements })
    return result
  }
}

// What a socket hands to the kernel: `_write` and `_writev` are where Node's streams end up once
// the socket is uncorked. Internal names, fine for a diagnostic that runs in a benchmark only.
const socketPrototype = Socket.prototype as unknown as Record<string, (...args: unknown[]) => unknown>
const writeOne = socketPrototype._write as (this: Socket, ...args: unknown[]) => unknown
const writeMany = socketPrototype._writev as (this: Socket, ...args: unknown[]) => unknown
const noteFlush = (text: string) => {
  const count = syncCountIn(text)
  if (count !== undefined) notes.push({ at: now(), kind: 'flush', syncCount: Number(count) })
}
socketPrototype._write = function traced(this: Socket, data: unknown, ...rest: unknown[]) {
  noteFlush(String(data))
  return writeOne.call(this, data, ...rest)
}
socketPrototype._writev = function traced(this: Socket, chunks: unknown, ...rest: unknown[]) {
  noteFlush((chunks as Array<{ chunk: unknown }>).map((entry) => String(entry.chunk)).join(''))
  return writeMany.call(this, chunks, ...rest)
}
