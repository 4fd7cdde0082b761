import { createECDH, randomBytes } from 'node:crypto'
import type { LookupAddress } from 'node:dns'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sha256 } from '../../src/auth/sigv4.js'
import {
  createOutboundFetch,
  DEFAULT_OUTBOUND,
  DEFAULT_WEB_PUSH_HOSTS,
  nonPublicAddress,
  type OutboundPolicy,
  OutboundRefusedError,
  outboundUrlRefusal,
} from '../../src/ops/outbound.js'
import { createWebPushSender, generateVapidKeys } from '../../src/push/senders/webpush.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'

/**
 * The server's own requests go only where they belong: Web Push endpoints are https: URLs of the
 * browser push services at public addresses, checked again after DNS at each send; sync trigger
 * URLs hold to the same address rules; the development switch lifts them.
 */

const NON_PUBLIC: ReadonlyArray<readonly [string, RegExp]> = [
  ['127.0.0.1', /loopback/],
  ['127.255.0.9', /loopback/],
  ['::1', /loopback/],
  ['169.254.169.254', /link-local/],
  ['fe80::1', /link-local/],
  ['10.1.2.3', /private/],
  ['172.16.0.1', /private/],
  ['172.31.255.255', /private/],
  ['192.168.1.1', /private/],
  ['100.100.100.200', /private/],
  ['fd00:ec2::254', /private/],
  ['fc00::1', /private/],
  ['0.0.0.0', /reserved/],
  ['255.255.255.255', /reserved/],
  ['224.0.0.1', /reserved/],
  ['198.18.0.1', /reserved/],
  ['::', /reserved/],
  ['ff02::1', /reserved/],
  ['2001:db8::1', /reserved/],
  // The same addresses in IPv6 clothing.
  ['::ffff:127.0.0.1', /loopback/],
  ['::ffff:a9fe:a9fe', /link-local/],
  ['64:ff9b::a00:1', /private/],
  ['64:ff9b::169.254.169.254', /link-local/],
  ['2002:7f00:1::', /loopback/],
  ['2002:c0a8:101::1', /private/],
  ['not an address', /not an IP/],
]
const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '142.250.74.106',
  '2606:4700:4700::1111',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
]

describe('nonPublicAddress', () => {
  it.each(NON_PUBLIC)('refuses %s', (address, why) => {
    expect(nonPublicAddress(address)).toMatch(why)
  })

  it.each(PUBLIC)('lets %s through', (address) => {
    expect(nonPublicAddress(address)).toBeUndefined()
  })

  it('judges an IPv4 address and its IPv4-mapped and NAT64 forms alike', () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number)
        const hex = (x: number, y: number) => ((x << 8) | y).toString(16)
        const verdict = nonPublicAddress(address) === undefined
        expect(nonPublicAddress(`::ffff:${address}`) === undefined).toBe(verdict)
        expect(nonPublicAddress(`::ffff:${hex(a, b)}:${hex(c, d)}`) === undefined).toBe(verdict)
        expect(nonPublicAddress(`64:ff9b::${hex(a, b)}:${hex(c, d)}`) === undefined).toBe(verdict)
      }),
    )
  })

  it('refuses every address of the private, loopback and link-local ranges', () => {
    const octet = fc.integer({ min: 0, max: 255 })
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.constant(10), octet, octet, octet),
          fc.tuple(fc.constant(127), octet, octet, octet),
          fc.tuple(fc.constant(169), fc.constant(254), octet, octet),
          fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), octet, octet),
          fc.tuple(fc.constant(192), fc.constant(168), octet, octet),
        ),
        (parts) => {
          expect(nonPublicAddress(parts.join('.'))).toBeDefined()
        },
      ),
    )
  })
})

describe('outboundUrlRefusal', () => {
  const webPush = (url: string, policy: OutboundPolicy = DEFAULT_OUTBOUND) =>
    outboundUrlRefusal(url, policy, { hosts: policy.webPushHosts })

  it('takes the browser push services by default', () => {
    for (const url of [
      'https://fcm.googleapis.com/fcm/send/abc',
      'https://updates.push.services.mozilla.com/wpush/v2/abc',
      'https://web.push.apple.com/QGuQ',
      'https://wns2-by3p.notify.windows.com/w/?token=abc',
      'https://FCM.googleapis.com/fcm/send/abc',
    ])
      expect(webPush(url), url).toBeUndefined()
  })

  it.each([
    ['https://push.example.com/x', /not an allowed push service/],
    ['https://push.apple.com.evil.example/x', /not an allowed push service/],
    ['https://notify.windows.com/x', /not an allowed push service/],
    ['http://fcm.googleapis.com/fcm/send/x', /scheme http:/],
    ['file:///etc/passwd', /scheme file:/],
    ['https://fcm.googleapis.com:8443/x', /port 8443/],
    ['https://user:secret@fcm.googleapis.com/x', /credentials/],
    ['https://127.0.0.1/x', /loopback/],
    ['https://[::1]/x', /loopback/],
    ['https://169.254.169.254/latest/meta-data/', /link-local/],
    ['https://localhost/x', /local host name/],
    ['https://metadata.google.internal/x', /local host name/],
    ['https://printer/x', /local host name/],
    ['not a url', /not a URL/],
  ])('refuses %s as a Web Push endpoint', (url, why) => {
    expect(webPush(url)).toMatch(why)
  })

  it('takes any public host with *, and still no private address', () => {
    const anyHost = { ...DEFAULT_OUTBOUND, webPushHosts: ['*'] }
    expect(webPush('https://push.example.com/x', anyHost)).toBeUndefined()
    expect(webPush('https://10.0.0.1/x', anyHost)).toMatch(/private/)
    expect(webPush('https://[fd00:ec2::254]/x', anyHost)).toMatch(/private/)
  })

  it('takes anything but other schemes under the development switch', () => {
    const local = { allowPrivateNetworks: true, webPushHosts: DEFAULT_WEB_PUSH_HOSTS }
    expect(webPush('http://127.0.0.1:9999/push', local)).toBeUndefined()
    expect(webPush('file:///etc/passwd', local)).toMatch(/scheme/)
  })
})

