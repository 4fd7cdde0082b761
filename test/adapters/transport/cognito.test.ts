import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { CognitoSyncClient, type CognitoSyncClientConfig } from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCognitoTransport } from '../../../adapters/transport/cognito/index.js'
import { runTransportConformance } from '../../../src/testing/index.js'
import { closedUrl, POOL, REGION, type RunningSyncServer, startSyncServer } from './sync-server.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const clients: CognitoSyncClient[] = []
/** One attempt: the failure tests would otherwise wait for the SDK's retries. */
function syncClient(endpoint: string, credentials: NonNullable<CognitoSyncClientConfig['credentials']>) {
  const client = new CognitoSyncClient({ region: REGION, endpoint, credentials, maxAttempts: 1 })
  clients.push(client)
  return client
}

let server: RunningSyncServer

runTransportConformance({
  name: 'cognito',
  async setup() {
    server = await startSyncServer()
    const nowhere = await closedUrl()
    return {
      async connect() {
        // Each device keeps its own identity id, as an app on its own phone would.
        const cache = new Map<string, string>()
        const credentials = fromCognitoIdentityPool({
          identityPoolId: POOL,
          clientConfig: { region: REGION, endpoint: server.url, maxAttempts: 1 },
          cache: {
            getItem: (key: string) => cache.get(key) ?? null,
            setItem: (key: string, value: string) => void cache.set(key, value),
            removeItem: (key: string) => void cache.delete(key),
          },
        })
        const { identityId } = await credentials()
        const client = syncClient(server.url, credentials)
        return {
          transport: createCognitoTransport({ client, identityPoolId: POOL, identityId }),
          actingAs: (other) => createCognitoTransport({ client, identityPoolId: POOL, identityId: other }),
          unreachable: () =>
            createCognitoTransport({
              client: syncClient(nowhere, credentials),
              identityPoolId: POOL,
              identityId,
            }),
        }
      },
    }
  },
  async teardown() {
    for (const client of clients.splice(0)) client.destroy()
    await server?.close()
  },
})

/**
 * A server that answers what a test tells it to, for the answers pushsync-server never gives:
 * proxies' HTML errors, unparseable bodies, unknown exceptions, throttling.
 */
type Answer = { status: number; headers?: Record<string, string>; body: string }
let scripted: Server
let scriptedUrl: string
let answer: (request: IncomingMessage) => Answer

beforeAll(async () => {
  scripted = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume()
    request.on('end', () => {
      const { status, headers = {}, body } = answer(request)
      response.writeHead(status, headers)
      response.end(body)
    })
  })
  await new Promise<void>((resolve) => scripted.listen(0, '127.0.0.1', resolve))
  const address = scripted.address()
  scriptedUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
})

afterAll(async () => {
  scripted.closeAllConnections()
  await new Promise<void>((resolve) => scripted.close(() => resolve()))
})

const IDENTITY = 'us-east-1:11111111-2222-3333-4444-555555555555'
const STATIC = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }
const scriptedTransport = () =>
  createCognitoTransport({
    client: syncClient(scriptedUrl, STATIC),
    identityPoolId: POOL,
    identityId: IDENTITY,
  })
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
})

