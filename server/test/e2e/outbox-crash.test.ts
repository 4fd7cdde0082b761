import { createECDH, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { generateVapidKeys } from '../../src/push/senders/webpush.js'
import { cliRunner, type Running } from '../helpers/cli.js'
import { ADMIN_URL, postgresUnreachable, testDatabase } from '../helpers/postgres.js'

/**
 * Two server processes on one PostgreSQL database; the one sending a push is killed (SIGKILL) in
 * the middle of the send. Its claim on the outbox row dies with its connection, so the survivor
 * sends the push within seconds, not after a lease of minutes. Web Push is delivered for real
 * (VAPID, aes128gcm) to a push service on this machine, which the servers may call with
 * `--allow-private-outbound`.
 */

const unreachable = await postgresUnreachable('the outbox crash test')
const POOL = 'us-east-1:c4a5e000-0000-4000-8000-0000000000aa'
const { name: databaseName, url: databaseUrl } = testDatabase()
const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() }

/** A push service that never answers its first push (the sender is stuck in the middle of it). */
class StallingPushService {
  readonly received: Array<{ path: string | undefined; topic: string | undefined }> = []
  private readonly stalled: ServerResponse[] = []
  private server: Server | undefined
  origin = ''

  async start(): Promise<void> {
    this.server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume()
      request.on('end', () => {
        this.received.push({ path: request.url, topic: request.headers.topic as string | undefined })
        if (this.received.length === 1) this.stalled.push(response)
        else response.writeHead(201).end()
      })
    })
    const server = this.server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()))
  }

  subscription(path: string): string {
    const ecdh = createECDH('prime256v1')
    ecdh.generateKeys()
    return JSON.stringify({
      endpoint: `${this.origin}${path}`,
      keys: {
        p256dh: ecdh.getPublicKey().toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
      },
    })
  }
}

describe.skipIf(unreachable !== undefined)('a server killed while it sends a push', () => {
  const service = new StallingPushService()
  let workdir = ''
  const cli = cliRunner(() => workdir)
  let admin: pg.Client | undefined

  beforeAll(async () => {
    workdir = mkdtempSync(join(tmpdir(), 'pushsync-outbox-crash-'))
    await service.start()
    admin = new pg.Client({ connectionString: ADMIN_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${databaseName}`)
  })

  afterAll(async () => {
    cli.stopAll()
    await service.stop()
    await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`)
    await admin?.end()
    rmSync(workdir, { recursive: true, force: true })
  })

  const startServer = (): Promise<Running> =>
    cli.start([
      '--port',
      '0',
      '--db',
      databaseUrl,
      '--allow-unauthenticated',
      '--allow-private-outbound',
      '--vapid-subject',
      vapid.subject,
      '--vapid-public-key',
      vapid.publicKey,
      '--vapid-private-key',
      vapid.privateKey,
      '--log-level',
      'warn',
    ])

  it('has its push delivered by the other process within 5 seconds', async () => {
    const first = await startServer()
    const call = async (path: string, init: { method: string; headers?: object; body?: unknown }) => {
      const response = await fetch(`${first.url}${path}`, {
        method: init.method,
        headers: { 'content-type': 'application/json', ...init.headers },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      })
      const json = (await response.json()) as Record<string, unknown>
      if (!response.ok) throw new Error(`${init.method} ${path}: ${response.status} ${JSON.stringify(json)}`)
      return json
    }
    const identity = async (target: string, body: object) =>
      call('/', { method: 'POST', headers: { 'x-amz-target': `AWSCognitoIdentityService.${target}` }, body })
    const { IdentityId } = await identity('GetId', { IdentityPoolId: POOL })
    const { Credentials } = (await identity('GetCredentialsForIdentity', { IdentityId })) as {
      Credentials: { SessionToken: string }
    }
    const auth = { authorization: `Bearer ${Credentials.SessionToken}` }
    const who = `/identitypools/${encodeURIComponent(POOL)}`
    const dataset = `${who}/identities/${encodeURIComponent(String(IdentityId))}/datasets/notes`
    const write = async (value: string, syncCount: number) => {
      const { SyncSessionToken } = await call(`${dataset}/records`, { method: 'GET', headers: auth })
      await call(dataset, {
        method: 'POST',
        headers: auth,
        body: {
          SyncSessionToken,
          DeviceId: 'the-writer',
          RecordPatches: [{ Op: 'replace', Key: 'k', Value: value, SyncCount: syncCount }],
        },
      })
    }
    await write('first', 0)
    const { DeviceId } = await call(`${who}/identity/${encodeURIComponent(String(IdentityId))}/device`, {
      method: 'POST',
      headers: auth,
      body: { Platform: 'WEBPUSH', Token: service.subscription('/push/browser') },
    })
    await call(`${dataset}/subscriptions/${encodeURIComponent(String(DeviceId))}`, {
      method: 'POST',
      headers: auth,
    })

    // The first process claims the push and is stuck sending it.
    await write('second', 1)
    await vi.waitUntil(() => service.received.length === 1, { timeout: 10_000 })
    const second = await startServer()
    expect(service.received).toHaveLength(1)

    await first.stop('SIGKILL')
    await vi.waitUntil(() => service.received.length >= 2, { timeout: 5000, interval: 50 })
    const [stuck, resent] = service.received
    expect(resent).toEqual(stuck)
    // The survivor removed the row it delivered.
    const database = new pg.Client({ connectionString: databaseUrl })
    await database.connect()
    try {
      await vi.waitUntil(
        async () => Number((await database.query('SELECT COUNT(*) AS n FROM outbox')).rows[0]?.n) === 0,
        { timeout: 5000 },
      )
    } finally {
      await database.end()
    }
    expect(service.received).toHaveLength(2)
    await second.stop()
  })
})
