import { describe, expect, it } from 'vitest'
import {
  createHttpTransport,
  type FetchLike,
  type FetchResponse,
  type HttpTransportOptions,
} from '../../../adapters/transport/http/index.js'
import { createSyncServer } from '../../../server/src/server.js'
import { isSyncError, SyncError } from '../../../src/errors.js'
import { runTransportConformance } from '../../../src/testing/index.js'
import { closedUrl, newIdentity, POOL, type RunningSyncServer, startSyncServer } from './sync-server.js'

let server: RunningSyncServer

runTransportConformance({
  name: 'http',
  async setup() {
    server = await startSyncServer()
    const nowhere = await closedUrl()
    return {
      async connect() {
        const { identityId, sessionToken } = await newIdentity(server.url)
        // No `fetch` option: the suite runs on the global fetch, as an app would.
        const options = { endpoint: server.url, identityPoolId: POOL, getToken: () => sessionToken }
        return {
          transport: createHttpTransport({ ...options, identityId }),
          actingAs: (other) => createHttpTransport({ ...options, identityId: other }),
          unreachable: () => createHttpTransport({ ...options, endpoint: nowhere, identityId }),
        }
      },
    }
  },
  teardown: async () => server?.close(),
})

interface Sent {
  readonly url: string
  readonly method: string
  readonly headers: Record<string, string>
  readonly body: unknown
}

type Reply = { status: number; headers?: Record<string, string>; body: string }

/** A fetch that records each request and answers with `reply`. */
function fakeFetch(reply: (sent: Sent) => Reply | Promise<Reply>): { fetch: FetchLike; sent: Sent[] } {
  const sent: Sent[] = []
  const fetch: FetchLike = async (url, init) => {
    const request = {
      url,
      method: init.method,
      headers: init.headers,
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    }
    sent.push(request)
    const { status, headers = {}, body } = await reply(request)
    const lower = new Map(Object.entries(headers).map(([name, text]) => [name.toLowerCase(), text]))
    const response: FetchResponse = {
      ok: status >= 200 && status < 300,
      status,
      headers: { get: (name) => lower.get(name.toLowerCase()) ?? null },
      text: async () => body,
    }
    return response
  }
  return { fetch, sent }
}

const IDENTITY = 'us-east-1:11111111-2222-3333-4444-555555555555'
const ENCODED_POOL = 'us-east-1%3A0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const ENCODED_IDENTITY = 'us-east-1%3A11111111-2222-3333-4444-555555555555'
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
})
const PAGE = { Records: [], DatasetSyncCount: 0, DatasetExists: false, SyncSessionToken: 'session' }

function transportWith(
  fetch: FetchLike,
  options: Partial<Omit<HttpTransportOptions, 'fetch'>> = {},
): ReturnType<typeof createHttpTransport> {
  return createHttpTransport({
    endpoint: 'https://sync.example.com/base/',
    identityPoolId: POOL,
    identityId: IDENTITY,
    getToken: () => 'the-token',
    fetch,
    ...options,
  })
}

