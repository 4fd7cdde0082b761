/**
 * The SSE push source against a small event-stream server on a local socket: the real global fetch,
 * a real streamed body, real disconnects.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createSsePushSource, type SsePushSourceOptions } from '../../../adapters/push/sse/index.js'
import type { PushSink } from '../../../src/contracts/index.js'
import type { SyncError } from '../../../src/errors.js'

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const IDENTITY = 'us-east-1:11111111-2222-4333-8444-555555555555'
const EVENTS_PATH = `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(IDENTITY)}/events`

interface Connection {
  readonly request: IncomingMessage
  readonly response: ServerResponse
  readonly at: number
}

/** An event-stream server whose every answer the test writes; it records each request. */
class SseServer {
  readonly connections: Connection[] = []
  handler: (connection: Connection) => void = ({ response }) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    response.flushHeaders()
  }
  readonly #server: Server
  #waiters: Array<() => void> = []

  constructor() {
    this.#server = createServer((request, response) => {
      const connection = { request, response, at: performance.now() }
      this.connections.push(connection)
      this.handler(connection)
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  /** Resolves once `count` requests have arrived. */
  async connected(count: number): Promise<Connection> {
    while (this.connections.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve))
    return this.connections[count - 1] as Connection
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}

/** A sink that records what the source relays. */
function recordingSink(deviceId = 'device-1') {
  const payloads: unknown[] = []
  const errors: SyncError[] = []
  let connects = 0
  const sink: PushSink = {
    deviceId,
    onPayload: (payload) => void payloads.push(payload),
    onError: (error) => void errors.push(error),
    onConnected: () => void connects++,
  }
  return {
    sink,
    payloads,
    errors,
    get connects() {
      return connects
    },
  }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const syncEvent = (dataset: string, count: number) =>
  `event: sync\nid: ${dataset}:${count}\ndata: ${JSON.stringify({
    source: 'cognito-sync',
    identityPoolId: POOL,
    identityId: IDENTITY,
    datasetName: dataset,
    syncCount: count,
  })}\n\n`

let server: SseServer
const stops: Array<() => void> = []

async function start(options: Partial<SsePushSourceOptions> = {}, deviceId?: string) {
  server = new SseServer()
  const endpoint = await server.listen()
  const recorded = recordingSink(deviceId)
  const source = createSsePushSource({
    endpoint: `${endpoint}/`,
    identityPoolId: POOL,
    identityId: IDENTITY,
    getToken: () => 'token-1',
    reconnect: { initialDelayMs: 20, maxDelayMs: 80 },
    ...options,
  })
  const stop = source.start(recorded.sink)
  stops.push(stop)
  // Assigned onto the recorder, not spread: `connects` is a live getter.
  return Object.assign(recorded, { source, stop })
}

afterEach(async () => {
  for (const stop of stops.splice(0)) stop()
  await server?.close()
})

describe('createSsePushSource', () => {
  it('is named push:sse and refuses a missing getToken', () => {
    const source = createSsePushSource({
      endpoint: 'http://127.0.0.1:1',
      identityPoolId: POOL,
      identityId: IDENTITY,
      getToken: () => '',
    })
    expect(source.name).toBe('push:sse')
    expect(() =>
      createSsePushSource({
        endpoint: 'http://127.0.0.1:1',
        identityPoolId: POOL,
        identityId: IDENTITY,
        getToken: undefined as never,
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })

  it('connects with the token and the device id, and relays each sync event data as text', async () => {
    const recorded = await start({}, 'device/1')
    const { request, response } = await server.connected(1)
    expect(request.url).toBe(`${EVENTS_PATH}?deviceId=device%2F1`)
    expect(request.headers.authorization).toBe('Bearer token-1')
    expect(request.headers.accept).toBe('text/event-stream')
    expect(request.headers['last-event-id']).toBeUndefined()
    await until(() => recorded.connects === 1)

    // Split mid-event and mid-line, with heartbeats, another event type and a malformed payload.
    const stream = `: ping\n\n${syncEvent('a', 1)}event: other\ndata: x\n\n${syncEvent('b', 7)}event: sync\ndata: {not json\n\n`
    response.write(stream.slice(0, 37))
    await new Promise((resolve) => setTimeout(resolve, 10))
    response.write(stream.slice(37))
    await until(() => recorded.payloads.length === 3)
    expect(JSON.parse(recorded.payloads[0] as string)).toMatchObject({ datasetName: 'a', syncCount: 1 })
    expect(JSON.parse(recorded.payloads[1] as string)).toMatchObject({ datasetName: 'b', syncCount: 7 })
    expect(recorded.payloads[2]).toBe('{not json')
    expect(recorded.errors).toEqual([])
  })

  it('reconnects after the server ends the stream, sending Last-Event-ID and a fresh token', async () => {
    let token = 0
    const recorded = await start({ getToken: () => `token-${++token}` })
    const first = await server.connected(1)
    first.response.write(syncEvent('a', 3))
    await until(() => recorded.payloads.length === 1)
    first.response.end()

    const second = await server.connected(2)
    expect(second.request.headers['last-event-id']).toBe('a:3')
    expect(second.request.headers.authorization).toBe('Bearer token-2')
    second.response.write(syncEvent('a', 4))
    await until(() => recorded.payloads.length === 2)
    expect(recorded.connects).toBe(2)
    // A clean end of the stream is no error; the source just comes back.
    expect(recorded.errors).toEqual([])

    // A dropped socket (no clean end) is reported and followed by a reconnect too.
    second.request.socket.destroy()
    await server.connected(3)
    await until(() => recorded.errors.length === 1)
    expect(recorded.errors[0]?.code).toBe('TRANSPORT_OFFLINE')
  })

  it('retries a refusal with bounded exponential backoff', async () => {
    server = new SseServer()
    const endpoint = await server.listen()
    server.handler = ({ response }) => {
      response.writeHead(500, {
        'content-type': 'application/json',
        'x-amzn-ErrorType': 'InternalErrorException',
      })
      response.end(JSON.stringify({ message: 'boom' }))
    }
    const recorded = recordingSink()
    stops.push(
      createSsePushSource({
        endpoint,
        identityPoolId: POOL,
        identityId: IDENTITY,
        getToken: () => 'token',
        reconnect: { initialDelayMs: 10, maxDelayMs: 40 },
      }).start(recorded.sink),
    )
    await server.connected(8)
    const gaps = server.connections.slice(1).map((c, i) => c.at - (server.connections[i] as Connection).at)
    // Delays: [5,10], [10,20], [20,40], then capped at [20,40]; timers may fire a little late.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(4)
    expect(Math.max(...gaps)).toBeLessThan(40 + 60)
    expect(gaps.slice(3).every((gap) => gap >= 19)).toBe(true)
    expect(recorded.errors[0]).toMatchObject({ code: 'TRANSPORT_SERVER', adapter: 'push:sse' })
    expect(recorded.errors[0]?.message).toContain('InternalErrorException')
    expect(recorded.connects).toBe(0)
  })

  it('reports 401 and 403 as TRANSPORT_AUTH and keeps trying, then connects when the token is good', async () => {
    let good = false
    const recorded = await start({ getToken: () => (good ? 'good' : 'expired') })
    server.handler = ({ request, response }) => {
      if (request.headers.authorization !== 'Bearer good') {
        const status = server.connections.length === 1 ? 401 : 403
        response.writeHead(status, {
          'content-type': 'application/json',
          'x-amzn-ErrorType': 'NotAuthorizedException',
        })
        response.end(JSON.stringify({ message: 'token expired' }))
        return
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' })
      response.write(syncEvent('a', 1))
    }
    await until(() => recorded.errors.length >= 2)
    expect(recorded.errors.slice(0, 2).map((e) => e.code)).toEqual(['TRANSPORT_AUTH', 'TRANSPORT_AUTH'])
    expect(recorded.errors[1]?.details).toMatchObject({ status: 403 })
    good = true
    await until(() => recorded.payloads.length === 1)
    expect(recorded.connects).toBe(1)
  })

  it('reports a getToken failure as TRANSPORT_AUTH and an answer that is not an event stream', async () => {
    let calls = 0
    const recorded = await start({
      getToken: () => {
        calls++
        if (calls === 1) throw new Error('no session')
        return 'token'
      },
    })
    server.handler = ({ response }) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end('{}')
    }
    await until(() => recorded.errors.length >= 2)
    expect(recorded.errors[0]).toMatchObject({ code: 'TRANSPORT_AUTH' })
    expect(recorded.errors[1]).toMatchObject({ code: 'TRANSPORT_PROTOCOL' })
  })

  it('stop aborts the open stream and reconnects no more', async () => {
    const recorded = await start()
    const { request } = await server.connected(1)
    await until(() => recorded.connects === 1)
    const closed = new Promise<void>((resolve) => request.socket.once('close', () => resolve()))
    recorded.stop()
    await closed
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(server.connections).toHaveLength(1)
    expect(recorded.errors).toEqual([])
    recorded.stop()
  })

  it('stop during the backoff cancels the pending reconnect', async () => {
    const recorded = await start({ reconnect: { initialDelayMs: 100, maxDelayMs: 100 } })
    const first = await server.connected(1)
    first.response.end()
    await new Promise((resolve) => setTimeout(resolve, 20))
    recorded.stop()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(server.connections).toHaveLength(1)
  })

  it('keeps going when the sink throws', async () => {
    const payloads: unknown[] = []
    server = new SseServer()
    const endpoint = await server.listen()
    stops.push(
      createSsePushSource({
        endpoint,
        identityPoolId: POOL,
        identityId: IDENTITY,
        getToken: () => 't',
      }).start({
        deviceId: 'd',
        onPayload(payload) {
          payloads.push(payload)
          throw new Error('a broken sink')
        },
        onError() {
          throw new Error('a broken sink')
        },
      }),
    )
    const { response } = await server.connected(1)
    response.write(syncEvent('a', 1) + syncEvent('a', 2))
    await until(() => payloads.length === 2)
  })
})
