/**
 * A socket message of the identity's own operations runs without a web Request (createSocketRunner):
 * it must be answered exactly as the same operation over HTTP. Two identities of one server take
 * the same random steps, one over HTTP and one over its socket, and every answer must match.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import { type Identity, signInAsGuest } from '../helpers/guest.js'
import { parseExposition } from '../helpers/prometheus.js'
import { call, identityPathIn, openSocket } from '../helpers/socket.js'

const POOL = 'us-east-1:5e5e0000-0000-4000-8000-0000000000ad'
const BODY_LIMIT = 4096
const enc = encodeURIComponent

type Method = 'GET' | 'POST' | 'DELETE'

/** A step's body, resolved per identity: `write` carries the identity's last session token. */
type BodyKind =
  | { readonly kind: 'write'; readonly token: 'last' | 'garbage' | 'none'; readonly patches: object[] }
  | { readonly kind: 'raw'; readonly value: object }

interface Step {
  readonly method: Method
  /** The path under the identity's own, query included, encoded as a client sends it. */
  readonly suffix: string
  readonly body?: BodyKind
}

// Mostly two valid names, so that steps meet on a dataset and writes land; some that are refused.
const datasetNames = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('notes', 'todo') },
  { weight: 2, arbitrary: fc.constantFrom('bad name', 'a'.repeat(129), 'ünï', 'x:y.z-_') },
)
// Dot segments are resolved before anything runs, on the socket (which then refuses a path that
// leaves the identity's own) as by HTTP clients: socket.test.ts covers them.
const encodedDataset = fc.oneof(
  { weight: 12, arbitrary: datasetNames.map(enc) },
  { weight: 1, arbitrary: fc.constantFrom('%ZZ', 'x%2Fy', '%20') },
)
const queryValues = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('0', '1', '2') },
  { weight: 1, arbitrary: fc.constantFrom('-1', 'abc', '', '99999999999', '1.5') },
)
const patches = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        Op: fc.constantFrom('replace', 'remove'),
        Key: fc.constantFrom('k', 'l'),
        Value: fc.constantFrom('v', 'w'),
        SyncCount: fc.constantFrom(0, 0, 1, 2),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        Op: fc.constantFrom('replace', 'upsert'),
        Key: fc.constantFrom('k', '', 'x'.repeat(200)),
        Value: fc.option(fc.constantFrom('v', ''), { nil: undefined }),
        SyncCount: fc.constantFrom(0, -1),
      }),
    },
  ),
  { minLength: 0, maxLength: 3 },
)
const bodies: fc.Arbitrary<BodyKind> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      token: fc.constantFrom('last' as const, 'last' as const, 'garbage' as const, 'none' as const),
      patches,
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<object>(
        {},
        { RecordPatches: 'x' },
        { SyncSessionToken: 5, RecordPatches: [] },
        { DeviceId: 'd'.repeat(300), RecordPatches: [] },
        // Over the server's body limit: 413 on either channel.
        { pad: 'p'.repeat(BODY_LIMIT + 100) },
      )
      .map((value) => ({ kind: 'raw' as const, value })),
  },
)

const listRecords = fc
  .tuple(encodedDataset, queryValues, fc.constantFrom(false, false, false, true))
  .map(
    ([d, n, garbage]) =>
      `datasets/${d}/records?lastSyncCount=${n}${garbage ? '&syncSessionToken=garbage' : ''}`,
  )

// Weighted towards the sync cycle (ListRecords, then UpdateRecords with its token), so that
// writes land and later steps see data; every identity route and odd paths besides.
const steps: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ method: fc.constant<Method>('GET'), suffix: listRecords }) },
  {
    weight: 4,
    arbitrary: fc.record({
      method: fc.constant<Method>('POST'),
      suffix: encodedDataset.map((d) => `datasets/${d}`),
      body: bodies,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      method: fc.constant<Method>('GET'),
      suffix: fc.oneof(
        fc.constant('datasets'),
        queryValues.map((n) => `datasets?maxResults=${n}`),
        encodedDataset,
        encodedDataset.map((d) => `datasets/${d}`),
        encodedDataset.map((d) => `datasets/${d}/nothing`),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      method: fc.constant<Method>('POST'),
      suffix: fc.oneof(
        fc.constant('merge'),
        encodedDataset.map((d) => `datasets/${d}/subscriptions/device-1`),
      ),
      body: bodies,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      method: fc.constant<Method>('DELETE'),
      suffix: fc.oneof(
        encodedDataset.map((d) => `datasets/${d}`),
        fc.tuple(encodedDataset, queryValues).map(([d, id]) => `datasets/${d}?deviceId=${id}`),
        encodedDataset.map((d) => `datasets/${d}/subscriptions/device-1`),
      ),
    }),
  },
)

