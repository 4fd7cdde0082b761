import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws'
import { createMemoryStorage } from '../../../adapters/storage/memory/index.js'
import { createHttpTransport, type FetchLike } from '../../../adapters/transport/http/index.js'
import {
  createWebSocketTransport,
  type WebSocketConstructor,
  type WebSocketTransport,
  type WebSocketTransportOptions,
} from '../../../adapters/transport/websocket/index.js'
import { createSyncServer } from '../../../server/src/server.js'
import type { PushSink } from '../../../src/contracts/push-source.js'
import { createSyncManager, isSyncError } from '../../../src/index.js'
import { runTransportConformance } from '../../../src/testing/index.js'
import { closedUrl, newIdentity, POOL, type RunningSyncServer, startSyncServer } from './sync-server.js'

/** A sink that records what the source relays, and resolves `connected` on the first connect. */
function recordingSink(deviceId = 'device-under-test') {
  const payloads: unknown[] = []
  const errors: Error[] = []
  let connects = 0
  let connected!: () => void
  const first = new Promise<void>((resolve) => {
    connected = resolve
  })
  const sink: PushSink = {
    deviceId,
    onPayload: (payload) => void payloads.push(payload),
    onError: (error) => void errors.push(error),
    onConnected: () => {
      connects++
      connected()
    },
  }
  return {
    sink,
    payloads,
    errors,
    get connects() {
      return connects
    },
    connected: first,
  }
}

/** `ws`'s WebSocket, its sockets kept and the text messages they send counted. */
function countingWebSocket(afterSend?: (socket: NodeWebSocket, text: string) => void) {
  const sockets: NodeWebSocket[] = []
  const sent: string[] = []
  class Counting extends NodeWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
    }
    override send(data: unknown, ...rest: unknown[]): void {
      ;(NodeWebSocket.prototype.send as (...args: unknown[]) => void).call(this, data, ...rest)
      if (typeof data !== 'string') return
      sent.push(data)
      afterSend?.(this, data)
    }
  }
  return { WebSocket: Counting as unknown as WebSocketConstructor, sockets, sent }
}

