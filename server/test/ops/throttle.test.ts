import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  CognitoIdentityClient,
  GetIdCommand,
  TooManyRequestsException as IdentityTooManyRequests,
} from '@aws-sdk/client-cognito-identity'
import {
  CognitoSyncClient,
  ListIdentityPoolUsageCommand,
  ListRecordsCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-cognito-sync'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { addressKey, clientAddress } from '../../src/ops/client-address.js'
import { createTokenBuckets, DEFAULT_THROTTLE, type ThrottleOptions } from '../../src/ops/throttle.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import type { SyncStore } from '../../src/store/contract.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { identityCall } from '../helpers/guest.js'
import { parseExposition } from '../helpers/prometheus.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * Token buckets answered with Cognito's TooManyRequestsException: guest GetId per client address,
 * requests per identity; refilled by the server's clock, bounded in memory.
 */

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const ADMIN = { accessKeyId: 'AKIDTHROTTLEADMIN001', secretAccessKey: 'throttle-admin-secret' }
const LOGIN_SECRET = 'throttle-tests-login-secret'
const T0 = Date.now()

describe('token buckets', () => {
  it('let a burst through, then refuse with the wait until the next token, and refill at the rate', () => {
    const buckets = createTokenBuckets({ rate: 2, burst: 3 }, 10)
    expect([0, 0, 0].map(() => buckets.take('a', T0))).toEqual([0, 0, 0])
    expect(buckets.take('a', T0)).toBe(500)
    // Half a token after 250 ms: still 250 ms to go.
    expect(buckets.take('a', T0 + 250)).toBe(250)
    expect(buckets.take('a', T0 + 500)).toBe(0)
    expect(buckets.take('a', T0 + 500)).toBe(500)
    // Never more than the burst, however long it rested.
    const rested = [0, 1, 2, 3].map(() => buckets.take('a', T0 + 3_600_000))
    expect(rested).toEqual([0, 0, 0, 500])
    // Another key has a bucket of its own.
    expect(buckets.take('b', T0)).toBe(0)
  })

  it('refill nothing when the clock steps back', () => {
    const buckets = createTokenBuckets({ rate: 1, burst: 1 }, 10)
    expect(buckets.take('a', T0)).toBe(0)
    expect(buckets.take('a', T0 - 60_000)).toBe(1000)
    expect(buckets.take('a', T0 - 59_000)).toBe(0)
  })

  it('stay at their cap however many keys come, forgetting the least recently used', () => {
    const buckets = createTokenBuckets({ rate: 0.001, burst: 1 }, 1000)
    expect(buckets.take('regular', T0)).toBe(0)
    for (let i = 0; i < 100_000; i++) {
      buckets.take(`198.51.${(i >> 8) & 255}.${i & 255}/${i}`, T0)
      // A key in use is never the least recently used one: it keeps its (empty) bucket.
      if (i % 500 === 0) expect(buckets.take('regular', T0)).toBeGreaterThan(0)
      expect(buckets.size).toBeLessThanOrEqual(1000)
    }
    expect(buckets.size).toBe(1000)
    // The first keys were forgotten: they start again with a full bucket.
    expect(buckets.take('198.51.0.0/0', T0)).toBe(0)
  })

  it('refuse settings that make no bucket', () => {
    expect(() => createTokenBuckets({ rate: 0, burst: 1 }, 10)).toThrow(/rate/)
    expect(() => createTokenBuckets({ rate: 1, burst: 0.5 }, 10)).toThrow(/burst/)
    expect(() => createTokenBuckets({ rate: 1, burst: 1 }, 0)).toThrow(/maxKeys/)
  })
})

describe('client addresses', () => {
  const forwarded = new Headers({ 'x-forwarded-for': '203.0.113.9, 198.51.100.7' })

  it('are the socket’s peer unless the proxy is trusted, then the last X-Forwarded-For entry', () => {
    expect(clientAddress(forwarded, '10.0.0.2', false)).toBe('10.0.0.2')
    expect(clientAddress(forwarded, '10.0.0.2', true)).toBe('198.51.100.7')
    expect(clientAddress(new Headers({ 'x-forwarded-for': 'not an address' }), '10.0.0.2', true)).toBe(
      '10.0.0.2',
    )
    expect(clientAddress(new Headers(), '10.0.0.2', true)).toBe('10.0.0.2')
  })

  it('key IPv4 as it is and IPv6 by its /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1')
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(addressKey('2001:db8:aa:bb:1::1')).toBe('2001:db8:aa:bb::/64')
    expect(addressKey('2001:0DB8:00aa:00bb:ffff:ffff:ffff:ffff')).toBe('2001:db8:aa:bb::/64')
    expect(addressKey('2001:db8:aa:bc::1')).toBe('2001:db8:aa:bc::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressKey(undefined)).toBe('unknown')
  })
})

