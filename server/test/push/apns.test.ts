import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import {
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
} from 'node:http2'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PushMessage } from '../../src/push/sender.js'
import { type ApnsSender, createApnsSender } from '../../src/push/senders/apns.js'

const TEAM_ID = 'TEAM123456'
const KEY_ID = 'KEY7890ABC'
const BUNDLE_ID = 'com.example.pushsync'
const TOKEN = 'a1b2c3d4'.repeat(8)

interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly session: ServerHttp2Session
  /** Why the provider token was refused; undefined when it verified. */
  readonly tokenProblem: string | undefined
}

interface Scripted {
  /** 0: never answer. */
  readonly status: number
  readonly reason?: string
}

/**
 * An APNs provider endpoint over HTTP/2 and TLS: it checks the provider token as Apple does
 * (ES256, the key the test generated) and answers each device token from a script, 200 when the
 * script is empty.
 */
interface FakeApns {
  readonly url: string
  readonly received: Received[]
  readonly sessions: ServerHttp2Session[]
  readonly script: Map<string, Scripted[]>
  close(): Promise<void>
}

let dir: string
let cert: string
let serverKey: string
let apnsKey: { privateKeyPem: string; publicKey: KeyObject }
let clock: number

function message(overrides: Partial<PushMessage> = {}): PushMessage {
  return {
    deviceId: 'device-1',
    platform: 'APNS',
    token: TOKEN,
    identityPoolId: 'us-east-1:11111111-2222-4333-8444-555555555555',
    identityId: 'us-east-1:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    datasetName: 'settings',
    syncCount: 42,
    ...overrides,
  }
}

