import { connect, createServer, type Server, type Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import type { StoreReadiness, SyncStore } from '../../src/store/contract.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { ADMIN_URL, postgresUnreachable, testDatabase } from '../helpers/postgres.js'

/**
 * `/healthz` (the process answers) and `/readyz` (the store answers, its schema is migrated, the
 * PostgreSQL bus listens): unauthenticated, outside the API's paths, never a site's.
 */

/** A store whose readiness a test decides, around a real memory store. */
function storeWithReadiness(): { store: SyncStore; set(readiness: Promise<StoreReadiness>): void } {
  const inner = createMemoryStore()
  let current: Promise<StoreReadiness> = Promise.resolve({ ready: true })
  return {
    store: {
      kind: inner.kind,
      transaction: (fn, options) => inner.transaction(fn, options),
      close: () => inner.close(),
      readiness: () => current,
    },
    set(readiness) {
      current = readiness
    },
  }
}

const probe = async (server: SyncServer, path: string, init?: RequestInit) => {
  const response = await server.fetch(new Request(`http://pushsync.test${path}`, init))
  return { response, status: response.status, body: init?.method === 'HEAD' ? '' : await response.text() }
}

/** Polls `/readyz` until it answers `status` (its answer is reused for a second). */
const readyzBecomes = (server: SyncServer, status: number) =>
  vi.waitUntil(async () => (await probe(server, '/readyz')).status === status, {
    timeout: 15_000,
    interval: 100,
  })

describe('/healthz and /readyz', () => {
  it('answer 200 without credentials, as JSON nobody caches, with a request id', async () => {
    const server = await createSyncServer({ db: createMemoryStore() })
    try {
      const health = await probe(server, '/healthz')
      expect(health.status).toBe(200)
      expect(JSON.parse(health.body)).toEqual({ status: 'ok' })
      expect(health.response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(health.response.headers.get('cache-control')).toBe('no-store')
      expect(health.response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/)
      const ready = await probe(server, '/readyz')
      expect(ready.status).toBe(200)
      expect(JSON.parse(ready.body)).toEqual({ status: 'ready' })
      expect((await probe(server, '/readyz', { method: 'HEAD' })).status).toBe(200)
      expect((await probe(server, '/healthz', { method: 'HEAD' })).status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it('are never a site’s, even one that answers every path', async () => {
    const server = await createSyncServer({
      db: createMemoryStore(),
      site: () => new Response('a page', { headers: { 'content-type': 'text/html' } }),
    })
    try {
      expect((await probe(server, '/elsewhere')).body).toBe('a page')
      expect(JSON.parse((await probe(server, '/healthz')).body)).toEqual({ status: 'ok' })
      expect(JSON.parse((await probe(server, '/readyz')).body)).toEqual({ status: 'ready' })
    } finally {
      await server.close()
    }
  })

  it('/readyz is 503 with the reason while the store is not ready, and 200 again after; /healthz stays 200', async () => {
    const { store, set } = storeWithReadiness()
    const server = await createSyncServer({ db: store })
    try {
      await readyzBecomes(server, 200)
      set(Promise.resolve({ ready: false, reason: 'the database does not answer: connect ECONNREFUSED' }))
      await readyzBecomes(server, 503)
      const unready = await probe(server, '/readyz')
      expect(JSON.parse(unready.body)).toEqual({
        status: 'unready',
        reason: 'the database does not answer: connect ECONNREFUSED',
      })
      expect(unready.response.headers.get('x-amzn-errortype')).toBeNull()
      expect((await probe(server, '/healthz')).status).toBe(200)
      set(Promise.resolve({ ready: true }))
      await readyzBecomes(server, 200)
    } finally {
      await server.close()
    }
  })

  it('/readyz is 503 when the store does not answer at all, rather than hang', async () => {
    const { store, set } = storeWithReadiness()
    const server = await createSyncServer({ db: store })
    try {
      set(new Promise(() => {}))
      await readyzBecomes(server, 503)
      expect(JSON.parse((await probe(server, '/readyz')).body)).toEqual({
        status: 'unready',
        reason: 'the store did not answer within 2000 ms',
      })
    } finally {
      set(Promise.resolve({ ready: true }))
      await server.close()
    }
  })
})

/** A TCP relay to PostgreSQL that a test can cut (every connection ends, none is accepted) and restore. */
class Relay {
  readonly #sockets = new Set<Socket>()
  #server: Server | undefined
  readonly target: { readonly host: string; readonly port: number }
  port = 0

  constructor(target: { readonly host: string; readonly port: number }) {
    this.target = target
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host)
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    const address = server.address()
    if (typeof address === 'object' && address !== null) this.port = address.port
    this.#server = server
  }

  async cut(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
  }
}

const unreachable = await postgresUnreachable('the /readyz test on PostgreSQL')

describe.skipIf(unreachable !== undefined)('/readyz on PostgreSQL', () => {
  const { name, url } = testDatabase()
  let admin: pg.Client

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
  })

  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin?.end()
  })

  it('is 503 while the database cannot be reached and 200 once it can again, bus included', async () => {
    const direct = new URL(url)
    const relay = new Relay({ host: direct.hostname, port: Number(direct.port || 5432) })
    await relay.open()
    const through = new URL(url)
    through.hostname = '127.0.0.1'
    through.port = String(relay.port)
    const server = await createSyncServer({ db: through.toString() })
    try {
      await readyzBecomes(server, 200)
      await relay.cut()
      await readyzBecomes(server, 503)
      expect(JSON.parse((await probe(server, '/readyz')).body)).toMatchObject({ status: 'unready' })
      expect((await probe(server, '/healthz')).status).toBe(200)
      await relay.open()
      // The pool makes new connections and the bus listens again (it retries every second).
      await readyzBecomes(server, 200)
    } finally {
      await server.close()
      await relay.cut()
    }
  })
})
