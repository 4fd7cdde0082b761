import { type AddressInfo, connect } from 'node:net'
import { serve } from '@hono/node-server'
import { resolveLimits } from 'pushsync/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSessionTokens } from '../../src/auth/session-token.js'
import { createApp } from '../../src/http/app.js'
import { MAX_UNSENT_EVENT_BYTES } from '../../src/http/events.js'
import { combineChangeListeners, type DatasetChange } from '../../src/push/change.js'
import { createSseHub, type SseConnection } from '../../src/push/sse-hub.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import type { StoreTx } from '../../src/store/contract.js'
import { openStore } from '../../src/store/index.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { gatedStore } from '../helpers/gated-store.js'
import { type Identity, signInAsGuest } from '../helpers/guest.js'

const POOL = 'us-east-1:5e5e0000-0000-4000-8000-0000000000aa'
/** How long a stream is watched for an event that must not come. */
const QUIET_MS = 300
/** How long a test waits for an event that must come. */
const WAIT_MS = 3000

interface SseMessage {
  readonly event: string
  readonly id: string
  readonly data: string
}

/**
 * An open event stream read through `fetch` over a real socket, parsed as EventSource would: what
 * arrives is exactly what a browser sees, including whether the server flushed each event.
 */
interface EventStream {
  readonly response: Response
  readonly messages: SseMessage[]
  readonly comments: string[]
  /** Resolves when the server ends the stream. */
  readonly finished: Promise<void>
  /** Waits until `count` messages arrived; fails after WAIT_MS. */
  messagesUpTo(count: number): Promise<SseMessage[]>
  commentsUpTo(count: number): Promise<string[]>
  cancel(): Promise<void>
}

function enc(value: string): string {
  return encodeURIComponent(value)
}

const newIdentity = (url: string): Promise<Identity> => signInAsGuest(url, POOL)

function datasetUrl(who: Identity, dataset: string): string {
  return `${who.url}/identitypools/${enc(POOL)}/identities/${enc(who.identityId)}/datasets/${dataset}`
}

function bearer(who: Identity): Record<string, string> {
  return { authorization: `Bearer ${who.token}` }
}

/** One UpdateRecords, as a client does it: ListRecords for a SyncSessionToken, then the write. */
async function put(who: Identity, dataset: string, key: string, deviceId?: string): Promise<number> {
  const listing = await fetch(`${datasetUrl(who, dataset)}/records`, { headers: bearer(who) })
  expect(listing.status).toBe(200)
  const { SyncSessionToken, DatasetSyncCount } = (await listing.json()) as {
    SyncSessionToken: string
    DatasetSyncCount: number
  }
  const response = await fetch(datasetUrl(who, dataset), {
    method: 'POST',
    headers: { ...bearer(who), 'content-type': 'application/json' },
    body: JSON.stringify({
      SyncSessionToken,
      RecordPatches: [{ Op: 'replace', Key: key, Value: 'v', SyncCount: 0 }],
      ...(deviceId === undefined ? {} : { DeviceId: deviceId }),
    }),
  })
  expect(response.status).toBe(200)
  return DatasetSyncCount + 1
}

function eventsUrl(who: Identity, identityId = who.identityId, deviceId?: string): string {
  const query = deviceId === undefined ? '' : `?deviceId=${enc(deviceId)}`
  return `${who.url}/identitypools/${enc(POOL)}/identities/${enc(identityId)}/events${query}`
}

async function openEvents(who: Identity, deviceId?: string): Promise<EventStream> {
  const response = await fetch(eventsUrl(who, who.identityId, deviceId), { headers: bearer(who) })
  expect(response.status).toBe(200)
  const body = response.body
  if (body === null) throw new Error('no body')
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  const messages: SseMessage[] = []
  const comments: string[] = []
  let wake = () => {}

  // The SSE parsing rules, reduced to what the server sends: fields per line, a blank line dispatches.
  const finished = (async () => {
    let buffer = ''
    let event = ''
    let id = ''
    let data: string[] = []
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
      if (done) break
      buffer += value
      let newline = buffer.indexOf('\n')
      while (newline >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '')
        buffer = buffer.slice(newline + 1)
        newline = buffer.indexOf('\n')
        if (line === '') {
          if (data.length > 0) messages.push({ event: event || 'message', id, data: data.join('\n') })
          event = ''
          data = []
        } else if (line.startsWith(':')) {
          comments.push(line.slice(1).trim())
        } else {
          const colon = line.indexOf(':')
          const field = colon < 0 ? line : line.slice(0, colon)
          const fieldValue = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
          if (field === 'event') event = fieldValue
          else if (field === 'data') data.push(fieldValue)
          else if (field === 'id') id = fieldValue
        }
        wake()
      }
    }
    wake()
  })()

  const until = async <T>(ready: () => T | undefined, what: string): Promise<T> => {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const value = ready()
      if (value !== undefined) return value
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  return {
    response,
    messages,
    comments,
    finished,
    messagesUpTo: (count) =>
      until(() => (messages.length >= count ? messages.slice() : undefined), `${count} messages`),
    commentsUpTo: (count) =>
      until(() => (comments.length >= count ? comments.slice() : undefined), `${count} comments`),
    cancel: async () => {
      await reader.cancel().catch(() => {})
      await finished
    },
  }
}

