/**
 * The WebSocket channel (`.../socket`) on a real server and real sockets: the upgrade is
 * authenticated like a request, messages run as the HTTP operations, events are the SSE stream's.
 */
import { createHash, randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { MAX_UNSENT_EVENT_BYTES } from '../../src/http/events.js'
import { MAX_IN_FLIGHT } from '../../src/http/socket.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { gatedStore } from '../helpers/gated-store.js'
import { type Identity, signInAsGuest } from '../helpers/guest.js'
import {
  bearerProtocol,
  call,
  identityPathIn,
  messageId,
  openSocket as openSocketAt,
  type SocketTarget,
  socketUrl as socketUrlAt,
  until,
} from '../helpers/socket.js'

const POOL = 'us-east-1:5e5e0000-0000-4000-8000-0000000000ac'
const WAIT_MS = 5000
const enc = encodeURIComponent

interface Running {
  readonly server: SyncServer
  readonly url: string
  readonly port: number
}

async function start(
  options: { bodyLimit?: number; sseHeartbeatMs?: number; metrics?: { processMetrics: boolean } } = {},
): Promise<Running> {
  const server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    tokenSecret: 'socket-tests',
    ...options,
  })
  const { url, port } = await server.listen(0)
  return { server, url, port }
}

const identityPath = (who: Identity, identityId = who.identityId) => identityPathIn(POOL, identityId)
const socketUrl = (who: Identity, target: Omit<SocketTarget, 'pool'> = {}) =>
  socketUrlAt(who, { pool: POOL, ...target })
const openSocket = (who: Identity, target: Omit<SocketTarget, 'pool'> = {}) =>
  openSocketAt(who, { pool: POOL, ...target })

/** An upgrade the server refuses: its status and JSON body, and that it never opened. */
function refusedUpgrade(
  url: string,
  protocols: string[] = [],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; opened: boolean }> {
  return new Promise((resolve, reject) => {
    let opened = false
    const ws = new WebSocket(url, protocols, { headers })
    ws.on('open', () => {
      opened = true
      ws.close()
      reject(new Error('the upgrade was accepted'))
    })
    ws.on('error', () => {})
    ws.on('unexpected-response', (_request, response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => {
        text += String(chunk)
      })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text), opened }))
    })
  })
}

/** A write over HTTP, as another device makes it. */
async function put(who: Identity, dataset: string, key: string, deviceId?: string): Promise<void> {
  const datasetUrl = `${who.url}${identityPath(who)}/datasets/${dataset}`
  const headers = { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' }
  const listing = await fetch(`${datasetUrl}/records`, { headers })
  const { SyncSessionToken } = (await listing.json()) as { SyncSessionToken: string }
  const response = await fetch(datasetUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      SyncSessionToken,
      RecordPatches: [{ Op: 'replace', Key: key, Value: 'v', SyncCount: 0 }],
      ...(deviceId === undefined ? {} : { DeviceId: deviceId }),
    }),
  })
  expect(response.status).toBe(200)
}

describe('the socket upgrade', () => {
  let running: Running
  beforeAll(async () => {
    running = await start()
  })
  afterAll(async () => {
    await running?.server.close()
  })

  it('is refused without a token, as an HTTP request would be, and nothing is upgraded', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const refused = await refusedUpgrade(socketUrl(who), ['pushsync.v1'])
    expect(refused).toMatchObject({ status: 403, opened: false })
    expect(refused.body).toMatchObject({ __type: 'NotAuthorizedException', message: expect.any(String) })
    const http = await fetch(`${running.url}${identityPath(who)}/datasets`)
    expect(http.status).toBe(refused.status)
    expect((await http.json()).__type).toBe(refused.body.__type)
  })

  it('is refused with a bad token and on another identity’s path', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const other = await signInAsGuest(running.url, POOL)
    const bad = await refusedUpgrade(socketUrl(who), ['pushsync.v1', bearerProtocol('not-a-token')])
    expect(bad).toMatchObject({ status: 403, body: { __type: 'NotAuthorizedException' } })
    const elsewhere = await refusedUpgrade(socketUrl(who, { identityId: other.identityId }), [
      'pushsync.v1',
      bearerProtocol(who.token),
    ])
    expect(elsewhere).toMatchObject({ status: 403, body: { __type: 'NotAuthorizedException' } })
    // The same token on the identity's own path is upgraded.
    const { ws } = await openSocket(who)
    expect(ws.protocol).toBe('pushsync.v1')
    ws.close()
  })

  it('answers 404 for an upgrade of a path that is not a socket', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const refused = await refusedUpgrade(`${running.url.replace(/^http/, 'ws')}${identityPath(who)}/events`, [
      'pushsync.v1',
      bearerProtocol(who.token),
    ])
    expect(refused.status).toBe(404)
  })

  it('takes the token from an Authorization header, and then names no subprotocol', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const ws = new WebSocket(socketUrl(who), { headers: { authorization: `Bearer ${who.token}` } })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    expect(ws.protocol).toBe('')
    ws.close()
  })

  it('refuses a plain GET of the socket path', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const response = await fetch(`${running.url}${identityPath(who)}/socket`, {
      headers: { authorization: `Bearer ${who.token}` },
    })
    expect(response.status).toBe(400)
    expect((await response.json()).__type).toBe('InvalidParameterException')
  })
})