async function startApns(): Promise<FakeApns> {
  const received: Received[] = []
  const sessions: ServerHttp2Session[] = []
  const script = new Map<string, Scripted[]>()
  const server: Http2SecureServer = createSecureServer({ key: serverKey, cert })
  server.on('session', (session) => sessions.push(session))
  server.on('stream', (stream, headers) => {
    let body = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      body += chunk
    })
    stream.on('end', async () => {
      const jwt = String(headers.authorization ?? '').replace(/^bearer /, '')
      let tokenProblem: string | undefined
      try {
        const { protectedHeader, payload } = await jwtVerify(jwt, apnsKey.publicKey, {
          algorithms: ['ES256'],
          issuer: TEAM_ID,
          currentDate: new Date(clock),
        })
        if (protectedHeader.kid !== KEY_ID) tokenProblem = `kid ${protectedHeader.kid}`
        if (typeof payload.iat !== 'number') tokenProblem = 'no iat'
      } catch (error) {
        tokenProblem = (error as Error).message
      }
      received.push({ headers, body, session: stream.session as ServerHttp2Session, tokenProblem })
      const device = String(headers[':path']).replace('/3/device/', '')
      const next: Scripted =
        tokenProblem === undefined
          ? (script.get(device)?.shift() ?? { status: 200 })
          : { status: 403, reason: 'InvalidProviderToken' }
      if (next.status === 0) return
      stream.respond({ ':status': next.status, 'apns-id': '00000000-0000-4000-8000-000000000001' })
      stream.end(next.reason === undefined ? '' : JSON.stringify({ reason: next.reason }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `https://127.0.0.1:${port}`,
    received,
    sessions,
    script,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy()
        server.close(() => resolve())
      }),
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pushsync-apns-'))
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  )
  cert = readFileSync(certPath, 'utf8')
  serverKey = readFileSync(keyPath, 'utf8')
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  apnsKey = {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey,
  }
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('APNs sender', () => {
  let production: FakeApns
  let sandbox: FakeApns
  let sender: ApnsSender

  const createSender = (extra: { sandboxUrl?: string } = {}) =>
    createApnsSender({
      teamId: TEAM_ID,
      keyId: KEY_ID,
      privateKey: apnsKey.privateKeyPem,
      bundleId: BUNDLE_ID,
      productionUrl: production.url,
      sandboxUrl: extra.sandboxUrl ?? sandbox.url,
      ca: cert,
      now: () => clock,
    })

  beforeAll(async () => {
    production = await startApns()
    sandbox = await startApns()
  })

  afterAll(async () => {
    await production.close()
    await sandbox.close()
  })

  const setUp = () => {
    clock = Date.UTC(2026, 0, 1, 12, 0, 0)
    production.received.length = 0
    sandbox.received.length = 0
    production.script.clear()
    sandbox.script.clear()
    sender = createSender()
  }

  afterEach(async () => {
    await sender.close()
  })

  it('declares the APNs platforms', () => {
    setUp()
    expect(sender.platforms).toEqual(['APNS', 'APNS_SANDBOX'])
  })

  it('posts a background push with a valid provider token, the required headers and the exact body', async () => {
    setUp()
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })

    expect(production.received).toHaveLength(1)
    const [request] = production.received
    if (request === undefined) throw new Error('no request')
    expect(request.tokenProblem).toBeUndefined()
    expect(request.headers[':method']).toBe('POST')
    expect(request.headers[':path']).toBe(`/3/device/${TOKEN}`)
    expect(request.headers['apns-push-type']).toBe('background')
    expect(request.headers['apns-priority']).toBe('5')
    expect(request.headers['apns-topic']).toBe(BUNDLE_ID)
    const collapseId = String(request.headers['apns-collapse-id'])
    expect(collapseId.length).toBeGreaterThan(0)
    expect(Buffer.byteLength(collapseId)).toBeLessThanOrEqual(64)
    expect(request.body).toBe(
      JSON.stringify({
        aps: { 'content-available': 1 },
        data: {
          source: 'cognito-sync',
          identityPoolId: 'us-east-1:11111111-2222-4333-8444-555555555555',
          identityId: 'us-east-1:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
          datasetName: 'settings',
          syncCount: 42,
        },
      }),
    )

    const jwt = String(request.headers.authorization).replace(/^bearer /, '')
    expect(String(request.headers.authorization)).toMatch(/^bearer /)
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: KEY_ID })
    const { payload } = await jwtVerify(jwt, apnsKey.publicKey, { currentDate: new Date(clock) })
    expect(payload).toEqual({ iss: TEAM_ID, iat: clock / 1000 })
  })

  it('collapses per dataset, with an id within 64 bytes even for the longest dataset name', async () => {
    setUp()
    await sender.send(message({ datasetName: 'a'.repeat(128) }))
    await sender.send(message({ datasetName: 'a'.repeat(128), syncCount: 43 }))
    await sender.send(message({ datasetName: 'other' }))
    const ids = production.received.map((request) => String(request.headers['apns-collapse-id']))
    expect(ids[0]).toBe(ids[1])
    expect(ids[2]).not.toBe(ids[0])
    for (const id of ids) expect(Buffer.byteLength(id)).toBeLessThanOrEqual(64)
  })

  it('sends APNS_SANDBOX devices to the sandbox origin', async () => {
    setUp()
    expect(await sender.send(message({ platform: 'APNS_SANDBOX' }))).toEqual({ kind: 'delivered' })
    expect(sandbox.received).toHaveLength(1)
    expect(production.received).toHaveLength(0)
    expect(sandbox.received[0]?.tokenProblem).toBeUndefined()
  })

  it('reuses the provider token and the HTTP/2 session across sends, and renews the token after 50 minutes', async () => {
    setUp()
    const sessionsBefore = production.sessions.length
    const outcomes = await Promise.all([
      sender.send(message()),
      sender.send(message({ datasetName: 'b' })),
      sender.send(message({ datasetName: 'c' })),
    ])
    expect(outcomes).toEqual([{ kind: 'delivered' }, { kind: 'delivered' }, { kind: 'delivered' }])
    await sender.send(message({ datasetName: 'd' }))
    clock += 49 * 60 * 1000
    await sender.send(message({ datasetName: 'e' }))

    const tokens = production.received.map((request) => request.headers.authorization)
    expect(new Set(tokens).size).toBe(1)
    expect(production.sessions.length - sessionsBefore).toBe(1)
    expect(new Set(production.received.map((request) => request.session)).size).toBe(1)

    clock += 2 * 60 * 1000
    await sender.send(message({ datasetName: 'f' }))
    const renewed = production.received.at(-1)
    expect(renewed?.tokenProblem).toBeUndefined()
    expect(renewed?.headers.authorization).not.toBe(tokens[0])
    const { payload } = await jwtVerify(
      String(renewed?.headers.authorization).replace(/^bearer /, ''),
      apnsKey.publicKey,
      {
        currentDate: new Date(clock),
      },
    )
    expect(payload.iat).toBe(clock / 1000)
    expect(production.sessions.length - sessionsBefore).toBe(1)
  })

  it('opens a new session when the server closed the previous one', async () => {
    setUp()
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })
    const first = production.received[0]?.session
    await new Promise<void>((resolve) => first?.close(resolve))
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })
    const second = production.received[1]?.session
    expect(second).toBeDefined()
    expect(second === first).toBe(false)
  })

  it('maps 410 and 400 BadDeviceToken / DeviceTokenNotForTopic to gone', async () => {
    setUp()
    production.script.set(TOKEN, [
      { status: 410, reason: 'Unregistered' },
      { status: 400, reason: 'BadDeviceToken' },
      { status: 400, reason: 'DeviceTokenNotForTopic' },
    ])
    expect(await sender.send(message())).toEqual({ kind: 'gone', reason: 'APNs 410 Unregistered' })
    expect(await sender.send(message())).toEqual({ kind: 'gone', reason: 'APNs 400 BadDeviceToken' })
    expect(await sender.send(message())).toEqual({ kind: 'gone', reason: 'APNs 400 DeviceTokenNotForTopic' })
  })

  it('maps 429, 500 and 503 to retry', async () => {
    setUp()
    production.script.set(TOKEN, [
      { status: 429, reason: 'TooManyRequests' },
      { status: 500, reason: 'InternalServerError' },
      { status: 503, reason: 'ServiceUnavailable' },
    ])
    expect(await sender.send(message())).toEqual({ kind: 'retry', reason: 'APNs 429 TooManyRequests' })
    expect(await sender.send(message())).toEqual({ kind: 'retry', reason: 'APNs 500 InternalServerError' })
    expect(await sender.send(message())).toEqual({ kind: 'retry', reason: 'APNs 503 ServiceUnavailable' })
  })

  it('renews the provider token after ExpiredProviderToken and retries once', async () => {
    setUp()
    production.script.set(TOKEN, [{ status: 403, reason: 'ExpiredProviderToken' }])
    await sender.send(message({ token: 'ff'.repeat(32) }))
    clock += 1000
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })
    const [warmUp, expired, retried] = production.received
    expect(production.received).toHaveLength(3)
    expect(expired?.headers.authorization).toBe(warmUp?.headers.authorization)
    expect(retried?.headers.authorization).not.toBe(expired?.headers.authorization)
    expect(retried?.tokenProblem).toBeUndefined()
    expect(retried?.body).toBe(expired?.body)
  })

  it('gives up when a freshly signed token is called expired too', async () => {
    setUp()
    production.script.set(TOKEN, [
      { status: 403, reason: 'ExpiredProviderToken' },
      { status: 403, reason: 'ExpiredProviderToken' },
    ])
    expect(await sender.send(message())).toEqual({ kind: 'failed', reason: 'APNs 403 ExpiredProviderToken' })
    expect(production.received).toHaveLength(2)
  })

  it('maps other refusals to failed with the reason APNs gave', async () => {
    setUp()
    production.script.set(TOKEN, [{ status: 400, reason: 'BadTopic' }])
    expect(await sender.send(message())).toEqual({ kind: 'failed', reason: 'APNs 400 BadTopic' })
  })

  it('maps a provider token APNs rejects to failed', async () => {
    setUp()
    await sender.close()
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    sender = createApnsSender({
      teamId: TEAM_ID,
      keyId: KEY_ID,
      privateKey: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      bundleId: BUNDLE_ID,
      productionUrl: production.url,
      ca: cert,
      now: () => clock,
    })
    expect(await sender.send(message())).toEqual({ kind: 'failed', reason: 'APNs 403 InvalidProviderToken' })
  })

  it('maps an unreachable endpoint to retry', async () => {
    setUp()
    await sender.close()
    const closed = await startApns()
    const url = closed.url
    await closed.close()
    sender = createSender({ sandboxUrl: url })
    const outcome = await sender.send(message({ platform: 'APNS_SANDBOX' }))
    expect(outcome.kind).toBe('retry')
  })

  it('maps a request that gets no answer in time to retry, and keeps using the session', async () => {
    setUp()
    await sender.close()
    sender = createApnsSender({
      teamId: TEAM_ID,
      keyId: KEY_ID,
      privateKey: apnsKey.privateKeyPem,
      bundleId: BUNDLE_ID,
      productionUrl: production.url,
      ca: cert,
      now: () => clock,
      requestTimeoutMs: 200,
    })
    production.script.set(TOKEN, [{ status: 0 }])
    const outcome = await sender.send(message())
    expect(outcome.kind).toBe('retry')
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })
    expect(production.received[0]?.session === production.received[1]?.session).toBe(true)
  })

  it('refuses a certificate it does not trust, as a network failure', async () => {
    setUp()
    await sender.close()
    sender = createApnsSender({
      teamId: TEAM_ID,
      keyId: KEY_ID,
      privateKey: apnsKey.privateKeyPem,
      bundleId: BUNDLE_ID,
      productionUrl: production.url,
      now: () => clock,
    })
    const outcome = await sender.send(message())
    expect(outcome.kind).toBe('retry')
    expect(production.received).toHaveLength(0)
  })

  it('calls a token that is not hexadecimal gone without sending it', async () => {
    setUp()
    const outcome = await sender.send(message({ token: '../../etc' }))
    expect(outcome.kind).toBe('gone')
    expect(production.received).toHaveLength(0)
  })

  it('refuses a key that is not an ES256 key when created', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const options = { teamId: TEAM_ID, keyId: KEY_ID, bundleId: BUNDLE_ID }
    expect(() =>
      createApnsSender({
        ...options,
        privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      }),
    ).toThrow(/P-256/)
    expect(() => createApnsSender({ ...options, privateKey: 'not a key' })).toThrow(/PEM/)
  })
})
