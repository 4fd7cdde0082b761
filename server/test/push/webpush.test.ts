import { createECDH, type ECDH, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { Hono } from 'hono'
import { importJWK, jwtVerify } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { VAPID_PUBLIC_KEY_PATH, vapidPublicKeyHandler } from '../../src/http/vapid.js'
import type { PushMessage } from '../../src/push/sender.js'
import {
  createWebPushSender,
  generateVapidKeys,
  loadVapidKeys,
  type VapidKeys,
  type WebPushSenderOptions,
  webPushTopic,
} from '../../src/push/senders/webpush.js'

// http_ece ships no types; this is the one function the push service needs from it.
const ece = createRequire(import.meta.url)('http_ece') as {
  decrypt(body: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: string }): Buffer
}

/** A browser's side of a subscription: its P-256 key pair and auth secret, as `PushManager` makes them. */
interface Browser {
  readonly ecdh: ECDH
  readonly auth: string
  readonly token: string
}

interface Received {
  readonly method: string | undefined
  readonly path: string | undefined
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
}

type Reply = (res: ServerResponse) => void

/** A push service on 127.0.0.1: records each request and answers with the next queued reply (201 by default). */
class FakePushService {
  readonly received: Received[] = []
  readonly replies: Reply[] = []
  private server: Server | undefined
  origin = ''

  async start() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        this.received.push({
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks),
        })
        const reply = this.replies.shift() ?? ((r: ServerResponse) => r.writeHead(201).end())
        reply(res)
      })
    })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    const { port } = this.server.address() as AddressInfo
    this.origin = `http://127.0.0.1:${port}`
  }

  async stop() {
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()))
  }

  subscribe(path = `/push/${randomBytes(8).toString('hex')}`): Browser {
    const ecdh = createECDH('prime256v1')
    ecdh.generateKeys()
    const auth = randomBytes(16).toString('base64url')
    const subscription = {
      endpoint: `${this.origin}${path}`,
      expirationTime: null,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth },
    }
    return { ecdh, auth, token: JSON.stringify(subscription) }
  }
}

const vapid: VapidKeys = { subject: 'mailto:ops@example.com', ...generateVapidKeys() }
const service = new FakePushService()

function message(token: string, overrides: Partial<PushMessage> = {}): PushMessage {
  return {
    deviceId: 'device-1',
    platform: 'WEBPUSH',
    token,
    identityPoolId: 'us-east-1:11111111-2222-3333-4444-555555555555',
    identityId: 'us-east-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    datasetName: 'settings',
    syncCount: 7,
    ...overrides,
  }
}

function sender(options: Partial<WebPushSenderOptions> = {}) {
  return createWebPushSender({ vapid, allowInsecureEndpoints: true, ...options })
}

function replyWith(status: number, headers: Record<string, string> = {}, body = '') {
  service.replies.push((res) => res.writeHead(status, headers).end(body))
}

/** What a push service checks of the `Authorization: vapid t=<JWT>, k=<key>` header (RFC 8292). */
async function verifyVapid(header: string | undefined, endpoint: string) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '')
  expect(match, `Authorization: ${header}`).not.toBeNull()
  const [, jwt = '', k = ''] = match ?? []
  expect(k).toBe(vapid.publicKey)
  const point = Buffer.from(k, 'base64url')
  const key = await importJWK(
    {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
    'ES256',
  )
  const { payload, protectedHeader } = await jwtVerify(jwt, key, {
    algorithms: ['ES256'],
    audience: new URL(endpoint).origin,
    subject: vapid.subject,
  })
  expect(protectedHeader.alg).toBe('ES256')
  const now = Math.floor(Date.now() / 1000)
  expect(payload.exp).toBeGreaterThan(now)
  expect(payload.exp).toBeLessThanOrEqual(now + 24 * 60 * 60)
}

beforeAll(() => service.start())
afterAll(() => service.stop())
beforeEach(() => {
  service.received.length = 0
  service.replies.length = 0
})