/** A fetch that counts the requests it makes and passes them on to the global one. */
function countingFetch() {
  const urls: string[] = []
  const fetch: FetchLike = (url, init) => {
    urls.push(`${init.method} ${url}`)
    return globalThis.fetch(url, init)
  }
  return { fetch, urls }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

// The WebSocket class Node 20 lacks comes from `ws`; the type fits without a cast.
const WebSocket: WebSocketConstructor = NodeWebSocket

describe('with the socket open', () => {
  let server: RunningSyncServer
  const stops: Array<() => void> = []
  const opened: WebSocketTransport[] = []
  runTransportConformance({
    name: 'websocket, socket open',
    async setup() {
      server = await startSyncServer()
      const nowhere = await closedUrl()
      return {
        async connect() {
          const { identityId, sessionToken } = await newIdentity(server.url)
          const options = {
            endpoint: server.url,
            identityPoolId: POOL,
            getToken: () => sessionToken,
            WebSocket,
          }
          // Only RegisterDevice (a path outside `identities/`) may use HTTP: every other call must
          // travel over the open socket, so one that does not fails the suite.
          const socketOnly: FetchLike = (target, init) =>
            target.includes('/identity/')
              ? globalThis.fetch(target, init)
              : Promise.reject(new Error(`${init.method} ${target} went over HTTP`))
          const transport = createWebSocketTransport({ ...options, identityId, fetch: socketOnly })
          const sink = recordingSink()
          stops.push(transport.pushSource.start(sink.sink))
          await sink.connected
          opened.push(transport)
          return {
            transport,
            actingAs: (other) => {
              const intruder = createWebSocketTransport({ ...options, identityId: other })
              stops.push(intruder.pushSource.start(recordingSink().sink))
              return intruder
            },
            unreachable: () => {
              const down = createWebSocketTransport({ ...options, endpoint: nowhere, identityId })
              stops.push(down.pushSource.start(recordingSink().sink))
              return down
            },
          }
        },
      }
    },
    async teardown() {
      for (const stop of stops) stop()
      await server?.close()
    },
  })
})

describe('with the socket never opened', () => {
  let server: RunningSyncServer
  runTransportConformance({
    name: 'websocket, HTTP fallback',
    async setup() {
      server = await startSyncServer()
      const nowhere = await closedUrl()
      return {
        async connect() {
          const { identityId, sessionToken } = await newIdentity(server.url)
          const options = {
            endpoint: server.url,
            identityPoolId: POOL,
            getToken: () => sessionToken,
            WebSocket,
          }
          return {
            transport: createWebSocketTransport({ ...options, identityId }),
            actingAs: (other) => createWebSocketTransport({ ...options, identityId: other }),
            unreachable: () => createWebSocketTransport({ ...options, endpoint: nowhere, identityId }),
          }
        },
      }
    },
    teardown: async () => server?.close(),
  })
})

describe('createWebSocketTransport', () => {
  let server: RunningSyncServer
  beforeAll(async () => {
    server = await startSyncServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  async function openTransport(extra: Partial<WebSocketTransportOptions> = {}) {
    const { identityId, sessionToken } = await newIdentity(server.url)
    const counting = countingWebSocket()
    const fetched = countingFetch()
    const options: WebSocketTransportOptions = {
      endpoint: server.url,
      identityPoolId: POOL,
      identityId,
      getToken: () => sessionToken,
      WebSocket: counting.WebSocket,
      fetch: fetched.fetch,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
      ...extra,
    }
    const transport = createWebSocketTransport(options)
    const sink = recordingSink()
    const stop = transport.pushSource.start(sink.sink)
    await sink.connected
    return { transport, sink, stop, counting, fetched, identityId, sessionToken, options }
  }

  it('names itself transport:websocket and its source push:websocket', () => {
    const transport = createWebSocketTransport({
      endpoint: 'http://127.0.0.1:1',
      identityPoolId: POOL,
      identityId: 'us-east-1:11111111-2222-3333-4444-555555555555',
      getToken: () => 't',
      WebSocket,
    })
    expect(transport.name).toBe('transport:websocket')
    expect(transport.pushSource.name).toBe('push:websocket')
  })

  it('refuses to be created without a WebSocket class, saying how to pass one', () => {
    expect(typeof (globalThis as { WebSocket?: unknown }).WebSocket).toBe('undefined')
    let thrown: unknown
    try {
      createWebSocketTransport({
        endpoint: 'http://127.0.0.1:1',
        identityPoolId: POOL,
        identityId: 'us-east-1:11111111-2222-3333-4444-555555555555',
        getToken: () => 't',
      })
    } catch (error) {
      thrown = error
    }
    expect(isSyncError(thrown, 'INVALID_ARGUMENT')).toBe(true)
    expect(String((thrown as Error).message)).toMatch(/WebSocket.*ws/)
  })

  it('sends the calls over the socket while it is open, and none over HTTP', async () => {
    const { transport, stop, counting, fetched } = await openTransport()
    try {
      const page = await transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 })
      expect(page.ok).toBe(true)
      expect(await transport.listDatasets()).toEqual({ ok: true, value: [] })
      expect(counting.sent.map((text) => JSON.parse(text).method)).toEqual(['GET', 'GET'])
      expect(fetched.urls).toEqual([])
    } finally {
      stop()
    }
  })

  it('fails a call in flight as offline when the socket dies, and the engine’s retry loses nothing', async () => {
    const { transport, stop, counting } = await openTransport()
    try {
      // The socket dies under a call: its answer can no longer come.
      const running = transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 })
      counting.sockets[0]?.terminate()
      expect(await running).toMatchObject({ ok: false, failure: { kind: 'offline' } })
    } finally {
      stop()
    }

    // A device whose socket dies right after its UpdateRecords left: the server may have applied
    // it, but the answer is lost.
    const { identityId, sessionToken } = await newIdentity(server.url)
    const counting2 = countingWebSocket((socket, text) => {
      if (text.includes('"POST"') && kill.armed) {
        kill.armed = false
        socket.terminate()
      }
    })
    const kill = { armed: false }
    const options = {
      endpoint: server.url,
      identityPoolId: POOL,
      identityId,
      getToken: () => sessionToken,
      WebSocket: counting2.WebSocket,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    }
    const phone = createWebSocketTransport(options)
    const manager = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: phone,
    })
    manager.addPushSource(phone.pushSource)
    await until(() => counting2.sockets[0]?.readyState === 1)
    const ds = await manager.openOrCreateDataset('notes')
    await ds.put('a', '1')
    kill.armed = true
    const first = await ds.synchronize().then(
      () => 'synced',
      (error: unknown) => (isSyncError(error, 'TRANSPORT_OFFLINE') ? 'offline' : String(error)),
    )
    expect(kill.armed).toBe(false)
    expect(['synced', 'offline']).toContain(first)
    await until(() => counting2.sockets.some((socket) => socket.readyState === 1))
    await ds.synchronize()
    expect(ds.getStatus().pendingChanges).toBe(0)

    const laptop = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport(options),
    })
    const theirs = await laptop.openOrCreateDataset('notes')
    await theirs.synchronize()
    expect({ ...(await theirs.getAll()) }).toEqual({ a: '1' })
    expect(await theirs.getLastSyncCount()).toBe(await ds.getLastSyncCount())
    await Promise.all([manager.close(), laptop.close()])
  })

  it('resolves an aborted call at once as offline with the reason, and ignores the late answer', async () => {
    const { transport, stop, counting } = await openTransport()
    try {
      const controller = new AbortController()
      const running = transport.listDatasets(controller.signal)
      const reason = new Error('the user left')
      controller.abort(reason)
      expect(await running).toMatchObject({ ok: false, failure: { kind: 'offline', cause: reason } })
      // The answer arrives later and changes nothing; the socket keeps working.
      expect(await transport.listDatasets()).toEqual({ ok: true, value: [] })
      expect(counting.sent).toHaveLength(2)
    } finally {
      stop()
    }
  })

  it('reads 403, 404, 409 and 429 answers into the same failures as the HTTP transport', async () => {
    // One fake server answers both transports, so the two read the very same answers.
    const answers: Record<string, { status: number; body: object; retryAfter?: string }> = {
      forbidden: { status: 403, body: { __type: 'NotAuthorizedException', message: 'no' } },
      missing: { status: 404, body: { __type: 'ResourceNotFoundException', message: 'gone' } },
      conflict: { status: 409, body: { __type: 'ResourceConflictException', message: 'stale' } },
      busy: {
        status: 429,
        body: { __type: 'TooManyRequestsException', message: 'slow down' },
        retryAfter: '2',
      },
    }
    const fake = await fakeSocketServer((path) => answers[path.split('/').at(-1) ?? ''])
    try {
      const options = {
        endpoint: fake.url,
        identityPoolId: POOL,
        identityId: 'us-east-1:11111111-2222-3333-4444-555555555555',
        getToken: () => 'token',
      }
      const overHttp = createHttpTransport({ ...options, fetch: fake.fetch })
      const overSocket = createWebSocketTransport({ ...options, fetch: fake.fetch, WebSocket })
      const sink = recordingSink()
      const stop = overSocket.pushSource.start(sink.sink)
      await sink.connected
      try {
        for (const name of ['missing', 'conflict', 'busy']) {
          const before = fake.socketMessages
          const viaSocket = await overSocket.describeDataset(name)
          expect(fake.socketMessages).toBe(before + 1)
          const viaHttp = await overHttp.describeDataset(name)
          expect(viaSocket.ok).toBe(false)
          expect(viaSocket).toEqual(viaHttp)
        }
        expect(await overSocket.describeDataset('busy')).toMatchObject({
          ok: false,
          failure: { kind: 'throttled', retryAfterMs: 2000 },
        })
        // A refusal of the socket's token is asked again over HTTP (with a token asked for anew),
        // and ends as the HTTP transport's.
        const before = { socket: fake.socketMessages, http: fake.httpRequests }
        const forbidden = await overSocket.describeDataset('forbidden')
        expect(fake.socketMessages).toBe(before.socket + 1)
        expect(fake.httpRequests).toBe(before.http + 1)
        expect(forbidden).toEqual(await overHttp.describeDataset('forbidden'))
        expect(forbidden).toMatchObject({ ok: false, failure: { kind: 'auth' } })
      } finally {
        stop()
      }
    } finally {
      await fake.close()
    }
  })

  it('sends a call the socket’s expired token got refused over HTTP with a fresh token, and reconnects', async () => {
    let clock = Date.now()
    const expiring = await createSyncServer({
      db: ':memory:',
      allowUnauthenticated: true,
      tokenSecret: 'websocket-expiry',
      now: () => clock,
    })
    try {
      const { url } = await expiring.listen(0)
      const { identityId, sessionToken } = await newIdentity(url)
      let token = sessionToken
      const counting = countingWebSocket()
      const fetched = countingFetch()
      const transport = createWebSocketTransport({
        endpoint: url,
        identityPoolId: POOL,
        identityId,
        getToken: () => token,
        WebSocket: counting.WebSocket,
        fetch: fetched.fetch,
        reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
      })
      const sink = recordingSink()
      const stop = transport.pushSource.start(sink.sink)
      try {
        await sink.connected
        expect(await transport.listDatasets()).toEqual({ ok: true, value: [] })
        expect(fetched.urls).toEqual([])
        // Two hours later the socket's token has expired; the app holds a fresh one.
        clock += 2 * 60 * 60 * 1000
        token = await freshToken(url, identityId)
        expect(await transport.listDatasets()).toEqual({ ok: true, value: [] })
        expect(counting.sent).toHaveLength(2)
        expect(fetched.urls).toHaveLength(1)
        // The socket comes back with the fresh token and carries the calls again.
        await until(() => sink.connects === 2)
        expect(await transport.listDatasets()).toEqual({ ok: true, value: [] })
        expect(counting.sent).toHaveLength(3)
        expect(fetched.urls).toHaveLength(1)
      } finally {
        stop()
      }
    } finally {
      await expiring.close()
    }
  })

  it('opens the socket with the bearer token as a subprotocol and the device id in the query', async () => {
    const { stop, counting, sessionToken } = await openTransport({ deviceId: () => 'phone-1' })
    try {
      const socket = counting.sockets[0]
      expect(socket?.protocol).toBe('pushsync.v1')
      expect(socket?.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/identitypools\/.+\/socket\?deviceId=phone-1$/)
      expect(sessionToken.length).toBeGreaterThan(0)
    } finally {
      stop()
    }
  })

  it('relays the opening counts and the changes of other devices, not the device’s own', async () => {
    const { transport, sink, stop, identityId, sessionToken } = await openTransport({ deviceId: 'mine' })
    try {
      const writer = createWebSocketTransport({
        endpoint: server.url,
        identityPoolId: POOL,
        identityId,
        getToken: () => sessionToken,
        WebSocket,
      })
      const write = async (deviceId: string | undefined, key: string) => {
        const page = await writer.listRecords({ datasetName: 'live', lastSyncCount: 0 })
        if (!page.ok) throw new Error(page.failure.message)
        const answer = await writer.updateRecords({
          datasetName: 'live',
          syncSessionToken: page.value.syncSessionToken,
          ...(deviceId === undefined ? {} : { deviceId }),
          patches: [{ op: 'replace', key, value: 'v', syncCount: 0, deviceLastModifiedDate: 1 }],
        })
        if (!answer.ok) throw new Error(answer.failure.message)
      }
      await write(undefined, 'a')
      await until(() => sink.payloads.length === 1)
      expect(sink.payloads[0]).toMatchObject({ datasetName: 'live', syncCount: 1, identityId })
      expect(typeof sink.payloads[0]).toBe('object')
      expect(transport.identityId).toBe(identityId)
    } finally {
      stop()
    }
  })
})