describe('createHttpTransport', () => {
  it('names itself transport:http', () => {
    expect(transportWith(fakeFetch(() => json(200, {})).fetch).name).toBe('transport:http')
  })

  it('sends ListRecords as Cognito’s GET with encoded segments and query', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, PAGE))
    await transportWith(fetch).listRecords({
      datasetName: 'a:b.c',
      lastSyncCount: 7,
      maxResults: 10,
      nextToken: 'n/+=',
      syncSessionToken: 's t',
    })
    expect(sent).toEqual([
      {
        url:
          `https://sync.example.com/base/identitypools/${ENCODED_POOL}/identities/${ENCODED_IDENTITY}` +
          '/datasets/a%3Ab.c/records?lastSyncCount=7&maxResults=10&nextToken=n%2F%2B%3D&syncSessionToken=s%20t',
        method: 'GET',
        headers: { accept: 'application/json', authorization: 'Bearer the-token' },
        body: undefined,
      },
    ])
  })

  it('sends UpdateRecords with epoch seconds and no value for removals', async () => {
    const { fetch, sent } = fakeFetch(() =>
      json(200, {
        Records: [
          {
            Key: 'a',
            Value: '1',
            SyncCount: 1,
            LastModifiedDate: 1_700_000_000.25,
            DeviceLastModifiedDate: 1.5,
          },
          { Key: 'b', SyncCount: 1, LastModifiedDate: 1_700_000_000.25, LastModifiedBy: 'me' },
        ],
      }),
    )
    const result = await transportWith(fetch).updateRecords({
      datasetName: 'settings',
      syncSessionToken: 'session',
      deviceId: 'device-1',
      patches: [
        { op: 'replace', key: 'a', value: '1', syncCount: 0, deviceLastModifiedDate: 1500 },
        { op: 'remove', key: 'b', value: null, syncCount: 3, deviceLastModifiedDate: 1_700_000_000_123 },
      ],
    })
    expect(sent[0]).toMatchObject({
      url: `https://sync.example.com/base/identitypools/${ENCODED_POOL}/identities/${ENCODED_IDENTITY}/datasets/settings`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer the-token' },
      body: {
        SyncSessionToken: 'session',
        DeviceId: 'device-1',
        RecordPatches: [
          { Op: 'replace', Key: 'a', Value: '1', SyncCount: 0, DeviceLastModifiedDate: 1.5 },
          { Op: 'remove', Key: 'b', SyncCount: 3, DeviceLastModifiedDate: 1_700_000_000.123 },
        ],
      },
    })
    expect(result).toEqual({
      ok: true,
      value: {
        records: [
          {
            key: 'a',
            value: '1',
            syncCount: 1,
            lastModifiedDate: 1_700_000_000_250,
            lastModifiedBy: null,
            deviceLastModifiedDate: 1500,
          },
          {
            key: 'b',
            value: null,
            syncCount: 1,
            lastModifiedDate: 1_700_000_000_250,
            lastModifiedBy: 'me',
            deviceLastModifiedDate: null,
          },
        ],
        // Cognito's answer has no next session; pushsync-server's does.
        syncSessionToken: null,
      },
    })
  })

  it('sends the other operations to Cognito’s paths', async () => {
    const dataset = { DatasetName: 'd', CreationDate: 1, LastModifiedDate: 2, DataStorage: 3, NumRecords: 1 }
    const { fetch, sent } = fakeFetch(({ url }) =>
      url.endsWith('/device')
        ? json(200, { DeviceId: 'dev' })
        : json(200, { Dataset: dataset, Datasets: [] }),
    )
    const transport = transportWith(fetch, { endpoint: 'http://localhost:8080' })
    await transport.listDatasets()
    await transport.describeDataset('d')
    await transport.deleteDataset({ datasetName: 'd', deviceId: 'dev/1' })
    await transport.registerDevice('WEBPUSH', '{"endpoint":"https://push"}')
    await transport.subscribe('d', 'dev/1')
    await transport.unsubscribe('d', 'dev/1')
    const root = `http://localhost:8080/identitypools/${ENCODED_POOL}`
    const identity = `${root}/identities/${ENCODED_IDENTITY}`
    expect(sent.map(({ method, url, body }) => [method, url, body])).toEqual([
      ['GET', `${identity}/datasets?maxResults=64`, undefined],
      ['GET', `${identity}/datasets/d`, undefined],
      ['DELETE', `${identity}/datasets/d?deviceId=dev%2F1`, undefined],
      [
        'POST',
        `${root}/identity/${ENCODED_IDENTITY}/device`,
        { Platform: 'WEBPUSH', Token: '{"endpoint":"https://push"}' },
      ],
      ['POST', `${identity}/datasets/d/subscriptions/dev%2F1`, undefined],
      ['DELETE', `${identity}/datasets/d/subscriptions/dev%2F1`, undefined],
    ])
  })

  it('follows NextToken through every page of ListDatasets and refuses a token that repeats', async () => {
    const dataset = (name: string) => ({
      DatasetName: name,
      CreationDate: 1.5,
      LastModifiedDate: 2,
      DataStorage: 3,
      NumRecords: 1,
    })
    const paged = fakeFetch(({ url }) =>
      url.includes('nextToken=')
        ? json(200, { Datasets: [dataset('b')] })
        : json(200, { Datasets: [dataset('a')], NextToken: 'page 2' }),
    )
    const result = await transportWith(paged.fetch).listDatasets()
    expect(result.ok && result.value.map((d) => [d.name, d.creationDate])).toEqual([
      ['a', 1500],
      ['b', 1500],
    ])
    expect(paged.sent[1]?.url).toMatch(/maxResults=64&nextToken=page%202$/)

    const looping = fakeFetch(() => json(200, { Datasets: [], NextToken: 'same' }))
    expect(await transportWith(looping.fetch).listDatasets()).toMatchObject({
      ok: false,
      failure: { kind: 'protocol' },
    })
  })

  it('asks for the token before every request', async () => {
    let calls = 0
    const { fetch, sent } = fakeFetch(() => json(200, PAGE))
    const transport = transportWith(fetch, { getToken: async () => `token-${++calls}` })
    await transport.listRecords({ datasetName: 'd', lastSyncCount: 0 })
    await transport.listRecords({ datasetName: 'd', lastSyncCount: 0 })
    expect(sent.map((request) => request.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2'])
  })

  it.each<[string, Reply, object]>([
    [
      'the type in x-amzn-ErrorType, with a URI after it',
      json(409, { message: 'stale' }, { 'x-amzn-ErrorType': 'ResourceConflictException:http://x/' }),
      { kind: 'conflict', message: 'ResourceConflictException: stale' },
    ],
    [
      'the type only in the body, as a browser sees it without CORS exposing the header',
      json(409, { __type: 'ResourceConflictException', message: 'stale' }),
      { kind: 'conflict' },
    ],
    [
      'a namespaced __type',
      json(404, { __type: 'com.amazonaws.cognitosync#ResourceNotFoundException', Message: 'gone' }),
      { kind: 'notFound', message: 'ResourceNotFoundException: gone' },
    ],
    ['a body `code`', json(403, { code: 'NotAuthorizedException' }), { kind: 'auth' }],
    [
      'a proxy’s HTML 502',
      { status: 502, body: '<html>Bad Gateway</html>' },
      { kind: 'server', status: 502 },
    ],
    [
      'throttling with Retry-After',
      json(429, { message: 'slow' }, { 'x-amzn-ErrorType': 'TooManyRequestsException', 'Retry-After': '2' }),
      { kind: 'throttled', retryAfterMs: 2000 },
    ],
    [
      'an unknown exception',
      json(400, { message: 'odd' }, { 'x-amzn-ErrorType': 'OddException' }),
      { kind: 'protocol', message: expect.stringContaining('OddException: odd') },
    ],
    [
      'a body too large for the server',
      json(413, { message: 'too big' }, { 'x-amzn-ErrorType': 'RequestEntityTooLargeException' }),
      { kind: 'limit', message: 'RequestEntityTooLargeException: too big' },
    ],
    ['a proxy’s 413 without a type', { status: 413, body: '<html>Too Large</html>' }, { kind: 'limit' }],
    ['a 200 that is not JSON', { status: 200, body: '<html>' }, { kind: 'protocol' }],
    ['a 200 with a JSON array', json(200, []), { kind: 'protocol' }],
    ['a page without a session token', json(200, { DatasetSyncCount: 0 }), { kind: 'protocol' }],
    [
      'a page whose count is a string',
      json(200, { ...PAGE, DatasetSyncCount: '1' }),
      { kind: 'protocol', message: expect.stringContaining('DatasetSyncCount') },
    ],
    [
      'a record whose date is not a number',
      json(200, { ...PAGE, Records: [{ Key: 'k', SyncCount: 1, LastModifiedDate: '2024-01-01' }] }),
      { kind: 'protocol', message: expect.stringContaining('LastModifiedDate') },
    ],
  ])('maps %s', async (_, reply, failure) => {
    const result = await transportWith(fakeFetch(() => reply).fetch).listRecords({
      datasetName: 'd',
      lastSyncCount: 0,
    })
    expect(result).toMatchObject({ ok: false, failure })
  })

  it('reports a write over the server’s body limit as a limit, however often it is sent', async () => {
    const limited = await createSyncServer({
      db: ':memory:',
      allowUnauthenticated: true,
      tokenSecret: 'transport-413',
      bodyLimit: 64 * 1024,
    })
    try {
      const { url } = await limited.listen(0)
      const { identityId, sessionToken } = await newIdentity(url)
      // The global fetch, as an app sends: it must read the 413, not a reset connection.
      const transport = createHttpTransport({
        endpoint: url,
        identityPoolId: POOL,
        identityId,
        getToken: () => sessionToken,
      })
      const kinds: string[] = []
      for (let i = 0; i < 20; i++) {
        const result = await transport.updateRecords({
          datasetName: 'big',
          syncSessionToken: 'any',
          patches: [
            {
              op: 'replace',
              key: 'k',
              value: 'x'.repeat(1024 * 1024),
              syncCount: 0,
              deviceLastModifiedDate: 0,
            },
          ],
        })
        kinds.push(result.ok ? 'ok' : result.failure.kind)
      }
      expect(kinds).toEqual(Array.from({ length: 20 }, () => 'limit'))
    } finally {
      await limited.close()
    }
  })

  it('reports a fetch that rejects, or a body that breaks off, as offline with the cause', async () => {
    const refused = new TypeError('Failed to fetch')
    const rejecting: FetchLike = async () => {
      throw refused
    }
    expect(await transportWith(rejecting).listDatasets()).toEqual({
      ok: false,
      failure: { kind: 'offline', message: expect.stringContaining('Failed to fetch'), cause: refused },
    })
    const reset = new Error('socket hang up')
    const breaking: FetchLike = async () => ({
      ok: true,
      status: 200,
      headers: { get: () => null },
      text: async () => {
        throw reset
      },
    })
    expect(await transportWith(breaking).listDatasets()).toMatchObject({
      ok: false,
      failure: { kind: 'offline', cause: reset },
    })
  })

  it('reports a token provider that fails as auth, without sending', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, PAGE))
    const rejecting = transportWith(fetch, {
      getToken: async () => {
        throw new Error('refresh token expired')
      },
    })
    expect(await rejecting.listRecords({ datasetName: 'd', lastSyncCount: 0 })).toEqual({
      ok: false,
      failure: { kind: 'auth', message: 'getToken failed: Error: refresh token expired' },
    })
    const throwing = transportWith(fetch, {
      getToken: () => {
        throw new Error('signed out')
      },
    })
    expect(await throwing.listDatasets()).toMatchObject({ ok: false, failure: { kind: 'auth' } })
    // A sign-in that could not reach its server is offline, to be retried, not refused.
    const unreachable = transportWith(fetch, {
      getToken: async () => {
        throw new SyncError('TRANSPORT_OFFLINE', 'GetCredentialsForIdentity: the server could not be reached')
      },
    })
    expect(await unreachable.listDatasets()).toMatchObject({ ok: false, failure: { kind: 'offline' } })
    expect(sent).toEqual([])
  })

  it('refuses options it cannot work with', () => {
    const noToken = { endpoint: 'x', identityPoolId: POOL, identityId: IDENTITY } as HttpTransportOptions
    let thrown: unknown
    try {
      createHttpTransport(noToken)
    } catch (error) {
      thrown = error
    }
    expect(isSyncError(thrown, 'INVALID_ARGUMENT')).toBe(true)
    expect(thrown).toMatchObject({ adapter: 'transport:http' })
  })
})