describe('createWebPushSender', () => {
  it('serves the WEBPUSH platform', () => {
    expect(sender().platforms).toEqual(['WEBPUSH'])
  })

  it('posts a VAPID-signed, aes128gcm-encrypted five-key body the browser can decrypt', async () => {
    const browser = service.subscribe('/push/abc')
    const outcome = await sender().send(message(browser.token))
    expect(outcome).toEqual({ kind: 'delivered' })

    expect(service.received).toHaveLength(1)
    const [request] = service.received
    if (request === undefined) throw new Error('no request')
    expect(request.method).toBe('POST')
    expect(request.path).toBe('/push/abc')
    await verifyVapid(request.headers.authorization, `${service.origin}/push/abc`)
    expect(request.headers['content-encoding']).toBe('aes128gcm')
    expect(request.headers.ttl).toBe(String(24 * 60 * 60))
    expect(request.headers.urgency).toBe('high')
    expect(request.headers.topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/)
    expect(request.headers.topic).toBe(webPushTopic(message(browser.token)))

    const plaintext = ece.decrypt(request.body, {
      version: 'aes128gcm',
      privateKey: browser.ecdh,
      authSecret: browser.auth,
    })
    expect(plaintext.toString('utf8')).toBe(
      JSON.stringify({
        source: 'cognito-sync',
        identityPoolId: 'us-east-1:11111111-2222-3333-4444-555555555555',
        identityId: 'us-east-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        datasetName: 'settings',
        syncCount: 7,
      }),
    )
  })

  it('sends the configured TTL', async () => {
    const browser = service.subscribe()
    expect(await sender({ ttlSeconds: 600 }).send(message(browser.token))).toEqual({ kind: 'delivered' })
    expect(service.received[0]?.headers.ttl).toBe('600')
  })

  it('refuses a negative or fractional TTL when created', () => {
    expect(() => sender({ ttlSeconds: -1 })).toThrow(/ttlSeconds/)
    expect(() => sender({ ttlSeconds: 1.5 })).toThrow(/ttlSeconds/)
  })

  it('refuses unusable VAPID keys when created', () => {
    const other = generateVapidKeys()
    expect(() => createWebPushSender({ vapid: { ...vapid, publicKey: other.publicKey } })).toThrow(
      /does not belong/,
    )
  })

  it('sends through the fetch it is given', async () => {
    const calls: string[] = []
    const browser = service.subscribe()
    const custom: typeof fetch = async (input, init) => {
      calls.push(String(input))
      return fetch(input, init)
    }
    expect(await sender({ fetch: custom }).send(message(browser.token))).toEqual({ kind: 'delivered' })
    expect(calls).toEqual([JSON.parse(browser.token).endpoint])
  })

  describe('outcomes', () => {
    it.each([200, 201, 202])('%i is delivered', async (status) => {
      replyWith(status)
      expect(await sender().send(message(service.subscribe().token))).toEqual({ kind: 'delivered' })
    })

    it.each([404, 410])('%i is gone', async (status) => {
      replyWith(status, {}, 'subscription expired')
      const outcome = await sender().send(message(service.subscribe().token))
      expect(outcome.kind).toBe('gone')
      expect(outcome).toMatchObject({ reason: expect.stringContaining(`${status}`) })
      expect(outcome).toMatchObject({ reason: expect.stringContaining('subscription expired') })
    })

    it('429 with Retry-After in seconds is retried after that delay', async () => {
      replyWith(429, { 'Retry-After': '120' })
      const outcome = await sender().send(message(service.subscribe().token))
      expect(outcome).toMatchObject({ kind: 'retry', retryAfterMs: 120_000 })
    })

    it('429 with Retry-After as an HTTP-date is retried after the time left', async () => {
      const now = Date.UTC(2026, 0, 1, 12, 0, 0)
      replyWith(429, { 'Retry-After': new Date(now + 90_000).toUTCString() })
      const outcome = await sender({ now: () => now }).send(message(service.subscribe().token))
      expect(outcome).toMatchObject({ kind: 'retry', retryAfterMs: 90_000 })
    })

    it.each([500, 502, 503])('%i is retried, without a delay when none is given', async (status) => {
      replyWith(status)
      const outcome = await sender().send(message(service.subscribe().token))
      expect(outcome.kind).toBe('retry')
      expect(outcome).not.toHaveProperty('retryAfterMs')
    })

    it('503 with Retry-After carries the delay', async () => {
      replyWith(503, { 'Retry-After': '5' })
      expect(await sender().send(message(service.subscribe().token))).toMatchObject({
        kind: 'retry',
        retryAfterMs: 5000,
      })
    })

    it.each([400, 403, 413])('%i fails for good', async (status) => {
      replyWith(status)
      expect((await sender().send(message(service.subscribe().token))).kind).toBe('failed')
    })

    it('a redirect fails rather than being followed', async () => {
      replyWith(307, { Location: `${service.origin}/elsewhere` })
      expect((await sender().send(message(service.subscribe().token))).kind).toBe('failed')
      expect(service.received).toHaveLength(1)
    })

    it('a refused connection is retried', async () => {
      const closed = createServer()
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
      const { port } = closed.address() as AddressInfo
      await new Promise<void>((resolve) => closed.close(() => resolve()))
      const browser = service.subscribe()
      const token = JSON.stringify({
        ...JSON.parse(browser.token),
        endpoint: `http://127.0.0.1:${port}/push/x`,
      })
      const outcome = await sender().send(message(token))
      expect(outcome.kind).toBe('retry')
      expect(outcome).toMatchObject({ reason: expect.stringContaining('ECONNREFUSED') })
    })

    it('a push service that never answers is retried after the timeout', async () => {
      service.replies.push(() => {})
      const outcome = await sender({ timeoutMs: 100 }).send(message(service.subscribe().token))
      expect(outcome.kind).toBe('retry')
    })

    it('a fetch that throws is retried', async () => {
      const failing: typeof fetch = async () => {
        throw new TypeError('fetch failed')
      }
      expect((await sender({ fetch: failing }).send(message(service.subscribe().token))).kind).toBe('retry')
    })
  })

  describe('malformed tokens fail without a request', () => {
    const keys = () => JSON.parse(service.subscribe().token).keys as { p256dh: string; auth: string }
    const cases: ReadonlyArray<readonly [string, () => string]> = [
      ['not JSON', () => 'not json'],
      ['JSON null', () => 'null'],
      ['a bare endpoint string', () => JSON.stringify('https://push.example.com/x')],
      ['no endpoint', () => JSON.stringify({ keys: keys() })],
      ['an endpoint that is not a URL', () => JSON.stringify({ endpoint: 'nowhere', keys: keys() })],
      ['no keys', () => JSON.stringify({ endpoint: `${service.origin}/push/x` })],
      [
        'a p256dh that is not a point',
        () => JSON.stringify({ endpoint: `${service.origin}/p`, keys: { ...keys(), p256dh: 'AAAA' } }),
      ],
      [
        'a p256dh off the curve',
        () =>
          JSON.stringify({
            endpoint: `${service.origin}/p`,
            keys: { ...keys(), p256dh: Buffer.alloc(65, 4).toString('base64url') },
          }),
      ],
      [
        'a short auth secret',
        () => JSON.stringify({ endpoint: `${service.origin}/p`, keys: { ...keys(), auth: 'AAAA' } }),
      ],
      ['a file: endpoint', () => JSON.stringify({ endpoint: 'file:///etc/passwd', keys: keys() })],
    ]

    it.each(cases)('%s', async (_, token) => {
      expect((await sender().send(message(token()))).kind).toBe('failed')
      expect(service.received).toHaveLength(0)
    })

    it('an http: endpoint unless insecure endpoints are allowed', async () => {
      const token = service.subscribe().token
      const outcome = await sender({ allowInsecureEndpoints: false }).send(message(token))
      expect(outcome).toMatchObject({ kind: 'failed', reason: expect.stringContaining('http:') })
      expect(service.received).toHaveLength(0)
    })
  })

  describe('Topic', () => {
    it('is the same for every push of one dataset and differs between datasets', async () => {
      const browser = service.subscribe()
      const send = sender()
      await send.send(message(browser.token, { datasetName: 'settings', syncCount: 1 }))
      await send.send(message(browser.token, { datasetName: 'settings', syncCount: 2 }))
      await send.send(message(browser.token, { datasetName: 'bookmarks', syncCount: 1 }))
      const topics = service.received.map((request) => request.headers.topic)
      expect(topics[0]).toBe(topics[1])
      expect(topics[2]).not.toBe(topics[0])
      for (const topic of topics) expect(topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/)
    })

    it('separates same-named datasets of different identities', () => {
      const base = message('')
      expect(webPushTopic(base)).not.toBe(
        webPushTopic({ ...base, identityId: 'us-east-1:00000000-0000-0000-0000-000000000000' }),
      )
      expect(webPushTopic(base)).not.toBe(
        webPushTopic({ ...base, identityPoolId: 'eu-west-1:11111111-2222-3333-4444-555555555555' }),
      )
    })

    it('stays within 32 URL-safe characters for the longest dataset names', () => {
      const topic = webPushTopic({ ...message(''), datasetName: 'x'.repeat(128) })
      expect(topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/)
    })
  })
})

