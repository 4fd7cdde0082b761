import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { PushMessage } from '../../src/push/sender.js'
import { createFcmSender, type FcmSenderOptions } from '../../src/push/senders/fcm.js'

const PROJECT = 'pushsync-test'
const CLIENT_EMAIL = 'pushsync@pushsync-test.iam.gserviceaccount.com'
const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const DEVICE = 'fcm-registration-token:APA91b-example'

interface Scripted {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Record<string, string>
}

interface SendRequest {
  readonly accessToken: string
  readonly body: unknown
  readonly problems: readonly string[]
}

/**
 * Google's OAuth 2 token endpoint and the FCM HTTP v1 send endpoint: the token endpoint checks the
 * service-account assertion against the account's public key, the send endpoint checks the bearer
 * token it issued and the message shape, then answers from a script (200 when empty).
 */
interface FakeGoogle {
  readonly baseUrl: string
  readonly tokenUri: string
  readonly tokenRequests: { readonly problems: readonly string[] }[]
  readonly sends: SendRequest[]
  readonly script: Scripted[]
  /** Access tokens the send endpoint no longer accepts. */
  readonly revoked: Set<string>
  /** Forgets requests, script and issued tokens: each test's tokens count from 1 again. */
  reset(): void
  close(): Promise<void>
}

let account: { privateKeyPem: string; publicKey: KeyObject }

function message(overrides: Partial<PushMessage> = {}): PushMessage {
  return {
    deviceId: 'device-1',
    platform: 'GCM',
    token: DEVICE,
    identityPoolId: 'us-east-1:11111111-2222-4333-8444-555555555555',
    identityId: 'us-east-1:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    datasetName: 'settings',
    syncCount: 42,
    ...overrides,
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => {
      text += chunk
    })
    request.on('end', () => resolve(text))
    request.on('error', reject)
  })
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers })
  response.end(JSON.stringify(body))
}

function messageProblems(body: unknown): string[] {
  const problems: string[] = []
  const record = (value: unknown): Record<string, unknown> | undefined =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  const outer = record(body)
  const inner = record(outer?.message)
  if (inner === undefined) return ['no message']
  if (typeof inner.token !== 'string') problems.push('message.token is not a string')
  const data = record(inner.data)
  if (data === undefined) problems.push('no message.data')
  for (const [name, value] of Object.entries(data ?? {})) {
    if (typeof value !== 'string') problems.push(`data.${name} is not a string`)
  }
  if (inner.notification !== undefined) problems.push('a notification block makes it no data message')
  return problems
}