describe('createCognitoTransport', () => {
  it('names itself transport:cognito', () => {
    expect(scriptedTransport().name).toBe('transport:cognito')
  })

  it('turns the SDK’s dates into epoch milliseconds', async () => {
    answer = () =>
      json(200, {
        Records: [
          {
            Key: 'k',
            Value: 'v',
            SyncCount: 3,
            LastModifiedDate: 1_700_000_000.5,
            DeviceLastModifiedDate: 1.001,
          },
          { Key: 'gone', SyncCount: 4, LastModifiedDate: 1_700_000_001 },
        ],
        DatasetSyncCount: 4,
        DatasetExists: true,
        SyncSessionToken: 'token',
      })
    const page = await scriptedTransport().listRecords({ datasetName: 'd', lastSyncCount: 0 })
    expect(page).toEqual({
      ok: true,
      value: {
        records: [
          {
            key: 'k',
            value: 'v',
            syncCount: 3,
            lastModifiedDate: 1_700_000_000_500,
            lastModifiedBy: null,
            deviceLastModifiedDate: 1001,
          },
          {
            key: 'gone',
            value: null,
            syncCount: 4,
            lastModifiedDate: 1_700_000_001_000,
            lastModifiedBy: null,
            deviceLastModifiedDate: null,
          },
        ],
        nextToken: null,
        datasetSyncCount: 4,
        datasetExists: true,
        datasetDeletedAfterRequestedSyncCount: false,
        mergedDatasetNames: [],
        lastModifiedBy: null,
        syncSessionToken: 'token',
      },
    })
  })

  it('follows NextToken through every page of ListDatasets', async () => {
    const dataset = (name: string) => ({
      DatasetName: name,
      CreationDate: 1,
      LastModifiedDate: 2,
      DataStorage: 3,
      NumRecords: 1,
    })
    const seen: string[] = []
    answer = (request) => {
      seen.push(request.url ?? '')
      return request.url?.includes('nextToken=') === true
        ? json(200, { Datasets: [dataset('b')] })
        : json(200, { Datasets: [dataset('a')], NextToken: 'page 2' })
    }
    const result = await scriptedTransport().listDatasets()
    expect(result.ok && result.value.map((d) => [d.name, d.creationDate])).toEqual([
      ['a', 1000],
      ['b', 1000],
    ])
    expect(seen).toHaveLength(2)
    expect(seen[1]).toContain('nextToken=page%202')
  })

  it.each<[string, Answer, object]>([
    [
      'a proxy’s HTML 502',
      { status: 502, body: '<html>Bad Gateway</html>' },
      { kind: 'server', status: 502 },
    ],
    ['a 200 that is not JSON', { status: 200, body: '<html>' }, { kind: 'protocol' }],
    [
      'an exception this client does not know',
      json(400, { message: 'odd' }, { 'x-amzn-ErrorType': 'OddException' }),
      { kind: 'protocol', message: expect.stringContaining('OddException') },
    ],
    [
      'throttling with Retry-After',
      json(
        429,
        { message: 'slow down' },
        { 'x-amzn-ErrorType': 'TooManyRequestsException', 'retry-after': '3' },
      ),
      { kind: 'throttled', retryAfterMs: 3000 },
    ],
    [
      'InternalErrorException',
      json(500, { message: 'oops' }, { 'x-amzn-ErrorType': 'InternalErrorException' }),
      { kind: 'server', status: 500 },
    ],
    [
      'a ListRecords answer without a session token',
      json(200, { DatasetSyncCount: 0 }),
      { kind: 'protocol' },
    ],
    [
      'a record without a sync count',
      json(200, { Records: [{ Key: 'k', LastModifiedDate: 1 }], DatasetSyncCount: 1, SyncSessionToken: 't' }),
      { kind: 'protocol', message: expect.stringContaining('SyncCount') },
    ],
  ])('maps %s', async (_, scriptedAnswer, failure) => {
    answer = () => scriptedAnswer
    const result = await scriptedTransport().listRecords({ datasetName: 'd', lastSyncCount: 0 })
    expect(result).toMatchObject({ ok: false, failure })
  })

  it('refuses a NextToken that comes back twice instead of looping', async () => {
    answer = () => json(200, { Datasets: [], NextToken: 'same' })
    const result = await scriptedTransport().listDatasets()
    expect(result).toMatchObject({ ok: false, failure: { kind: 'protocol' } })
  })

  it('reports credentials the provider cannot give as auth', async () => {
    const client = syncClient(scriptedUrl, async () => {
      throw Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' })
    })
    const transport = createCognitoTransport({ client, identityPoolId: POOL, identityId: IDENTITY })
    expect(await transport.listDatasets()).toMatchObject({ ok: false, failure: { kind: 'auth' } })
  })
})
