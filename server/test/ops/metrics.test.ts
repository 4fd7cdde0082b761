import {
  ListRecordsCommand,
  RegisterDeviceCommand,
  ResourceConflictException,
  SubscribeToDatasetCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { PushSender } from '../../src/push/sender.js'
import { createSyncServer, type ListeningAddress, type SyncServer } from '../../src/server.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { createDevice } from '../e2e/devices.js'
import { signInAsGuest } from '../helpers/guest.js'
import { parseExposition, type Scrape } from '../helpers/prometheus.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * `/metrics` on its own port, scraped and parsed as Prometheus would, while the real AWS SDK v3
 * clients, an SSE client and push senders make the numbers move.
 */

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const DATASET = 'metrics-dataset-name'
const VALUE = 'a-record-value-that-stays-out-of-metrics'

// The server's clock stands still unless a test moves it (SigV4 allows 15 minutes of skew).
let time = Date.now()
const now = () => time

/** GCM pushes fail for an hour; APNs ones are delivered. */
const senders: PushSender[] = [
  {
    platforms: ['GCM'],
    send: async () => ({ kind: 'retry', reason: 'the service is down', retryAfterMs: 3_600_000 }),
  },
  { platforms: ['APNS'], send: async () => ({ kind: 'delivered' }) },
]

let server: SyncServer
let api: ListeningAddress
let metricsAt: ListeningAddress

beforeAll(async () => {
  server = await createSyncServer({
    db: createMemoryStore(),
    allowUnauthenticated: true,
    tokenSecret: 'metrics-tests',
    metrics: true,
    pushSenders: senders,
    now,
  })
  api = await server.listen(0)
  metricsAt = await server.listenMetrics(0)
})

afterAll(async () => {
  await server?.close()
})

async function scrape(address: ListeningAddress = metricsAt): Promise<Scrape & { readonly text: string }> {
  const response = await fetch(`${address.url}/metrics`)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
  const text = await response.text()
  return { ...parseExposition(text), text }
}

const requests = (scraped: Scrape, operation: string, status: number) =>
  scraped.value('pushsync_http_requests_total', { operation, status: String(status) }) ?? 0

async function writeOnce(device: Awaited<ReturnType<typeof createDevice>>, syncCount = 0) {
  const { SyncSessionToken } = await device.sync.send(
    new ListRecordsCommand({ IdentityPoolId: POOL, IdentityId: device.identityId, DatasetName: DATASET }),
  )
  return device.sync.send(
    new UpdateRecordsCommand({
      IdentityPoolId: POOL,
      IdentityId: device.identityId,
      DatasetName: DATASET,
      SyncSessionToken,
      DeviceId: 'writer',
      RecordPatches: [{ Op: 'replace', Key: 'k', Value: VALUE, SyncCount: syncCount }],
    }),
  )
}

describe('requests', () => {
  it('are counted by Cognito operation and status, with their durations, as the SDK makes them', async () => {
    const before = await scrape()
    const device = await createDevice({ url: api.url, identityPoolId: POOL, maxAttempts: 1 })
    await writeOnce(device)
    // The same patch again is stale: 409 ResourceConflictException.
    await expect(writeOnce(device)).rejects.toBeInstanceOf(ResourceConflictException)
    const after = await scrape()

    expect(after.types.get('pushsync_http_requests_total')).toBe('counter')
    expect(after.types.get('pushsync_http_request_duration_seconds')).toBe('histogram')
    expect(requests(after, 'GetId', 200)).toBe(requests(before, 'GetId', 200) + 1)
    // The SDK's provider asks for credentials again when it pleases: at least once.
    expect(requests(after, 'GetCredentialsForIdentity', 200)).toBeGreaterThan(
      requests(before, 'GetCredentialsForIdentity', 200),
    )
    expect(requests(after, 'ListRecords', 200)).toBe(requests(before, 'ListRecords', 200) + 2)
    expect(requests(after, 'UpdateRecords', 200)).toBe(requests(before, 'UpdateRecords', 200) + 1)
    expect(requests(after, 'UpdateRecords', 409)).toBe(requests(before, 'UpdateRecords', 409) + 1)

    const count = (scraped: Scrape) =>
      scraped.value('pushsync_http_request_duration_seconds_count', { operation: 'UpdateRecords' }) ?? 0
    expect(count(after)).toBe(count(before) + 2)
    expect(
      after.value('pushsync_http_request_duration_seconds_bucket', {
        operation: 'UpdateRecords',
        le: '+Inf',
      }),
    ).toBe(count(after))
    expect(
      after.value('pushsync_http_request_duration_seconds_sum', { operation: 'UpdateRecords' }),
    ).toBeGreaterThan(0)
  })

  it('of unknown paths and targets count under fixed names, never under what the client sent', async () => {
    const before = await scrape()
    await fetch(`${api.url}/made-up-path-${'x'.repeat(20)}`)
    await fetch(`${api.url}/`, { method: 'POST', headers: { 'x-amz-target': 'Made.Up' }, body: '{}' })
    const after = await scrape()
    expect(requests(after, 'Unknown', 400)).toBe(requests(before, 'Unknown', 400) + 1)
    expect(requests(after, 'UnknownIdentityOperation', 400)).toBe(
      requests(before, 'UnknownIdentityOperation', 400) + 1,
    )
    expect(after.text).not.toContain('made-up-path')
    expect(after.text).not.toContain('Made.Up')
  })

  it('time the store transactions they make', async () => {
    const committed = (scraped: Scrape) =>
      scraped.value('pushsync_store_transaction_duration_seconds_count', { outcome: 'committed' }) ?? 0
    const before = await scrape()
    await signInAsGuest(api.url, POOL)
    const after = await scrape()
    // GetId writes the identity; GetCredentialsForIdentity reads it.
    expect(committed(after)).toBeGreaterThanOrEqual(committed(before) + 2)
  })
})

describe('labels', () => {
  it('never carry identities, pools, datasets, tokens or values', async () => {
    const guest = await signInAsGuest(api.url, POOL)
    const device = await createDevice({ url: api.url, identityPoolId: POOL, maxAttempts: 1 })
    await writeOnce(device)
    const scraped = await scrape()
    for (const secret of [POOL, guest.identityId, guest.token, device.identityId, DATASET, VALUE, 'writer'])
      expect(scraped.text).not.toContain(secret)
    const ours = scraped.samples.filter((sample) => sample.name.startsWith('pushsync_'))
    const allowed = ['bucket', 'le', 'operation', 'outcome', 'platform', 'status']
    for (const sample of ours)
      for (const label of Object.keys(sample.labels)) expect(allowed).toContain(label)
    const operations = new Set(
      ours.map((sample) => sample.labels.operation).filter((name) => name !== undefined),
    )
    for (const operation of operations) expect(operation).toMatch(/^[A-Z][A-Za-z]+$/)
  })
})

describe('event streams', () => {
  it('are counted while open', async () => {
    const guest = await signInAsGuest(api.url, POOL)
    const open = (await scrape()).value('pushsync_sse_streams') ?? 0
    const controller = new AbortController()
    const response = await fetch(
      `${api.url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(guest.identityId)}/events`,
      { headers: { authorization: `Bearer ${guest.token}` }, signal: controller.signal },
    )
    expect(response.status).toBe(200)
    expect((await scrape()).value('pushsync_sse_streams')).toBe(open + 1)
    controller.abort()
    await vi.waitUntil(async () => (await scrape()).value('pushsync_sse_streams') === open, {
      timeout: 5000,
      interval: 20,
    })
  })
})

describe('push delivery', () => {
  it('reports the outbox depth, its oldest push age in the server clock, and pushes by platform and outcome', async () => {
    const pushes = (scraped: Scrape, platform: string, outcome: string) =>
      scraped.value('pushsync_pushes_total', { platform, outcome }) ?? 0
    const before = await scrape()
    const device = await createDevice({ url: api.url, identityPoolId: POOL, maxAttempts: 1 })
    await writeOnce(device)
    for (const [platform, token] of [
      ['GCM', 'gcm-token'],
      ['APNS', 'a1b2c3'],
    ] as const) {
      const { DeviceId } = await device.sync.send(
        new RegisterDeviceCommand({
          IdentityPoolId: POOL,
          IdentityId: device.identityId,
          Platform: platform,
          Token: token,
        }),
      )
      await device.sync.send(
        new SubscribeToDatasetCommand({
          IdentityPoolId: POOL,
          IdentityId: device.identityId,
          DatasetName: DATASET,
          DeviceId,
        }),
      )
    }
    const queuedAt = time
    await writeOnce(device, 1)

    // The APNs push goes out; the GCM one fails and waits in the outbox for its retry an hour on.
    let scraped = await scrape()
    await vi.waitUntil(
      async () => {
        scraped = await scrape()
        return pushes(scraped, 'GCM', 'retried') === pushes(before, 'GCM', 'retried') + 1
      },
      { timeout: 5000, interval: 50 },
    )
    expect(pushes(scraped, 'APNS', 'delivered')).toBe(pushes(before, 'APNS', 'delivered') + 1)
    expect(pushes(scraped, 'GCM', 'delivered')).toBe(pushes(before, 'GCM', 'delivered'))
    await vi.waitUntil(async () => (await scrape()).value('pushsync_outbox_rows') === 1, {
      timeout: 5000,
      interval: 200,
    })

    time = queuedAt + 90_000
    expect((await scrape()).value('pushsync_outbox_oldest_age_seconds')).toBe(90)
    time = queuedAt + 3_600_000
    expect((await scrape()).value('pushsync_outbox_oldest_age_seconds')).toBe(3600)
  })
})

describe('the registry', () => {
  it('is the server’s own: two servers in one process count apart, each with process metrics', async () => {
    const other = await createSyncServer({ db: ':memory:', allowUnauthenticated: true, metrics: true })
    try {
      const otherApi = await other.listen(0)
      const otherMetrics = await other.listenMetrics(0)
      const getIds = async (address: ListeningAddress) => requests(await scrape(address), 'GetId', 200)
      const [mine, theirs] = [await getIds(metricsAt), await getIds(otherMetrics)]
      await signInAsGuest(otherApi.url, POOL)
      expect(await getIds(otherMetrics)).toBe(theirs + 1)
      expect(await getIds(metricsAt)).toBe(mine)
      for (const address of [metricsAt, otherMetrics]) {
        const scraped = await scrape(address)
        expect(scraped.value('process_cpu_user_seconds_total')).toBeGreaterThan(0)
        expect(scraped.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0)
      }
    } finally {
      await other.close()
    }
  })

  it('is served on the metrics port only, at GET /metrics only', async () => {
    const onApi = await fetch(`${api.url}/metrics`)
    expect(onApi.status).toBe(400)
    expect(onApi.headers.get('x-amzn-errortype')).toBe('UnknownOperationException')
    expect((await fetch(`${metricsAt.url}/`)).status).toBe(404)
    expect((await fetch(`${metricsAt.url}/metrics`, { method: 'POST' })).status).toBe(404)
    const head = await fetch(`${metricsAt.url}/metrics`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
  })

  it('is off unless asked for', async () => {
    const plain = await createSyncServer({ db: ':memory:' })
    try {
      expect(plain.metrics).toBeUndefined()
      await expect(plain.listenMetrics(0)).rejects.toThrow(/metrics option/)
    } finally {
      await plain.close()
    }
  })
})