/** ListRecords, then UpdateRecords of the same dataset with the token it gave: a device's sync. */
const syncCycle: fc.Arbitrary<Step[]> = fc
  .tuple(fc.constantFrom('notes', 'todo'), fc.constantFrom('0', '1', '2'), patches)
  .map(([dataset, count, written]) => [
    { method: 'GET', suffix: `datasets/${dataset}/records?lastSyncCount=${count}` },
    {
      method: 'POST',
      suffix: `datasets/${dataset}`,
      body: { kind: 'write', token: 'last', patches: written },
    },
  ])

const scenarios: fc.Arbitrary<Step[]> = fc
  .array(fc.oneof({ weight: 2, arbitrary: syncCycle }, { weight: 3, arbitrary: steps.map((one) => [one]) }), {
    minLength: 1,
    maxLength: 8,
  })
  .map((groups) => groups.flat())

/** One identity's side: how it sends a step, and the session token it last received. */
interface Side {
  readonly who: Identity
  send(method: Method, path: string, body: object | undefined): Promise<{ status: number; body: string }>
  lastToken: string
}

function bodyFor(side: Side, body: BodyKind | undefined): object | undefined {
  if (body === undefined) return undefined
  if (body.kind === 'raw') return body.value
  const token = body.token === 'last' ? side.lastToken : body.token === 'garbage' ? 'garbage' : undefined
  return { ...(token === undefined ? {} : { SyncSessionToken: token }), RecordPatches: body.patches }
}

/**
 * An answer with what differs between two identities taken out: the identity's id, session tokens
 * (fresh random ids) and times.
 */
function normalized(text: string, who: Identity): unknown {
  const replaced = text.split(who.identityId).join('<identity>').split(enc(who.identityId)).join('<identity>')
  let value: unknown
  try {
    value = JSON.parse(replaced)
  } catch {
    return replaced
  }
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk)
    if (typeof node !== 'object' || node === null) return node
    return Object.fromEntries(
      Object.entries(node).map(([key, inner]) => [
        key,
        key === 'SyncSessionToken' ? '<token>' : /Date$/.test(key) ? '<date>' : walk(inner),
      ]),
    )
  }
  return walk(value)
}

async function step(side: Side, taken: Step) {
  const path = `${identityPathIn(POOL, side.who.identityId)}/${taken.suffix}`
  const answer = await side.send(taken.method, path, bodyFor(side, taken.body))
  try {
    const token = (JSON.parse(answer.body) as { SyncSessionToken?: unknown }).SyncSessionToken
    if (typeof token === 'string') side.lastToken = token
  } catch {
    // Not JSON: compared as text.
  }
  return { status: answer.status, body: normalized(answer.body, side.who) }
}

let server: SyncServer
let url: string
beforeAll(async () => {
  server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    tokenSecret: 'socket-direct-tests',
    bodyLimit: BODY_LIMIT,
    metrics: { processMetrics: false },
  })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
})