function syncMessage(who: Identity, datasetName: string, syncCount: number): SseMessage {
  return {
    event: 'sync',
    id: `${datasetName}:${syncCount}`,
    data: JSON.stringify({
      source: 'cognito-sync',
      identityPoolId: POOL,
      identityId: who.identityId,
      datasetName,
      syncCount,
    }),
  }
}

const quiet = () => new Promise((resolve) => setTimeout(resolve, QUIET_MS))

describe('the SSE live channel over a socket', () => {
  let server: SyncServer
  let url: string
  const open: EventStream[] = []
  const track = (stream: EventStream) => {
    open.push(stream)
    return stream
  }

  beforeAll(async () => {
    server = await createSyncServer({ db: ':memory:', allowUnauthenticated: true, tokenSecret: 't' })
    url = (await server.listen(0)).url
  })
  afterAll(async () => {
    await Promise.all(open.map((stream) => stream.cancel()))
    await server?.close()
  })

  it('opens with the current sync count of every existing dataset, in the documented shape', async () => {
    const who = await newIdentity(url)
    await put(who, 'alpha', 'k')
    await put(who, 'beta', 'k')
    await put(who, 'beta', 'l')
    const stream = track(await openEvents(who))
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(stream.response.headers.get('cache-control')).toBe('no-cache')
    expect(await stream.messagesUpTo(2)).toEqual([syncMessage(who, 'alpha', 1), syncMessage(who, 'beta', 2)])
    const payload = JSON.parse(stream.messages[0]?.data ?? '') as Record<string, unknown>
    expect(Object.keys(payload).sort()).toEqual([
      'datasetName',
      'identityId',
      'identityPoolId',
      'source',
      'syncCount',
    ])
    expect(typeof payload.syncCount).toBe('number')
    await quiet()
    expect(stream.messages).toHaveLength(2)
  })

  it('sends a committed change to the identity’s other devices, not back to the writer nor elsewhere', async () => {
    const who = await newIdentity(url)
    const other = await newIdentity(url)
    await put(who, 'settings', 'k', 'A')
    const a = track(await openEvents(who, 'A'))
    const b = track(await openEvents(who, 'B'))
    const elsewhere = track(await openEvents(other, 'B'))
    expect(await a.messagesUpTo(1)).toEqual([syncMessage(who, 'settings', 1)])
    expect(await b.messagesUpTo(1)).toEqual([syncMessage(who, 'settings', 1)])

    expect(await put(who, 'settings', 'l', 'A')).toBe(2)
    const [opening, live] = await b.messagesUpTo(2)
    expect(opening).toEqual(syncMessage(who, 'settings', 1))
    // A live change carries what it wrote, so a device at count 1 can apply it without pulling.
    expect(live).toMatchObject({ event: 'sync', id: 'settings:2' })
    const { changes, ...update } = JSON.parse(live?.data ?? '{}')
    expect(JSON.stringify(update)).toBe(syncMessage(who, 'settings', 2).data)
    expect(changes).toEqual({
      after: 1,
      records: [
        expect.objectContaining({ Key: 'l', Value: 'v', SyncCount: 2, LastModifiedDate: expect.any(Number) }),
      ],
    })
    await quiet()
    expect(a.messages).toHaveLength(1)
    expect(elsewhere.messages).toEqual([])

    // A write without a DeviceId has no writer to spare: every connection hears of it.
    expect(await put(who, 'other', 'k')).toBe(1)
    for (const message of [(await a.messagesUpTo(2))[1], (await b.messagesUpTo(3))[2]]) {
      const { changes, ...update } = JSON.parse(message?.data ?? '{}')
      expect(JSON.stringify(update)).toBe(syncMessage(who, 'other', 1).data)
      expect(changes.after).toBe(0)
    }
    await quiet()
    expect(elsewhere.messages).toEqual([])
  })

  it('announces a DeleteDataset with the sync count the deletion took, marked deleted', async () => {
    const who = await newIdentity(url)
    await put(who, 'doomed', 'k')
    await put(who, 'doomed', 'l')
    const stream = track(await openEvents(who, 'A'))
    await stream.messagesUpTo(1)
    const deleted = await fetch(datasetUrl(who, 'doomed'), { method: 'DELETE', headers: bearer(who) })
    expect(deleted.status).toBe(200)
    const deletion = syncMessage(who, 'doomed', 3)
    expect(await stream.messagesUpTo(2)).toEqual([
      syncMessage(who, 'doomed', 2),
      { ...deletion, data: JSON.stringify({ ...JSON.parse(deletion.data), deleted: true }) },
    ])

    // A deleted dataset no longer exists, so a new connection does not open with it.
    const later = track(await openEvents(who))
    await quiet()
    expect(later.messages).toEqual([])
  })

  it('catches up on reconnect: the opening events carry what was missed, Last-Event-ID or not', async () => {
    const who = await newIdentity(url)
    await put(who, 'notes', 'k')
    const first = await openEvents(who, 'B')
    const [seen] = await first.messagesUpTo(1)
    await first.cancel()
    await put(who, 'notes', 'l', 'A')
    await put(who, 'notes', 'm', 'A')
    const response = await fetch(eventsUrl(who, who.identityId, 'B'), {
      headers: { ...bearer(who), 'last-event-id': seen?.id ?? '' },
    })
    expect(response.status).toBe(200)
    await response.body?.cancel()
    const again = track(await openEvents(who, 'B'))
    expect(await again.messagesUpTo(1)).toEqual([syncMessage(who, 'notes', 3)])
  })

  it('refuses a request without credentials with Cognito’s 403 JSON', async () => {
    const who = await newIdentity(url)
    const response = await fetch(eventsUrl(who))
    expect(response.status).toBe(403)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(response.headers.get('x-amzn-errortype')).toBe('NotAuthorizedException')
    expect(((await response.json()) as { __type: string }).__type).toBe('NotAuthorizedException')
  })

  it('refuses another identity’s events with 403', async () => {
    const who = await newIdentity(url)
    const other = await newIdentity(url)
    const response = await fetch(eventsUrl(who, other.identityId), { headers: bearer(who) })
    expect(response.status).toBe(403)
    expect(((await response.json()) as { __type: string }).__type).toBe('NotAuthorizedException')
  })

  it('refuses a malformed identity id with 400 before any stream starts', async () => {
    const who = await newIdentity(url)
    const response = await fetch(eventsUrl(who, 'not-an-identity'), { headers: bearer(who) })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { __type: string }).__type).toBe('InvalidParameterException')
  })
})

