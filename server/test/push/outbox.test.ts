import { createECDH, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterAll, describe, expect, it } from 'vitest'
import { Sha256 } from '../../src/auth/sigv4.js'
import type { PushMessage, PushSender, SendOutcome } from '../../src/push/sender.js'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../../src/server.js'
import type { DevicePlatform } from '../../src/store/contract.js'
import { type Identity, signInAsGuest } from '../helpers/guest.js'

const POOL = 'us-east-1:0b0c0000-0000-4000-8000-0000000000aa'
const ADMIN = { accessKeyId: 'AKIDOUTBOXTEST000001', secretAccessKey: 'outbox-secret' }
/** How long a test watches for a push that must not come. */
const QUIET_MS = 200

const dir = mkdtempSync(join(tmpdir(), 'pushsync-outbox-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A PushSender test double: records every message and answers what `respond` says. */
function recordingSender(
  respond: (message: PushMessage) => SendOutcome | Promise<SendOutcome> = () => ({ kind: 'delivered' }),
  platforms: readonly DevicePlatform[] = ['GCM'],
) {
  const sent: PushMessage[] = []
  const sender: PushSender = {
    platforms,
    async send(message) {
      sent.push(message)
      return respond(message)
    },
  }
  return { sender, sent }
}

interface Running {
  readonly server: SyncServer
  readonly url: string
}

async function start(options: SyncServerOptions): Promise<Running> {
  const server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    adminKeys: [ADMIN],
    tokenSecret: 'outbox',
    ...options,
  })
  return { server, url: (await server.listen(0)).url }
}

const enc = encodeURIComponent

const newIdentity = (url: string): Promise<Identity> => signInAsGuest(url, POOL)

const identityUrl = (who: Identity) =>
  `${who.url}/identitypools/${enc(POOL)}/identities/${enc(who.identityId)}`
const datasetUrl = (who: Identity, dataset: string) => `${identityUrl(who)}/datasets/${dataset}`