describe('a socket message', () => {
  it('is answered as its HTTP request, status and body, whatever the steps', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (taken) => {
        const overHttp = await signInAsGuest(url, POOL)
        const overSocket = await signInAsGuest(url, POOL)
        const socket = await openSocket(overSocket, { pool: POOL })
        try {
          const http: Side = {
            who: overHttp,
            lastToken: '',
            async send(method, path, body) {
              const response = await fetch(`${url}${path}`, {
                method,
                headers: {
                  authorization: `Bearer ${overHttp.token}`,
                  ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
                },
                ...(method === 'POST' ? { body: body === undefined ? '' : JSON.stringify(body) } : {}),
              })
              return { status: response.status, body: await response.text() }
            },
          }
          const viaSocket: Side = {
            who: overSocket,
            lastToken: '',
            send: (method, path, body) => call(socket, method, path, body),
          }
          for (const [index, next] of taken.entries()) {
            const expected = await step(http, next)
            const actual = await step(viaSocket, next)
            expect(actual, `step ${index}: ${next.method} ${next.suffix}`).toEqual(expected)
          }
        } finally {
          socket.ws.close()
        }
      }),
      { numRuns: 60 },
    )
  })

  it('is counted in the request metrics under its operation', async () => {
    const scrape = async () =>
      parseExposition(
        (await (await server.metrics?.fetch(new Request('http://metrics.test/metrics')))?.text()) ?? '',
      )
    const count = (scraped: Awaited<ReturnType<typeof scrape>>, status: string) =>
      scraped.value('pushsync_http_requests_total', { operation: 'DescribeDataset', status }) ?? 0
    const before = await scrape()
    const who = await signInAsGuest(url, POOL)
    const socket = await openSocket(who, { pool: POOL })
    const missing = await call(socket, 'GET', `${identityPathIn(POOL, who.identityId)}/datasets/absent`)
    expect(missing.status).toBe(404)
    socket.ws.close()
    const after = await scrape()
    expect(count(after, '404') - count(before, '404')).toBe(1)
    expect(count(after, '200')).toBe(count(before, '200'))
  })
})

describe('a throttled identity', () => {
  it('is refused on its socket as over HTTP, with Retry-After', async () => {
    const throttled = await createSyncServer({
      db: ':memory:',
      allowUnauthenticated: true,
      tokenSecret: 'socket-direct-tests',
      throttle: { identity: { rate: 0.001, burst: 2 }, guestGetId: false },
    })
    try {
      const { url: throttledUrl } = await throttled.listen(0)
      const who = await signInAsGuest(throttledUrl, POOL)
      // The upgrade is a request of the identity's too: it takes one token of the two.
      const socket = await openSocket(who, { pool: POOL })
      const path = `${identityPathIn(POOL, who.identityId)}/datasets`
      expect((await call(socket, 'GET', path)).status).toBe(200)
      const refused = await call(socket, 'GET', path)
      expect(refused.status).toBe(429)
      expect(refused.retryAfter).toBe('1000')
      expect(JSON.parse(refused.body)).toEqual({
        __type: 'TooManyRequestsException',
        message: 'Rate exceeded',
      })
      const http = await fetch(`${throttledUrl}${path}`, {
        headers: { authorization: `Bearer ${who.token}` },
      })
      expect(http.status).toBe(429)
      expect(http.headers.get('retry-after')).toBe(refused.retryAfter)
      socket.ws.close()
    } finally {
      await throttled.close()
    }
  })
})

describe('a socket whose token expires', () => {
  it('is refused on its next message, as HTTP refuses the token', async () => {
    const clock = { time: Date.UTC(2026, 0, 1) }
    const timed = await createSyncServer({
      db: ':memory:',
      allowUnauthenticated: true,
      tokenSecret: 'socket-direct-tests',
      now: () => clock.time,
    })
    try {
      const { url: timedUrl } = await timed.listen(0)
      const who = await signInAsGuest(timedUrl, POOL)
      const socket = await openSocket(who, { pool: POOL })
      const path = `${identityPathIn(POOL, who.identityId)}/datasets`
      expect((await call(socket, 'GET', path)).status).toBe(200)
      clock.time += 59 * 60_000
      expect((await call(socket, 'GET', path)).status).toBe(200)
      // The credentials last an hour.
      clock.time += 2 * 60_000
      const refused = await call(socket, 'GET', path)
      const http = await fetch(`${timedUrl}${path}`, { headers: { authorization: `Bearer ${who.token}` } })
      expect(refused.status).toBe(403)
      expect(http.status).toBe(403)
      expect(JSON.parse(refused.body)).toEqual(await http.json())
      socket.ws.close()
    } finally {
      await timed.close()
    }
  })
})