/** New credentials of an existing identity, from the server's Cognito Identity endpoint. */
async function freshToken(url: string, identityId: string): Promise<string> {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AWSCognitoIdentityService.GetCredentialsForIdentity',
    },
    body: JSON.stringify({ IdentityId: identityId }),
  })
  const { Credentials } = (await response.json()) as { Credentials: { SessionToken: string } }
  return Credentials.SessionToken
}

/**
 * A stand-in for pushsync-server that answers each dataset path with a fixed answer, over HTTP and
 * over its socket alike.
 */
async function fakeSocketServer(
  answerFor: (path: string) => { status: number; body: object; retryAfter?: string } | undefined,
) {
  const { createServer } = await import('node:http')
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'pushsync.v1' })
  let socketMessages = 0
  let httpRequests = 0
  const http = createServer((request, response) => {
    httpRequests++
    const path = new URL(request.url ?? '/', 'http://fake').pathname
    const answer = answerFor(path) ?? { status: 200, body: {} }
    response.writeHead(answer.status, {
      'content-type': 'application/json',
      ...(answer.retryAfter === undefined ? {} : { 'retry-after': answer.retryAfter }),
    })
    response.end(JSON.stringify(answer.body))
  })
  http.on('upgrade', (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('message', (data) => {
        socketMessages++
        const { id, path } = JSON.parse(String(data)) as { id: number; path: string }
        const answer = answerFor(new URL(path, 'http://fake').pathname) ?? { status: 200, body: {} }
        ws.send(
          JSON.stringify({
            id,
            status: answer.status,
            body: JSON.stringify(answer.body),
            ...(answer.retryAfter === undefined ? {} : { retryAfter: answer.retryAfter }),
          }),
        )
      })
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const address = http.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    fetch: ((url, init) => globalThis.fetch(url, init)) as FetchLike,
    get socketMessages() {
      return socketMessages
    },
    get httpRequests() {
      return httpRequests
    },
    async close() {
      for (const client of wss.clients) client.terminate()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