async function startGoogle(): Promise<FakeGoogle> {
  const tokenRequests: { problems: string[] }[] = []
  const sends: SendRequest[] = []
  const script: Scripted[] = []
  const issued = new Set<string>()
  const revoked = new Set<string>()
  let tokenUri = ''

  const serveToken = async (request: IncomingMessage, response: ServerResponse) => {
    const problems: string[] = []
    if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      problems.push(`content-type ${request.headers['content-type']}`)
    }
    const form = new URLSearchParams(await readBody(request))
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      problems.push(`grant_type ${form.get('grant_type')}`)
    }
    const assertion = form.get('assertion') ?? ''
    try {
      const { payload } = await jwtVerify(assertion, account.publicKey, {
        algorithms: ['RS256'],
        issuer: CLIENT_EMAIL,
        audience: tokenUri,
      })
      if (decodeProtectedHeader(assertion).alg !== 'RS256') problems.push('alg')
      if (payload.scope !== SCOPE) problems.push(`scope ${String(payload.scope)}`)
      if (typeof payload.iat !== 'number' || payload.exp !== payload.iat + 3600)
        problems.push('exp is not iat + 3600')
    } catch (error) {
      problems.push(`assertion: ${(error as Error).message}`)
    }
    tokenRequests.push({ problems })
    if (problems.length > 0) {
      json(response, 400, { error: 'invalid_grant', error_description: problems.join('; ') })
      return
    }
    const accessToken = `ya29.test-${issued.size + 1}`
    issued.add(accessToken)
    json(response, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' })
  }

  const serveSend = async (request: IncomingMessage, response: ServerResponse) => {
    const accessToken = String(request.headers.authorization ?? '').replace(/^Bearer /, '')
    const text = await readBody(request)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    const problems = messageProblems(body)
    sends.push({ accessToken, body, problems })
    if (!issued.has(accessToken) || revoked.has(accessToken)) {
      json(response, 401, {
        error: {
          code: 401,
          message: 'Request had invalid authentication credentials.',
          status: 'UNAUTHENTICATED',
        },
      })
      return
    }
    if (problems.length > 0) {
      json(response, 400, { error: { code: 400, message: problems.join('; '), status: 'INVALID_ARGUMENT' } })
      return
    }
    const next = script.shift()
    if (next === undefined) {
      json(response, 200, { name: `projects/${PROJECT}/messages/0:1700000000000000%abc` })
      return
    }
    json(response, next.status, next.body ?? {}, next.headers)
  }

  const server: Server = createServer((request, response) => {
    const path = request.url ?? ''
    const handler =
      request.method === 'POST' && path === '/token'
        ? serveToken
        : request.method === 'POST' && path === `/v1/projects/${PROJECT}/messages:send`
          ? serveSend
          : undefined
    if (handler === undefined) {
      json(response, 404, { error: { code: 404, message: `no route ${path}`, status: 'NOT_FOUND' } })
      return
    }
    handler(request, response).catch((error: unknown) => json(response, 500, { error: String(error) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const baseUrl = `http://127.0.0.1:${port}`
  tokenUri = `${baseUrl}/token`
  return {
    baseUrl,
    tokenUri,
    tokenRequests,
    sends,
    script,
    revoked,
    reset() {
      tokenRequests.length = 0
      sends.length = 0
      script.length = 0
      issued.clear()
      revoked.clear()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const fcmError = (status: number, code: string, errorCode?: string) => ({
  status,
  body: {
    error: {
      code: status,
      message: `${code} from the test`,
      status: code,
      ...(errorCode === undefined
        ? {}
        : { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] }),
    },
  },
})

beforeAll(() => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
  account = {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey,
  }
})

describe('FCM sender', () => {
  let google: FakeGoogle
  let clock: number

  const createSender = (extra: Partial<FcmSenderOptions> = {}) =>
    createFcmSender({
      serviceAccount: {
        project_id: PROJECT,
        client_email: CLIENT_EMAIL,
        private_key: account.privateKeyPem,
        token_uri: google.tokenUri,
      },
      apiBaseUrl: google.baseUrl,
      now: () => clock,
      ...extra,
    })

  beforeAll(async () => {
    google = await startGoogle()
  })

  afterAll(async () => {
    await google.close()
  })

  beforeEach(() => {
    // The token endpoint verifies the assertion against the real time, so the clock starts there.
    clock = Date.now()
    google.reset()
  })

  it('declares the GCM platform', () => {
    expect(createSender().platforms).toEqual(['GCM'])
  })

  it('gets an access token with a valid assertion and sends a data message of strings', async () => {
    const sender = createSender()
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })

    expect(google.tokenRequests).toEqual([{ problems: [] }])
    expect(google.sends).toHaveLength(1)
    const [sent] = google.sends
    expect(sent?.problems).toEqual([])
    expect(sent?.accessToken).toBe('ya29.test-1')
    const body = sent?.body as { message: { android: { collapse_key: string } } }
    expect(body).toEqual({
      message: {
        token: DEVICE,
        data: {
          source: 'cognito-sync',
          identityPoolId: 'us-east-1:11111111-2222-4333-8444-555555555555',
          identityId: 'us-east-1:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
          datasetName: 'settings',
          syncCount: '42',
        },
        android: { priority: 'HIGH', collapse_key: expect.any(String) },
      },
    })
    expect(body.message.android.collapse_key.length).toBeGreaterThan(0)
  })

  it('collapses per dataset', async () => {
    const sender = createSender()
    await sender.send(message())
    await sender.send(message({ syncCount: 43 }))
    await sender.send(message({ datasetName: 'other' }))
    const keys = google.sends.map(
      (sent) =>
        (sent.body as { message: { android: { collapse_key: string } } }).message.android.collapse_key,
    )
    expect(keys[0]).toBe(keys[1])
    expect(keys[2]).not.toBe(keys[0])
  })

  it('requests one access token for several sends, concurrent or not, until it nears expiry', async () => {
    const sender = createSender()
    const outcomes = await Promise.all([
      sender.send(message()),
      sender.send(message({ datasetName: 'b' })),
      sender.send(message({ datasetName: 'c' })),
    ])
    expect(outcomes.every((outcome) => outcome.kind === 'delivered')).toBe(true)
    clock += 50 * 60 * 1000
    await sender.send(message({ datasetName: 'd' }))
    expect(google.tokenRequests).toHaveLength(1)
    expect(new Set(google.sends.map((sent) => sent.accessToken))).toEqual(new Set(['ya29.test-1']))

    // expires_in is 3599 s: near the hour the token is replaced before it lapses.
    clock += 9 * 60 * 1000
    await sender.send(message({ datasetName: 'e' }))
    expect(google.tokenRequests).toHaveLength(2)
    expect(google.sends.at(-1)?.accessToken).toBe('ya29.test-2')
  })

  it('maps UNREGISTERED and 404 NOT_FOUND to gone', async () => {
    const sender = createSender()
    google.script.push(
      fcmError(404, 'NOT_FOUND', 'UNREGISTERED'),
      fcmError(400, 'INVALID_ARGUMENT', 'UNREGISTERED'),
    )
    expect(await sender.send(message())).toEqual({
      kind: 'gone',
      reason: 'FCM 404 NOT_FOUND/UNREGISTERED: NOT_FOUND from the test',
    })
    const second = await sender.send(message())
    expect(second.kind).toBe('gone')
  })

  it('maps 503 and 429 to retry, passing Retry-After on', async () => {
    const sender = createSender()
    google.script.push(
      { ...fcmError(503, 'UNAVAILABLE'), headers: { 'retry-after': '30' } },
      fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'),
      fcmError(500, 'INTERNAL', 'INTERNAL'),
    )
    expect(await sender.send(message())).toEqual({
      kind: 'retry',
      reason: 'FCM 503 UNAVAILABLE: UNAVAILABLE from the test',
      retryAfterMs: 30_000,
    })
    expect(await sender.send(message())).toEqual({
      kind: 'retry',
      reason: 'FCM 429 RESOURCE_EXHAUSTED/QUOTA_EXCEEDED: RESOURCE_EXHAUSTED from the test',
    })
    expect((await sender.send(message())).kind).toBe('retry')
  })

  it('refreshes the access token once on 401 and succeeds with the new one', async () => {
    const sender = createSender()
    await sender.send(message())
    google.revoked.add('ya29.test-1')
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })
    expect(google.tokenRequests).toHaveLength(2)
    expect(google.sends.map((sent) => sent.accessToken)).toEqual([
      'ya29.test-1',
      'ya29.test-1',
      'ya29.test-2',
    ])
  })

  it('gives up when the fresh token is refused too', async () => {
    const sender = createSender()
    google.script.push(fcmError(401, 'UNAUTHENTICATED'), fcmError(401, 'UNAUTHENTICATED'))
    expect(await sender.send(message())).toEqual({
      kind: 'failed',
      reason: 'FCM 401 UNAUTHENTICATED: UNAUTHENTICATED from the test',
    })
    expect(google.sends).toHaveLength(2)
    expect(google.tokenRequests).toHaveLength(2)
  })

  it('maps INVALID_ARGUMENT to failed', async () => {
    const sender = createSender()
    google.script.push(fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'))
    expect(await sender.send(message())).toEqual({
      kind: 'failed',
      reason: 'FCM 400 INVALID_ARGUMENT: INVALID_ARGUMENT from the test',
    })
  })

  it('maps a refused assertion to failed and an unreachable token endpoint to retry', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const wrongKey = createFcmSender({
      serviceAccount: {
        project_id: PROJECT,
        client_email: CLIENT_EMAIL,
        private_key: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        token_uri: google.tokenUri,
      },
      apiBaseUrl: google.baseUrl,
    })
    const refused = await wrongKey.send(message())
    expect(refused.kind).toBe('failed')
    expect(refused.kind === 'failed' && refused.reason).toMatch(/invalid_grant/)
    expect(google.sends).toHaveLength(0)

    const unreachable = createFcmSender({
      serviceAccount: {
        project_id: PROJECT,
        client_email: CLIENT_EMAIL,
        private_key: account.privateKeyPem,
        token_uri: 'http://127.0.0.1:1/token',
      },
      apiBaseUrl: google.baseUrl,
    })
    expect((await unreachable.send(message())).kind).toBe('retry')
  })

  it('maps an unreachable send endpoint to retry', async () => {
    const sender = createSender({ apiBaseUrl: 'http://127.0.0.1:1' })
    const outcome = await sender.send(message())
    expect(outcome.kind).toBe('retry')
  })

  it('uses the fetch it is given', async () => {
    const urls: string[] = []
    const sender = createSender({
      fetch: (input, init) => {
        urls.push(String(input))
        return fetch(input, init)
      },
    })
    expect(await sender.send(message())).toEqual({ kind: 'delivered' })
    expect(urls).toEqual([google.tokenUri, `${google.baseUrl}/v1/projects/${PROJECT}/messages:send`])
  })

  it('refuses a private key that is not RSA when created', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expect(() =>
      createFcmSender({
        serviceAccount: {
          project_id: PROJECT,
          client_email: CLIENT_EMAIL,
          private_key: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        },
      }),
    ).toThrow(/RSA/)
  })
})