describe('heartbeats and shutdown', () => {
  it('sends `: ping` comments at the configured interval', async () => {
    const server = await createSyncServer({
      db: ':memory:',
      allowUnauthenticated: true,
      tokenSecret: 't',
      sseHeartbeatMs: 40,
    })
    try {
      const who = await newIdentity((await server.listen(0)).url)
      const stream = await openEvents(who)
      expect(await stream.commentsUpTo(2)).toEqual(['ping', 'ping'])
      expect(stream.messages).toEqual([])
      await stream.cancel()
    } finally {
      await server.close()
    }
  })

  it('close() ends open streams and resolves promptly', async () => {
    const server = await createSyncServer({ db: ':memory:', allowUnauthenticated: true, tokenSecret: 't' })
    const who = await newIdentity((await server.listen(0)).url)
    await put(who, 'settings', 'k')
    const streams = [await openEvents(who, 'A'), await openEvents(who, 'B')]
    for (const stream of streams) await stream.messagesUpTo(1)
    const started = Date.now()
    await server.close()
    // Well under the 5 s grace period a stuck connection would take.
    expect(Date.now() - started).toBeLessThan(1000)
    await Promise.all(streams.map((stream) => stream.finished))
  })
})

describe('a client that leaves', () => {
  /** A server of the app alone, a developer principal for every request, and its hub. */
  async function serveWithHub() {
    const store = await openStore(':memory:')
    const hub = createSseHub({ heartbeatMs: 60_000 })
    const app = createApp({
      store,
      sessions: createSessionTokens('t'),
      limits: resolveLimits(undefined),
      authenticate: async () => ({
        principal: { kind: 'developer', accessKeyId: 'AKIDTEST' },
        verifyBody: async () => {},
      }),
      identity: async () => ({}),
      now: Date.now,
      randomId: () => 'id',
      changes: hub,
      events: hub,
      streamSink: { put: async () => {} },
      bodyLimit: 1024,
    })
    const http = serve({ fetch: (request, env) => app.fetch(request, env), port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => http.once('listening', resolve))
    const { port } = http.address() as AddressInfo
    const identityId = 'us-east-1:5e5e0000-0000-4000-8000-0000000000ab'
    const path = `/identitypools/${enc(POOL)}/identities/${enc(identityId)}/events`
    return {
      hub,
      port,
      identityId,
      path,
      url: `http://127.0.0.1:${port}${path}`,
      /** Waits until the hub holds `count` connections (or WAIT_MS passed); returns what it holds. */
      async settled(count: number) {
        const deadline = Date.now() + WAIT_MS
        while (hub.connectionCount() !== count && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        return hub.connectionCount()
      },
      async close() {
        hub.close()
        await new Promise((resolve) => {
          http.close(resolve)
          if ('closeAllConnections' in http) http.closeAllConnections()
        })
        await store.close()
      },
    }
  }

  it('is unregistered from the hub, whether it aborts the request or cancels the body', async () => {
    const server = await serveWithHub()
    try {
      const aborted = new AbortController()
      const first = await fetch(server.url, { signal: aborted.signal })
      const second = await fetch(server.url)
      expect(first.status).toBe(200)
      expect(await server.settled(2)).toBe(2)
      aborted.abort()
      expect(await server.settled(1)).toBe(1)
      await second.body?.cancel()
      expect(await server.settled(0)).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('is let go once it leaves more than MAX_UNSENT_EVENT_BYTES unread, and the server holds no more for it', async () => {
    const server = await serveWithHub()
    const socket = connect(server.port, '127.0.0.1')
    try {
      await new Promise((resolve) => socket.once('connect', resolve))
      socket.write(`GET ${server.path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`)
      const head = await new Promise<string>((resolve) =>
        socket.once('data', (chunk) => resolve(String(chunk))),
      )
      expect(head).toMatch(/^HTTP\/1\.1 200/)
      expect(head).toMatch(/content-type: text\/event-stream/i)
      // From here on the client reads nothing.
      socket.pause()
      const closed = new Promise((resolve) => socket.once('close', resolve))
      expect(await server.settled(1)).toBe(1)

      // Changes of 16,000 characters travel with their events: 64 MiB of events, far more than the
      // socket's buffers and the cap together.
      const value = 'x'.repeat(16_000)
      let published = 0
      for (let syncCount = 1; syncCount <= 4096; syncCount++) {
        published = syncCount
        server.hub.publish({
          identityPoolId: POOL,
          identityId: server.identityId,
          datasetName: 'big',
          syncCount,
          originDeviceId: null,
          kind: 'updated',
          written: {
            after: syncCount - 1,
            records: [
              {
                key: 'k',
                value,
                syncCount,
                lastModifiedDate: 0,
                lastModifiedBy: 'x',
                deviceLastModifiedDate: null,
              },
            ],
          },
        })
        // Writes arrive in requests of their own: the event loop turns between them.
        if (syncCount % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
        if (server.hub.connectionCount() === 0) break
      }
      expect(await server.settled(0)).toBe(0)
      // The server closed its side: what the client had not read ends with the connection.
      socket.resume()
      await closed
      // Let go at the cap plus what the kernel's socket buffers took, not after everything queued.
      expect(published * 16_000).toBeLessThan(MAX_UNSENT_EVENT_BYTES + 16 * 1024 * 1024)
    } finally {
      socket.destroy()
      await server.close()
    }
  })
})

describe('the hub', () => {
  const change = (over: Partial<DatasetChange> = {}): DatasetChange => ({
    identityPoolId: POOL,
    identityId: 'us-east-1:00000000-0000-4000-8000-000000000001',
    datasetName: 'd',
    syncCount: 1,
    originDeviceId: null,
    kind: 'updated',
    ...over,
  })
  const connection = (deviceId: string | null) => {
    const received: DatasetChange[] = []
    let ended = 0
    const value: SseConnection = {
      deviceId,
      send: (sent) => received.push(sent),
      end: () => {
        ended++
      },
    }
    return { value, received, ended: () => ended }
  }

  it('routes by identity, skips the origin device, and forgets unregistered connections', () => {
    const hub = createSseHub()
    const a = connection('A')
    const b = connection('B')
    const anonymous = connection(null)
    const stranger = connection('A')
    const { identityPoolId, identityId } = change()
    const offA = hub.register(identityPoolId, identityId, a.value)
    hub.register(identityPoolId, identityId, b.value)
    hub.register(identityPoolId, identityId, anonymous.value)
    hub.register(identityPoolId, 'us-east-1:00000000-0000-4000-8000-000000000002', stranger.value)
    expect(hub.connectionCount({ identityPoolId, identityId })).toBe(3)
    expect(hub.connectionCount()).toBe(4)

    hub.afterCommit(change({ originDeviceId: 'A' }))
    expect([a.received.length, b.received.length, anonymous.received.length]).toEqual([0, 1, 1])
    expect(stranger.received).toEqual([])

    offA()
    offA()
    hub.publish(change({ syncCount: 2 }))
    expect([a.received.length, b.received.length]).toEqual([0, 2])
    expect(hub.connectionCount()).toBe(3)
  })

  it('ends every connection on close, and any that registers afterwards', () => {
    const hub = createSseHub()
    const a = connection('A')
    hub.register(POOL, 'x', a.value)
    hub.close()
    expect(a.ended()).toBe(1)
    expect(hub.connectionCount()).toBe(0)
    const late = connection('B')
    hub.register(POOL, 'x', late.value)
    expect(late.ended()).toBe(1)
    expect(hub.connectionCount()).toBe(0)
  })

  it('refuses a heartbeat interval that is not a positive integer', () => {
    expect(() => createSseHub({ heartbeatMs: 0 })).toThrow(RangeError)
    expect(() => createSseHub({ heartbeatMs: Number.NaN })).toThrow(RangeError)
  })
})

describe('combineChangeListeners', () => {
  const change: DatasetChange = {
    identityPoolId: POOL,
    identityId: 'us-east-1:00000000-0000-4000-8000-000000000001',
    datasetName: 'd',
    syncCount: 1,
    originDeviceId: null,
    kind: 'updated',
  }

  it('tells every listener in order, and every afterCommit even when one throws', async () => {
    const told: string[] = []
    const combined = combineChangeListeners(
      { inTransaction: async () => void told.push('tx1'), afterCommit: () => void told.push('c1') },
      undefined,
      {
        afterCommit: () => {
          told.push('c2')
          throw new Error('boom')
        },
      },
      { inTransaction: async () => void told.push('tx3'), afterCommit: () => void told.push('c3') },
    )
    await combined.inTransaction?.({} as StoreTx, change)
    expect(() => combined.afterCommit?.(change)).toThrow('boom')
    expect(told).toEqual(['tx1', 'tx3', 'c1', 'c2', 'c3'])
  })

  it('stops inTransaction at the first failure, since the change rolls back', async () => {
    const told: string[] = []
    const combined = combineChangeListeners(
      {
        inTransaction: async () => {
          throw new Error('no')
        },
      },
      { inTransaction: async () => void told.push('tx2') },
    )
    await expect(combined.inTransaction?.({} as StoreTx, change)).rejects.toThrow('no')
    expect(told).toEqual([])
  })
})

describe('a change committed while a stream opens', () => {
  it('comes right after the opening events, not lost', async () => {
    const gated = gatedStore(createMemoryStore())
    const server = await createSyncServer({
      db: gated.store,
      allowUnauthenticated: true,
      tokenSecret: 'sse-tests',
    })
    try {
      const { url } = await server.listen(0)
      const who = await newIdentity(url)
      await put(who, 'notes', 'a')
      const gate = gated.arm()
      const opening = openEvents(who)
      // The stream has read the datasets (count 1) and is about to start: a write lands now.
      await gate.reached
      await put(who, 'notes', 'b', 'another-device')
      gate.release()
      const stream = await opening
      const [first, second] = await stream.messagesUpTo(2)
      expect(first).toEqual(syncMessage(who, 'notes', 1))
      expect(JSON.parse(second?.data ?? '{}')).toMatchObject({ datasetName: 'notes', syncCount: 2 })
      await stream.cancel()
    } finally {
      await server.close()
    }
  })
})