describe('messages', () => {
  let running: Running
  beforeAll(async () => {
    running = await start({ bodyLimit: 4096 })
  })
  afterAll(async () => {
    await running?.server.close()
  })

  it('run as the HTTP operations, with their statuses and bodies', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const socket = await openSocket(who)
    const listing = await call(socket, 'GET', `${identityPath(who)}/datasets/notes/records?lastSyncCount=0`)
    expect(listing.status).toBe(200)
    const { SyncSessionToken } = JSON.parse(listing.body)
    const written = await call(socket, 'POST', `${identityPath(who)}/datasets/notes`, {
      SyncSessionToken,
      RecordPatches: [{ Op: 'replace', Key: 'k', Value: 'v', SyncCount: 0 }],
    })
    expect(written.status).toBe(200)
    expect(JSON.parse(written.body).Records).toEqual([expect.objectContaining({ Key: 'k', SyncCount: 1 })])
    const missing = await call(socket, 'GET', `${identityPath(who)}/datasets/nothing`)
    expect(missing.status).toBe(404)
    expect(JSON.parse(missing.body).__type).toBe('ResourceNotFoundException')
    socket.ws.close()
  })

  it('answers 403 for a path outside the socket’s identity, however it is spelled', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const other = await signInAsGuest(running.url, POOL)
    const socket = await openSocket(who)
    for (const path of [
      `${identityPath(other)}/datasets`,
      `${identityPath(who)}/../../identities/${enc(other.identityId)}/datasets`,
      '/identitypools',
      `/identitypools/${enc(POOL)}/identity/${enc(who.identityId)}/device`,
      '//elsewhere.example/identitypools',
    ]) {
      const answer = await call(socket, 'GET', path)
      expect(answer.status, path).toBe(403)
      expect(JSON.parse(answer.body).__type).toBe('NotAuthorizedException')
    }
    socket.ws.close()
  })

  it('answers a path that is no operation at once, the event stream’s included, and holds nothing for it', async () => {
    const metered = await start({ metrics: { processMetrics: false } })
    const channels = async () => {
      const gauge = metered.server.metrics?.registry.getSingleMetric('pushsync_sse_streams')
      return (await gauge?.get())?.values[0]?.value ?? -1
    }
    try {
      const who = await signInAsGuest(metered.url, POOL)
      const socket = await openSocket(who)
      expect(await channels()).toBe(1)
      for (const [path, type] of [
        [`${identityPath(who)}/events`, 'InvalidParameterException'],
        [`${identityPath(who)}/socket`, 'InvalidParameterException'],
        [`${identityPath(who)}/nothing`, 'UnknownOperationException'],
      ] as const) {
        const answer = await call(socket, 'GET', path)
        expect(answer.status, path).toBe(400)
        expect(JSON.parse(answer.body).__type, path).toBe(type)
      }
      // The socket is still the only live channel: no event stream was opened inside it.
      expect(await channels()).toBe(1)
      socket.ws.close()
    } finally {
      await metered.server.close()
    }
  })

  it('answers 429 past MAX_IN_FLIGHT operations at once', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const socket = await openSocket(who)
    const count = MAX_IN_FLIGHT + 8
    const first = messageId() + 1
    // One write to the wire, so the server reads them all before answering any.
    const raw = (socket.ws as unknown as { _socket: Socket })._socket
    raw.cork()
    for (let i = 0; i < count; i++) {
      socket.ws.send(
        JSON.stringify({ id: messageId(), method: 'GET', path: `${identityPath(who)}/datasets` }),
      )
    }
    raw.uncork()
    await until(() => socket.received.answers.size === count)
    const statuses = [...socket.received.answers.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, answer]) => answer.status)
    expect(statuses.slice(0, MAX_IN_FLIGHT)).toEqual(Array(MAX_IN_FLIGHT).fill(200))
    expect(statuses.slice(MAX_IN_FLIGHT)).toEqual(Array(8).fill(429))
    const refused = socket.received.answers.get(first + MAX_IN_FLIGHT)
    expect(JSON.parse(refused?.body ?? '{}').__type).toBe('TooManyRequestsException')
    expect(refused?.retryAfter).toBe('1')
    socket.ws.close()
  })

  it('closes the socket with 1008 on a malformed message or one without its fields', async () => {
    const who = await signInAsGuest(running.url, POOL)
    for (const text of [
      'not json',
      '[]',
      JSON.stringify({ method: 'GET', path: `${identityPath(who)}/datasets` }),
      JSON.stringify({ id: 0, method: 'GET', path: `${identityPath(who)}/datasets` }),
      JSON.stringify({ id: 1, method: 'PUT', path: `${identityPath(who)}/datasets` }),
      JSON.stringify({ id: 1, method: 'GET' }),
      JSON.stringify({ id: 1, method: 'POST', path: `${identityPath(who)}/datasets/x`, body: 'text' }),
    ]) {
      const socket = await openSocket(who)
      socket.ws.send(text)
      expect(await socket.closed, text).toBe(1008)
    }
  })

  it('closes the socket on a message larger than the body limit allows', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const socket = await openSocket(who)
    const huge = 'x'.repeat(4096 + 128 * 1024)
    socket.ws.send(
      JSON.stringify({ id: 1, method: 'POST', path: `${identityPath(who)}/datasets/d`, body: { huge } }),
    )
    expect(await socket.closed).toBe(1009)
    // Within the body limit's reach the server's own limit answers, as over HTTP.
    const fits = await openSocket(who)
    const answer = await call(fits, 'POST', `${identityPath(who)}/datasets/d`, { huge: 'x'.repeat(8192) })
    expect(answer.status).toBe(413)
    fits.ws.close()
  })
})