/** A server on 127.0.0.1 that counts the connections it gets. */
async function listeningTarget(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => response.writeHead(201).end())
  })
  server.on('connection', () => count++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, connections: () => count }
}

/** Name resolution that answers `addresses` for every name. */
const resolvingTo =
  (...addresses: string[]) =>
  (
    _host: string,
    _options: { all: true },
    callback: (error: NodeJS.ErrnoException | null, found: LookupAddress[]) => void,
  ) =>
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    )

describe('createOutboundFetch', () => {
  let target: Awaited<ReturnType<typeof listeningTarget>>
  beforeAll(async () => {
    target = await listeningTarget()
  })
  afterAll(async () => {
    target.server.closeAllConnections()
    await new Promise<void>((resolve) => target.server.close(() => resolve()))
  })

  // http: so that the local target can answer; the address rules are what is under test.
  const anyHost: OutboundPolicy = { allowPrivateNetworks: false, webPushHosts: ['*'] }

  it.each([['127.0.0.1'], ['169.254.169.254'], ['10.0.0.5'], ['::ffff:127.0.0.1']])(
    'refuses a name that resolves to %s, without connecting',
    async (address) => {
      const before = target.connections()
      const send = createOutboundFetch(anyHost, { resolve: resolvingTo(address) })
      await expect(
        send(`http://push.example.com:${target.port}/x`, { method: 'POST', body: 'x' }),
      ).rejects.toBeInstanceOf(OutboundRefusedError)
      expect(target.connections()).toBe(before)
    },
  )

  it('refuses a name whose addresses are public and private alike', async () => {
    const send = createOutboundFetch(anyHost, { resolve: resolvingTo('8.8.8.8', '127.0.0.1') })
    await expect(send(`http://push.example.com:${target.port}/x`, { method: 'POST' })).rejects.toThrow(
      /resolves to 127\.0\.0\.1, a loopback address/,
    )
  })

  it('connects under the development switch', async () => {
    const send = createOutboundFetch(
      { allowPrivateNetworks: true, webPushHosts: ['*'] },
      { resolve: resolvingTo('127.0.0.1') },
    )
    const response = await send(`http://push.example.com:${target.port}/x`, { method: 'POST', body: 'x' })
    expect(response.status).toBe(201)
  })

  it('keeps a Web Push sender from sending to a name that now resolves to a private address', async () => {
    const ecdh = createECDH('prime256v1')
    ecdh.generateKeys()
    const token = JSON.stringify({
      endpoint: 'https://fcm.googleapis.com/fcm/send/rebound',
      keys: {
        p256dh: ecdh.getPublicKey().toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
      },
    })
    const before = target.connections()
    const sender = createWebPushSender({
      vapid: { subject: 'mailto:ops@example.com', ...generateVapidKeys() },
      fetch: createOutboundFetch(DEFAULT_OUTBOUND, { resolve: resolvingTo('169.254.169.254') }),
    })
    const outcome = await sender.send({
      deviceId: 'd',
      platform: 'WEBPUSH',
      token,
      identityPoolId: 'us-east-1:00000000-0000-4000-8000-000000000000',
      identityId: 'us-east-1:00000000-0000-4000-8000-000000000001',
      datasetName: 'ds',
      syncCount: 1,
    })
    expect(outcome).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/link-local/) })
    expect(target.connections()).toBe(before)
  })
})

describe('the sync trigger URL', () => {
  const ADMIN = { accessKeyId: 'AKIDOUTBOUND00000001', secretAccessKey: 'outbound-secret' }
  const POOL = 'us-east-1:0b0b0000-0000-4000-8000-0000000000aa'
  let server: SyncServer
  let url: string
  beforeAll(async () => {
    server = await createSyncServer({ db: ':memory:', adminKeys: [ADMIN], tokenSecret: 'outbound' })
    url = (await server.listen(0)).url
  })
  afterAll(async () => {
    await server.close()
  })

  const setTrigger = async (trigger: string) => {
    const target = new URL(`/identitypools/${encodeURIComponent(POOL)}/events`, url)
    const body = JSON.stringify({ Events: { SyncTrigger: trigger } })
    const signed = await new SignatureV4({
      service: 'cognito-sync',
      region: 'us-east-1',
      credentials: ADMIN,
      sha256: Sha256,
    }).sign(
      new HttpRequest({
        method: 'POST',
        hostname: target.hostname,
        port: Number(target.port),
        path: target.pathname,
        headers: { host: target.host, 'content-type': 'application/json' },
        body,
      }),
    )
    const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'))
    return fetch(target, { method: 'POST', headers, body })
  }

  it.each([
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://127.0.0.1:8080/trigger',
    'http://[::1]/trigger',
    'http://10.0.0.8/trigger',
    'http://localhost/trigger',
    'http://metadata.google.internal/computeMetadata/v1/',
  ])('refuses %s with InvalidParameterException', async (trigger) => {
    const response = await setTrigger(trigger)
    expect(response.status).toBe(400)
    expect(response.headers.get('x-amzn-errortype')).toBe('InvalidParameterException')
  })

  it('takes a public one', async () => {
    expect((await setTrigger('https://trigger.example.com/sync')).status).toBe(200)
  })
})
