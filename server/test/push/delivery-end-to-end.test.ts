import { createECDH, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadSettings } from '../../src/config/load.js'
import { planServer } from '../../src/config/server-options.js'
import { generateVapidKeys } from '../../src/push/senders/webpush.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import { signInAsGuest } from '../helpers/guest.js'

const POOL = 'us-east-1:7e570000-0000-4000-8000-00000000e2e0'
const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() }

/** A push service that records what it is sent (the payload's encryption is checked in webpush.test.ts). */
let pushService: Server
let received: Array<{ path: string; headers: IncomingMessage['headers'] }> = []
let pushEndpoint = ''
let server: SyncServer
let url = ''

beforeAll(async () => {
  pushService = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers })
      response.writeHead(201).end()
    })
  })
  await new Promise<void>((resolve) => pushService.listen(0, '127.0.0.1', resolve))
  const address = pushService.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  pushEndpoint = `http://127.0.0.1:${address.port}`
  server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    tokenSecret: 'delivery',
    webPush: { vapid, allowInsecureEndpoints: true },
  })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
  await new Promise((resolve) => pushService?.close(resolve))
})

async function call(path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers)
  if (init.token !== undefined) headers.set('authorization', `Bearer ${init.token}`)
  if (init.body !== undefined) headers.set('content-type', 'application/json')
  const response = await fetch(`${url}${path}`, { ...init, headers })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

async function signIn() {
  const { identityId, token } = await signInAsGuest(url, POOL)
  return { id: identityId, token }
}

function subscription(path: string): string {
  const keys = createECDH('prime256v1')
  keys.generateKeys()
  return JSON.stringify({
    endpoint: `${pushEndpoint}${path}`,
    keys: { p256dh: keys.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  })
}

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
}

describe('push delivery through the whole server', () => {
  it('serves the VAPID public key browsers subscribe with', async () => {
    expect(await call('/pushsync/vapid-public-key')).toEqual({
      status: 200,
      json: { publicKey: vapid.publicKey },
    })
  })

  it('pushes a change to the other subscribed device, and not to the device that wrote it', async () => {
    received = []
    const { id, token } = await signIn()
    const base = `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(id)}`
    const register = async (path: string) =>
      String(
        (
          await call(`/identitypools/${encodeURIComponent(POOL)}/identity/${encodeURIComponent(id)}/device`, {
            method: 'POST',
            token,
            body: JSON.stringify({ Platform: 'WEBPUSH', Token: subscription(path) }),
          })
        ).json.DeviceId,
      )
    const phone = await register('/phone')
    const laptop = await register('/laptop')
    const write = async (deviceId: string, value: string, syncCount: number) => {
      const listing = await call(`${base}/datasets/settings/records`, { token })
      const written = await call(`${base}/datasets/settings`, {
        method: 'POST',
        token,
        body: JSON.stringify({
          SyncSessionToken: listing.json.SyncSessionToken,
          DeviceId: deviceId,
          RecordPatches: [{ Op: 'replace', Key: 'theme', Value: value, SyncCount: syncCount }],
        }),
      })
      expect(written.status).toBe(200)
    }
    await write(phone, 'dark', 0)
    for (const device of [phone, laptop]) {
      const subscribed = await call(`${base}/datasets/settings/subscriptions/${device}`, {
        method: 'POST',
        token,
      })
      expect(subscribed.status).toBe(200)
    }

    await write(phone, 'light', 1)
    await waitFor(() => received.length > 0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(received.map((push) => push.path)).toEqual(['/laptop'])
    expect(received[0]?.headers['content-encoding']).toBe('aes128gcm')
    expect(received[0]?.headers.authorization).toMatch(/^vapid t=.+, k=/)

    const stats = await call('/pushsync/stats', { token })
    expect(stats.status).toBe(403)
  })
})

describe('push configuration from the environment', () => {
  const plan = (env: Record<string, string>) => {
    const settings = loadSettings([], env)
    if (settings === 'help') throw new Error('no settings')
    return planServer(settings).options
  }

  it('reads Web Push keys and refuses half-configured platforms', () => {
    expect(plan({}).webPush).toBeUndefined()
    expect(
      plan({
        PUSHSYNC_VAPID_SUBJECT: vapid.subject,
        PUSHSYNC_VAPID_PUBLIC_KEY: vapid.publicKey,
        PUSHSYNC_VAPID_PRIVATE_KEY: vapid.privateKey,
      }).webPush,
    ).toEqual({ vapid })
    expect(() => plan({ PUSHSYNC_VAPID_SUBJECT: vapid.subject })).toThrow(/Web Push is half configured/)
    expect(() => plan({ PUSHSYNC_APNS_KEY_ID: 'ABC123DEFG' })).toThrow(/APNs is half configured/)
  })
})