describe('events', () => {
  let running: Running
  beforeAll(async () => {
    running = await start()
  })
  afterAll(async () => {
    await running?.server.close()
  })

  it('open with each dataset’s count, then carry the changes of other devices only', async () => {
    const who = await signInAsGuest(running.url, POOL)
    const other = await signInAsGuest(running.url, POOL)
    await put(who, 'alpha', 'k')
    await put(who, 'beta', 'k')
    await put(who, 'beta', 'l')
    const mine = await openSocket(who, { deviceId: 'A' })
    const theirs = await openSocket(other, { deviceId: 'B' })
    await until(() => mine.received.events.length === 2)
    expect(mine.received.events).toEqual([
      {
        event: 'sync',
        data: {
          source: 'cognito-sync',
          identityPoolId: POOL,
          identityId: who.identityId,
          datasetName: 'alpha',
          syncCount: 1,
        },
      },
      {
        event: 'sync',
        data: {
          source: 'cognito-sync',
          identityPoolId: POOL,
          identityId: who.identityId,
          datasetName: 'beta',
          syncCount: 2,
        },
      },
    ])
    // Its own write (DeviceId A) is not sent back; another device's is, with what it wrote.
    await put(who, 'alpha', 'm', 'A')
    await put(who, 'alpha', 'n', 'B')
    await until(() => mine.received.events.length === 3)
    expect(mine.received.events[2]).toMatchObject({
      event: 'sync',
      data: {
        datasetName: 'alpha',
        syncCount: 3,
        changes: { after: 2, records: [expect.objectContaining({ Key: 'n', SyncCount: 3 })] },
      },
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(mine.received.events).toHaveLength(3)
    expect(theirs.received.events).toEqual([])
    mine.ws.close()
    theirs.ws.close()
  })

  it('carry a change committed while the socket opened, right after the opening events', async () => {
    const gated = gatedStore(createMemoryStore())
    const server = await createSyncServer({
      db: gated.store,
      allowUnauthenticated: true,
      tokenSecret: 'socket-tests',
    })
    try {
      const { url } = await server.listen(0)
      const who = await signInAsGuest(url, POOL)
      await put(who, 'notes', 'a')
      const gate = gated.arm()
      const socket = await openSocket(who, { deviceId: 'A' })
      // The socket has read the datasets (count 1) and is about to send them: a write lands now.
      await gate.reached
      await put(who, 'notes', 'b', 'B')
      gate.release()
      await until(() => socket.received.events.length === 2)
      expect(socket.received.events.map((event) => [event.data.datasetName, event.data.syncCount])).toEqual([
        ['notes', 1],
        ['notes', 2],
      ])
      socket.ws.close()
    } finally {
      await server.close()
    }
  })

  it('lets go of a client that stops reading once more than 1 MiB waits for it', async () => {
    const metered = await start({ metrics: { processMetrics: false } })
    const streams = async () => {
      const gauge = metered.server.metrics?.registry.getSingleMetric('pushsync_sse_streams')
      return (await gauge?.get())?.values[0]?.value ?? -1
    }
    try {
      const who = await signInAsGuest(metered.url, POOL)
      const raw = await rawUpgrade(metered.port, `${identityPath(who)}/socket`, who.token)
      // From here on the client reads nothing.
      raw.socket.pause()
      const closed = new Promise((resolve) => raw.socket.once('close', resolve))
      const writer = await openSocket(who)
      expect(await streams()).toBe(2)
      // Each change carries its 16,000 characters in its event.
      const value = 'x'.repeat(16_000)
      const path = `${identityPath(who)}/datasets/big`
      let token = JSON.parse(
        (await call(writer, 'GET', `${path}/records?lastSyncCount=0`)).body,
      ).SyncSessionToken
      let written = 0
      while (written < 4096 && (written % 16 !== 0 || (await streams()) === 2)) {
        const answer = await call(writer, 'POST', path, {
          SyncSessionToken: token,
          RecordPatches: [{ Op: 'replace', Key: 'k', Value: value, SyncCount: written }],
        })
        expect(answer.status).toBe(200)
        token = JSON.parse(answer.body).SyncSessionToken
        written++
        // The writer hears of its own writes (it sent no DeviceId); the test keeps none of them.
        writer.received.events.length = 0
      }
      // Let go: the server holds nothing more for it, and the writer's socket stays.
      expect(await streams()).toBe(1)
      expect(writer.ws.readyState).toBe(WebSocket.OPEN)
      raw.socket.resume()
      await closed
      // At the cap plus what the kernel's socket buffers took, not after everything was written.
      expect(written * 16_000).toBeLessThan(MAX_UNSENT_EVENT_BYTES + 16 * 1024 * 1024)
      writer.ws.close()
    } finally {
      await metered.server.close()
    }
  })
})

describe('the socket’s lifetime', () => {
  it('terminates a socket that does not answer the heartbeat’s ping', async () => {
    const running = await start({ sseHeartbeatMs: 50 })
    try {
      const who = await signInAsGuest(running.url, POOL)
      const raw = await rawUpgrade(running.port, `${identityPath(who)}/socket`, who.token)
      const pongs = await openSocket(who)
      const closedAt = await new Promise<number>((resolve) =>
        raw.socket.once('close', () => resolve(Date.now())),
      )
      expect(closedAt - raw.openedAt).toBeLessThan(WAIT_MS)
      // A client that answers pings (ws does) stays.
      expect(pongs.ws.readyState).toBe(WebSocket.OPEN)
      pongs.ws.close()
    } finally {
      await running.server.close()
    }
  })

  it('counts toward the connection cap like any connection', async () => {
    // Signed in elsewhere (same secret), so no kept-alive HTTP connection takes a place under the cap.
    const issuer = await start()
    const capped = await createSyncServer({ db: ':memory:', tokenSecret: 'socket-tests', maxConnections: 2 })
    try {
      const { url } = await capped.listen(0)
      const who = { ...(await signInAsGuest(issuer.url, POOL)), url }
      const first = await openSocket(who)
      await openSocket(who)
      const third = await new Promise<string>((resolve) => {
        const ws = new WebSocket(socketUrl(who), ['pushsync.v1', bearerProtocol(who.token)])
        ws.once('open', () => resolve('open'))
        ws.once('error', (error) => resolve(error.message))
      })
      expect(third).not.toBe('open')
      first.ws.close()
      await first.closed
      // The server sees the close a moment after the client does.
      await new Promise((resolve) => setTimeout(resolve, 100))
      const again = await openSocket(who)
      expect(again.ws.readyState).toBe(WebSocket.OPEN)
    } finally {
      await capped.close()
      await issuer.server.close()
    }
  })

  it('closes every socket with 1001 when the server closes, promptly', async () => {
    const running = await start()
    const who = await signInAsGuest(running.url, POOL)
    const sockets = await Promise.all([openSocket(who), openSocket(who, { deviceId: 'B' })])
    const started = Date.now()
    await running.server.close()
    expect(await Promise.all(sockets.map((socket) => socket.closed))).toEqual([1001, 1001])
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

/** A WebSocket handshake on a bare TCP socket, which then neither reads nor answers pings. */
async function rawUpgrade(
  port: number,
  path: string,
  token: string,
): Promise<{ socket: Socket; openedAt: number }> {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const key = randomBytes(16).toString('base64')
  socket.write(
    [
      `GET ${path} HTTP/1.1`,
      'host: 127.0.0.1',
      'upgrade: websocket',
      'connection: Upgrade',
      `sec-websocket-key: ${key}`,
      'sec-websocket-version: 13',
      `sec-websocket-protocol: pushsync.v1, ${bearerProtocol(token)}`,
      '',
      '',
    ].join('\r\n'),
  )
  const head = await new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(String(chunk))))
  expect(head).toMatch(/^HTTP\/1\.1 101/)
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
  expect(head).toContain(accept)
  return { socket, openedAt: Date.now() }
}