describe('loadVapidKeys', () => {
  const env = {
    PUSHSYNC_VAPID_SUBJECT: vapid.subject,
    PUSHSYNC_VAPID_PUBLIC_KEY: vapid.publicKey,
    PUSHSYNC_VAPID_PRIVATE_KEY: vapid.privateKey,
  }

  it('is undefined when nothing is configured', () => {
    expect(loadVapidKeys()).toBeUndefined()
    expect(loadVapidKeys({}, { PUSHSYNC_VAPID_SUBJECT: '  ' })).toBeUndefined()
  })

  it('reads the environment', () => {
    expect(loadVapidKeys({}, env)).toEqual(vapid)
  })

  it('prefers explicit options over the environment', () => {
    const other = generateVapidKeys()
    expect(loadVapidKeys({ ...other, subject: 'https://example.com/contact' }, env)).toEqual({
      ...other,
      subject: 'https://example.com/contact',
    })
  })

  it('refuses a half configuration, naming what is missing', () => {
    expect(() => loadVapidKeys({ publicKey: vapid.publicKey })).toThrow(
      /PUSHSYNC_VAPID_SUBJECT, PUSHSYNC_VAPID_PRIVATE_KEY/,
    )
  })

  it('refuses malformed or mismatched keys and subjects', () => {
    expect(() => loadVapidKeys({ subject: 'ops@example.com' }, env)).toThrow(/subject/)
    expect(() => loadVapidKeys({ subject: 'http://example.com' }, env)).toThrow(/mailto: or https:/)
    expect(() => loadVapidKeys({ publicKey: 'AAAA' }, env)).toThrow(/public key/)
    expect(() => loadVapidKeys({ privateKey: 'not+base64url' }, env)).toThrow(/private key/)
    expect(() => loadVapidKeys({ publicKey: vapid.privateKey, privateKey: vapid.publicKey }, env)).toThrow()
    expect(() => loadVapidKeys({ publicKey: generateVapidKeys().publicKey }, env)).toThrow(/does not belong/)
  })
})

describe('vapidPublicKeyHandler', () => {
  const app = (publicKey: string | undefined) =>
    new Hono().get(VAPID_PUBLIC_KEY_PATH, vapidPublicKeyHandler(publicKey))

  it('answers the public key', async () => {
    const response = await app(vapid.publicKey).request(VAPID_PUBLIC_KEY_PATH)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ publicKey: vapid.publicKey })
  })

  it('answers a Cognito-shaped 404 when Web Push is not configured', async () => {
    const response = await app(undefined).request(VAPID_PUBLIC_KEY_PATH)
    expect(response.status).toBe(404)
    expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException')
    expect(await response.json()).toEqual({
      __type: 'ResourceNotFoundException',
      message: expect.any(String),
    })
  })
})