/** A store that counts the transactions asked of it: a refused request must not make any. */
function countingStore(): { store: SyncStore; count(): number } {
  const inner = createMemoryStore()
  let transactions = 0
  return {
    store: {
      kind: inner.kind,
      close: () => inner.close(),
      readiness: () => inner.readiness(),
      transaction: (fn, options) => {
        transactions++
        return inner.transaction(fn, options)
      },
    },
    count: () => transactions,
  }
}

let server: SyncServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function throttledServer(throttle: ThrottleOptions, extra: { trustProxy?: boolean } = {}) {
  const clock = { time: T0 }
  const counted = countingStore()
  server = await createSyncServer({
    db: counted.store,
    allowUnauthenticated: true,
    adminKeys: [ADMIN],
    tokenSecret: 'throttle-tests',
    logins: [{ provider: 'login.example.com', secret: LOGIN_SECRET }],
    throttle,
    metrics: { processMetrics: false },
    now: () => clock.time,
    ...extra,
  })
  const { url } = await server.listen(0)
  return { url, clock, transactions: counted.count, server }
}

const guestGetId = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/`, {
    method: 'POST',
    headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId', ...headers },
    body: JSON.stringify({ IdentityPoolId: POOL }),
  })

async function expectThrottled(response: Response, retryAfter: string) {
  expect(response.status).toBe(429)
  expect(response.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException')
  expect(response.headers.get('retry-after')).toBe(retryAfter)
  expect(await response.json()).toEqual({ __type: 'TooManyRequestsException', message: 'Rate exceeded' })
}

describe('guest GetId, per client address', () => {
  it('refuses a burst past the bucket, before any store work, through the AWS SDK too; refills with the clock', async () => {
    const { url, clock, transactions } = await throttledServer({ guestGetId: { rate: 0.5, burst: 2 } })
    const identity = new CognitoIdentityClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1 })
    for (let i = 0; i < 2; i++) await identity.send(new GetIdCommand({ IdentityPoolId: POOL }))
    const before = transactions()
    await expect(identity.send(new GetIdCommand({ IdentityPoolId: POOL }))).rejects.toBeInstanceOf(
      IdentityTooManyRequests,
    )
    await expectThrottled(await guestGetId(url), '2')
    // `Logins: {}` is a guest too.
    const emptyLogins = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
      body: JSON.stringify({ IdentityPoolId: POOL, Logins: {} }),
    })
    expect(emptyLogins.status).toBe(429)
    expect(transactions()).toBe(before)

    // A signed-in user is no guest: the empty bucket does not apply.
    const login = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(Math.floor(T0 / 1000))
      .setExpirationTime(Math.floor(T0 / 1000) + 300)
      .sign(new TextEncoder().encode(LOGIN_SECRET))
    await identity.send(new GetIdCommand({ IdentityPoolId: POOL, Logins: { 'login.example.com': login } }))

    clock.time += 1999
    await expectThrottled(await guestGetId(url), '1')
    clock.time += 1
    expect((await guestGetId(url)).status).toBe(200)
    expect((await guestGetId(url)).status).toBe(429)
  })

  it('keys on the socket’s address unless the proxy is trusted, then on X-Forwarded-For', async () => {
    const direct = await throttledServer({ guestGetId: { rate: 0.5, burst: 1 } })
    expect((await guestGetId(direct.url, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200)
    // A client cannot pick a fresh address by sending the header.
    expect((await guestGetId(direct.url, { 'x-forwarded-for': '203.0.113.2' })).status).toBe(429)
    await server?.close()

    const proxied = await throttledServer({ guestGetId: { rate: 0.5, burst: 1 } }, { trustProxy: true })
    expect((await guestGetId(proxied.url, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200)
    expect((await guestGetId(proxied.url, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(429)
    // What the client wrote before the proxy's own entry is not read.
    expect((await guestGetId(proxied.url, { 'x-forwarded-for': '198.51.100.1, 203.0.113.1' })).status).toBe(
      429,
    )
    expect((await guestGetId(proxied.url, { 'x-forwarded-for': '203.0.113.2' })).status).toBe(200)
    // One /64 is one client.
    expect((await guestGetId(proxied.url, { 'x-forwarded-for': '2001:db8::1' })).status).toBe(200)
    expect((await guestGetId(proxied.url, { 'x-forwarded-for': '2001:db8::2' })).status).toBe(429)
  })

  it('remembers at most maxKeys addresses, however many rotate through', async () => {
    const { server: running } = await throttledServer(
      { guestGetId: { rate: 0.001, burst: 1 }, maxKeys: 100 },
      { trustProxy: true },
    )
    for (let i = 0; i < 300; i++) {
      const response = await running.fetch(
        new Request('http://pushsync.test/', {
          method: 'POST',
          headers: {
            'x-amz-target': 'AWSCognitoIdentityService.GetId',
            'x-forwarded-for': `198.51.100.${i % 256}`,
          },
          body: JSON.stringify({ IdentityPoolId: POOL }),
        }),
      )
      // The first 256 are new addresses; then the first ones come back, long forgotten.
      expect(response.status).toBe(200)
    }
    const scraped = parseExposition(
      (await (await running.metrics?.fetch(new Request('http://metrics.test/metrics')))?.text()) ?? '',
    )
    expect(scraped.value('pushsync_throttle_keys', { bucket: 'guestGetId' })).toBe(100)
  })
})

describe('requests per identity', () => {
  it('refuses a burst past the bucket with the SDK’s TooManyRequestsException, per identity; refills with the clock', async () => {
    const {
      url,
      clock,
      transactions,
      server: running,
    } = await throttledServer({
      identity: { rate: 2, burst: 3 },
    })
    const signIn = async () => {
      const { IdentityId } = await identityCall(url, 'GetId', { IdentityPoolId: POOL })
      const { Credentials } = (await identityCall(url, 'GetCredentialsForIdentity', { IdentityId })) as {
        Credentials: { AccessKeyId: string; SecretKey: string; SessionToken: string }
      }
      const sync = new CognitoSyncClient({
        region: 'us-east-1',
        endpoint: url,
        maxAttempts: 1,
        credentials: {
          accessKeyId: Credentials.AccessKeyId,
          secretAccessKey: Credentials.SecretKey,
          sessionToken: Credentials.SessionToken,
        },
      })
      const identityId = String(IdentityId)
      return {
        list: () =>
          sync.send(
            new ListRecordsCommand({ IdentityPoolId: POOL, IdentityId: identityId, DatasetName: 'd' }),
          ),
        bearer: (token = Credentials.SessionToken) =>
          fetch(
            `${url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(identityId)}/datasets`,
            { headers: { authorization: `Bearer ${token}` } },
          ),
      }
    }
    const first = await signIn()
    const second = await signIn()
    for (let i = 0; i < 3; i++) await first.list()
    const before = transactions()
    await expect(first.list()).rejects.toBeInstanceOf(TooManyRequestsException)
    await expectThrottled(await first.bearer(), '1')
    expect(transactions()).toBe(before)
    // Another identity has a bucket of its own; developer credentials are not throttled.
    await second.list()
    const admin = new CognitoSyncClient({
      region: 'us-east-1',
      endpoint: url,
      credentials: ADMIN,
      maxAttempts: 1,
    })
    for (let i = 0; i < 5; i++) await admin.send(new ListIdentityPoolUsageCommand({}))
    // Credentials that do not verify are refused as such, and take nothing from the bucket.
    expect((await first.bearer('not-a-token')).status).toBe(403)

    clock.time += 500
    await first.list()
    await expect(first.list()).rejects.toBeInstanceOf(TooManyRequestsException)

    const scraped = parseExposition(
      (await (await running.metrics?.fetch(new Request('http://metrics.test/metrics')))?.text()) ?? '',
    )
    expect(scraped.value('pushsync_throttled_total', { bucket: 'identity' })).toBe(3)
    expect(scraped.value('pushsync_http_requests_total', { operation: 'ListRecords', status: '429' })).toBe(2)
  })
})

describe('defaults', () => {
  it('are the figures the operations page gives', () => {
    expect(DEFAULT_THROTTLE).toEqual({
      guestGetId: { rate: 0.2, burst: 30 },
      identity: { rate: 10, burst: 100 },
      maxKeys: 100_000,
    })
    const page = readFileSync(
      fileURLToPath(new URL('../../../docs/server/operations.md', import.meta.url)),
      'utf8',
    )
    const row = (bucket: string) => page.split('\n').find((line) => line.startsWith(`| \`${bucket}\``)) ?? ''
    expect(row('guestGetId')).toContain('burst 30, then 0.2 a second')
    expect(row('identity')).toContain('burst 100, then 10 a second')
    expect(page).toContain('| both ')
    expect(page).toMatch(/\| both .*\| 100000 /)
  })
})