async function call(who: Identity, method: string, url: string, body?: object): Promise<Response> {
  return fetch(url, {
    method,
    headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

async function registerDevice(
  who: Identity,
  token: string,
  platform: DevicePlatform = 'GCM',
): Promise<string> {
  const response = await call(
    who,
    'POST',
    `${who.url}/identitypools/${enc(POOL)}/identity/${enc(who.identityId)}/device`,
    { Platform: platform, Token: token },
  )
  expect(response.status).toBe(200)
  return ((await response.json()) as { DeviceId: string }).DeviceId
}

async function subscribe(who: Identity, dataset: string, deviceId: string): Promise<void> {
  const response = await call(who, 'POST', `${datasetUrl(who, dataset)}/subscriptions/${enc(deviceId)}`)
  expect(response.status).toBe(200)
}

/** One UpdateRecords as a client makes it: ListRecords for a SyncSessionToken, then the write. */
async function write(
  who: Identity,
  dataset: string,
  key: string,
  { deviceId, syncCount }: { deviceId?: string; syncCount?: number } = {},
): Promise<Response> {
  const listing = await call(who, 'GET', `${datasetUrl(who, dataset)}/records`)
  expect(listing.status).toBe(200)
  const { SyncSessionToken, Records } = (await listing.json()) as {
    SyncSessionToken: string
    Records: { Key: string; SyncCount: number }[]
  }
  const current = Records.find((record) => record.Key === key)?.SyncCount ?? 0
  return call(who, 'POST', datasetUrl(who, dataset), {
    SyncSessionToken,
    RecordPatches: [{ Op: 'replace', Key: key, Value: `v${Date.now()}`, SyncCount: syncCount ?? current }],
    ...(deviceId === undefined ? {} : { DeviceId: deviceId }),
  })
}

async function accepted(response: Promise<Response>): Promise<void> {
  expect((await response).status).toBe(200)
}

async function adminGet(url: string, path: string): Promise<Response> {
  const target = new URL(path, url)
  const signer = new SignatureV4({
    service: 'cognito-sync',
    region: 'us-east-1',
    credentials: ADMIN,
    sha256: Sha256,
  })
  const signed = await signer.sign(
    new HttpRequest({
      method: 'GET',
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      headers: { host: target.host },
    }),
  )
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'))
  return fetch(target, { method: 'GET', headers })
}

/** A browser's PushSubscription JSON, at Chrome's push service. */
const webPushSubscription = () => {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  return JSON.stringify({
    endpoint: 'https://fcm.googleapis.com/fcm/send/outbox-test',
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  })
}

const pushes = (sent: readonly PushMessage[]) => sent.map((m) => [m.deviceId, m.datasetName, m.syncCount])

/**
 * A writer with device `origin` and two more devices of the same identity (`other`, and `web` on a
 * platform no sender handles), all subscribed to `notes`, which holds one record.
 */
async function devices(url: string) {
  const who = await newIdentity(url)
  await accepted(write(who, 'notes', 'first'))
  const origin = await registerDevice(who, 'origin-token')
  const other = await registerDevice(who, 'other-token')
  const web = await registerDevice(who, webPushSubscription(), 'WEBPUSH')
  for (const deviceId of [origin, other, web]) await subscribe(who, 'notes', deviceId)
  return { who, origin, other, web }
}

describe('push outbox through the server', () => {
  it('pushes each change once to every subscribed device but the writer’s, and nothing elsewhere', async () => {
    const { sender, sent } = recordingSender()
    const { server, url } = await start({ pushSenders: [sender] })
    try {
      const { who, origin, other } = await devices(url)
      const stranger = await newIdentity(url)
      await accepted(write(stranger, 'notes', 'k'))
      await subscribe(stranger, 'notes', await registerDevice(stranger, 'stranger-token'))

      await accepted(write(who, 'notes', 'k', { deviceId: origin }))
      await expect.poll(() => pushes(sent)).toEqual([[other, 'notes', 2]])
      await accepted(write(who, 'notes', 'k', { deviceId: origin }))
      await expect
        .poll(() => pushes(sent))
        .toEqual([
          [other, 'notes', 2],
          [other, 'notes', 3],
        ])
      expect(sent[0]).toEqual({
        deviceId: other,
        platform: 'GCM',
        token: 'other-token',
        identityPoolId: POOL,
        identityId: who.identityId,
        datasetName: 'notes',
        syncCount: 2,
      })
      // A write without a DeviceId reaches the writer's device too.
      await accepted(write(who, 'notes', 'k'))
      await expect.poll(() => sent.length).toBe(4)
      expect(pushes(sent.slice(2)).sort()).toEqual(
        [
          [origin, 'notes', 4],
          [other, 'notes', 4],
        ].sort(),
      )
      await sleep(QUIET_MS)
      expect(sent).toHaveLength(4)
      expect(await server.store.transaction((tx) => tx.countOutbox())).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('pushes to the writer’s own device too with echoToOrigin', async () => {
    const { sender, sent } = recordingSender()
    const { server, url } = await start({ pushSenders: [sender], push: { echoToOrigin: true } })
    try {
      const { who, origin, other } = await devices(url)
      await accepted(write(who, 'notes', 'k', { deviceId: origin }))
      await expect
        .poll(() => pushes(sent).sort())
        .toEqual(
          [
            [origin, 'notes', 2],
            [other, 'notes', 2],
          ].sort(),
        )
    } finally {
      await server.close()
    }
  })

  it('coalesces the changes made while a push is in flight into one push of the latest', async () => {
    let release = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const { sender, sent } = recordingSender(async () => {
      await gate
      return { kind: 'delivered' }
    })
    const { server, url } = await start({ pushSenders: [sender] })
    try {
      const { who, origin, other } = await devices(url)
      // The first push (2) is held; the next four changes (3 to 6) land on one outbox row.
      for (let i = 0; i < 5; i++) await accepted(write(who, 'notes', 'k', { deviceId: origin }))
      expect(pushes(sent)).toEqual([[other, 'notes', 2]])
      expect(await server.store.transaction((tx) => tx.countOutbox())).toBe(1)
      release()
      await expect
        .poll(() => pushes(sent))
        .toEqual([
          [other, 'notes', 2],
          [other, 'notes', 6],
        ])
      await sleep(QUIET_MS)
      expect(sent).toHaveLength(2)
    } finally {
      release()
      await server.close()
    }
  })

  it('queues nothing for a refused UpdateRecords (409)', async () => {
    const { sender, sent } = recordingSender()
    const { server, url } = await start({ pushSenders: [sender] })
    try {
      const { who, origin } = await devices(url)
      const conflict = await write(who, 'notes', 'first', { deviceId: origin, syncCount: 0 })
      expect(conflict.status).toBe(409)
      await sleep(QUIET_MS)
      expect(sent).toEqual([])
      expect(await server.store.transaction((tx) => tx.countOutbox())).toBe(0)
      expect(await (await adminGet(url, '/pushsync/stats')).json()).toEqual({
        delivered: 0,
        retried: 0,
        dropped: 0,
        gone: 0,
        pending: 0,
      })
    } finally {
      await server.close()
    }
  })

  it('removes a device whose registration is gone, with its subscriptions', async () => {
    const { sender, sent } = recordingSender((m) =>
      m.token === 'other-token' ? { kind: 'gone', reason: 'NotRegistered' } : { kind: 'delivered' },
    )
    const { server, url } = await start({ pushSenders: [sender] })
    try {
      const { who, other } = await devices(url)
      await accepted(write(who, 'notes', 'k'))
      await expect.poll(() => sent.length).toBe(2)
      await expect.poll(() => server.store.transaction((tx) => tx.getDevice(other))).toBeUndefined()
      const subscribed = await server.store.transaction((tx) =>
        tx.listSubscribedDevices(who.identityId, 'notes'),
      )
      expect(subscribed.map((device) => device.deviceId)).not.toContain(other)
      expect(subscribed).toHaveLength(2)
      // The device is unknown now: subscribing it again is refused.
      const again = await call(who, 'POST', `${datasetUrl(who, 'notes')}/subscriptions/${enc(other)}`)
      expect(again.status).toBe(404)
    } finally {
      await server.close()
    }
  })

  it('delivers after a restart a push committed before the server went down', async () => {
    const path = join(dir, 'restart.db')
    // The first run's provider is unreachable: the push stays in the outbox.
    const down = recordingSender(() => ({ kind: 'retry', reason: 'ECONNREFUSED', retryAfterMs: 60_000 }))
    const first = await start({ db: path, pushSenders: [down.sender] })
    const { who, origin, other } = await devices(first.url)
    await accepted(write(who, 'notes', 'k', { deviceId: origin }))
    await expect.poll(() => down.sent.length).toBe(1)
    await first.server.close()

    // The next run starts later, when the retry is due.
    const up = recordingSender()
    const second = await start({ db: path, pushSenders: [up.sender], now: () => Date.now() + 120_000 })
    try {
      await expect.poll(() => pushes(up.sent)).toEqual([[other, 'notes', 2]])
      expect(up.sent[0]?.token).toBe('other-token')
      await expect
        .poll(async () => (await adminGet(second.url, '/pushsync/stats')).json())
        .toEqual({ delivered: 1, retried: 0, dropped: 0, gone: 0, pending: 0 })
    } finally {
      await second.server.close()
    }
  })

  it('keeps the outbox across a run without senders, and queues nothing in it', async () => {
    const path = join(dir, 'no-senders.db')
    const first = await start({
      db: path,
      pushSenders: [recordingSender(() => ({ kind: 'retry', reason: 'x' })).sender],
    })
    const { who, origin } = await devices(first.url)
    await accepted(write(who, 'notes', 'k', { deviceId: origin }))
    await expect
      .poll(() => first.server.store.transaction((tx) => tx.dueOutbox(Number.MAX_SAFE_INTEGER, 10)))
      .toMatchObject([{ attempts: 1 }])
    await first.server.close()

    const second = await start({ db: path, now: () => Date.now() + 120_000 })
    try {
      await accepted(write({ ...who, url: second.url }, 'notes', 'k', { deviceId: origin }))
      await sleep(QUIET_MS)
      expect(
        await second.server.store.transaction((tx) => tx.dueOutbox(Number.MAX_SAFE_INTEGER, 10)),
      ).toMatchObject([{ syncCount: 2, attempts: 1 }])
    } finally {
      await second.server.close()
    }
  })

  it('reports delivery counters on /pushsync/stats, to developer credentials only', async () => {
    const { sender, sent } = recordingSender((m) =>
      m.syncCount === 2 ? { kind: 'failed', reason: 'InvalidRegistration' } : { kind: 'delivered' },
    )
    const { server, url } = await start({ pushSenders: [sender] })
    try {
      const { who, origin } = await devices(url)
      await accepted(write(who, 'notes', 'k', { deviceId: origin }))
      await expect.poll(() => sent.length).toBe(1)
      await accepted(write(who, 'notes', 'k', { deviceId: origin }))
      await expect.poll(() => sent.length).toBe(2)
      await expect
        .poll(async () => (await adminGet(url, '/pushsync/stats')).json())
        .toEqual({ delivered: 1, retried: 0, dropped: 1, gone: 0, pending: 0 })

      const asIdentity = await call(who, 'GET', `${url}/pushsync/stats`)
      expect(asIdentity.status).toBe(403)
      expect(asIdentity.headers.get('x-amzn-ErrorType')).toBe('NotAuthorizedException')
      const anonymous = await fetch(`${url}/pushsync/stats`)
      expect(anonymous.status).toBeGreaterThanOrEqual(400)
      expect(anonymous.status).toBeLessThan(500)
    } finally {
      await server.close()
    }
  })
})
