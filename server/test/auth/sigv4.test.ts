import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Sha256 as PureSha256 } from '@aws-crypto/sha256-js'
import {
  CognitoSyncClient,
  ListRecordsCommand,
  RegisterDeviceCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { HttpRequest, HttpResponse } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import AWS from 'aws-sdk'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  combineResolvers,
  createAdminKeys,
  createCredentialIssuer,
  lookupAt,
} from '../../src/auth/credentials.js'
import { type CredentialLookup, type SignedRequest, verifySigV4 } from '../../src/auth/sigv4.js'
import { CognitoError } from '../../src/errors.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'

const POOL = 'us-east-1:0f3a2b1c-aaaa-bbbb-cccc-000000000001'
const IDENTITY = 'us-east-1:8d2c4a9e-1111-2222-3333-444455556666'
const DATASET_PATH = `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(IDENTITY)}/datasets/my.data_set-1`
/** Characters a SyncSessionToken or next token may carry, all of which need escaping in a query. */
const AWKWARD = "a+b/c=d e&f%g~h!i'j(k)l*m:n?"
const ADMIN = { accessKeyId: 'AKIDADMINEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const T0 = Date.UTC(2024, 4, 17, 12, 30, 45)

const issuer = createCredentialIssuer('test-token-secret')
const resolver = combineResolvers(issuer, createAdminKeys([ADMIN]))
const lookup = (now: number): CredentialLookup => lookupAt(resolver, now)
const identityCredentials = (now: number, ttlMs?: number) => {
  const issued = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, now, ttlMs)
  return {
    accessKeyId: issued.AccessKeyId,
    secretAccessKey: issued.SecretKey,
    sessionToken: issued.SessionToken,
  }
}
const identityPrincipal = { kind: 'identity', identityPoolId: POOL, identityId: IDENTITY }
const developerPrincipal = { kind: 'developer', accessKeyId: ADMIN.accessKeyId }

/** How the v3 SDK's HTTP handlers put a query map on the wire (sorted keys, RFC 3986 escaping). */
const escapeRfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
const toRawQuery = (query: Record<string, string | string[] | null> | undefined) =>
  Object.keys(query ?? {})
    .sort()
    .flatMap((key) => {
      const value = query?.[key]
      if (value === null || value === undefined) return [escapeRfc3986(key)]
      return (Array.isArray(value) ? value : [value]).map((v) => `${escapeRfc3986(key)}=${escapeRfc3986(v)}`)
    })
    .join('&')

const bytes = (body: unknown): Uint8Array => {
  if (body === undefined || body === null) return new Uint8Array()
  if (typeof body === 'string') return new TextEncoder().encode(body)
  if (body instanceof Uint8Array) return body
  throw new Error(`unexpected body ${typeof body}`)
}

/** A captured SDK request, as the HTTP layer would hand it to the verifier. */
const fromSmithy = (request: HttpRequest): SignedRequest => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) headers[name] = value
  return {
    method: request.method,
    rawPath: request.path,
    rawQuery: toRawQuery(request.query as Record<string, string | string[] | null>),
    headers,
    body: bytes(request.body),
    host: request.headers.host ?? request.headers.Host ?? request.hostname,
  }
}

/** Signs like the v3 SDK: the Smithy signer with its defaults (`uriEscapePath`, `applyChecksum`). */
async function signV3Style(
  options: {
    method?: string
    path?: string
    query?: Record<string, string | string[]>
    body?: string
    headers?: Record<string, string>
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
    service?: string
    region?: string
    applyChecksum?: boolean
    at?: number
  } = {},
): Promise<SignedRequest> {
  const request = new HttpRequest({
    method: options.method ?? 'POST',
    protocol: 'https:',
    hostname: 'sync.example.com',
    path: options.path ?? DATASET_PATH,
    query: options.query ?? {},
    headers: {
      host: 'sync.example.com',
      'content-type': 'application/json',
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
  })
  const signer = new SignatureV4({
    service: options.service ?? 'cognito-sync',
    region: options.region ?? 'us-east-1',
    credentials: options.credentials ?? identityCredentials(options.at ?? T0),
    sha256: PureSha256,
    ...(options.applyChecksum === undefined ? {} : { applyChecksum: options.applyChecksum }),
  })
  const signed = (await signer.sign(request, { signingDate: new Date(options.at ?? T0) })) as HttpRequest
  return fromSmithy(signed)
}

const BODY = JSON.stringify({
  SyncSessionToken: AWKWARD,
  RecordPatches: [{ Op: 'replace', Key: 'k', Value: 'välue ✓', SyncCount: 0 }],
})

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(CognitoError)
    expect((error as CognitoError).type).toBe('NotAuthorizedException')
    return (error as CognitoError).message
  }
  throw new Error('expected the request to be refused')
}

const withHeader = (request: SignedRequest, name: string, value: string | undefined): SignedRequest => {
  const headers: Record<string, string> = {}
  for (const [key, v] of Object.entries(request.headers as Record<string, string>)) {
    if (key.toLowerCase() !== name) headers[key] = v
  }
  if (value !== undefined) headers[name] = value
  return { ...request, headers }
}
const header = (request: SignedRequest, name: string): string =>
  Object.entries(request.headers as Record<string, string>).find(
    ([key]) => key.toLowerCase() === name,
  )?.[1] ?? ''

describe('verifySigV4 with the Smithy signer, as the v3 SDK drives it', () => {
  it('accepts identity credentials over a %3A path, an escaped query and a JSON body', async () => {
    const request = await signV3Style({
      query: { lastSyncCount: '5', maxResults: '10', syncSessionToken: AWKWARD },
      body: BODY,
    })
    expect(request.rawPath).toContain('us-east-1%3A')
    expect(header(request, 'x-amz-content-sha256')).toMatch(/^[0-9a-f]{64}$/)
    await expect(verifySigV4(request, lookup(T0), T0)).resolves.toEqual(identityPrincipal)
  })

  it('accepts admin keys as the developer principal', async () => {
    const request = await signV3Style({ method: 'GET', credentials: ADMIN })
    await expect(verifySigV4(request, lookup(T0), T0)).resolves.toEqual(developerPrincipal)
  })

  it('accepts any region in the scope and repeated query keys', async () => {
    const request = await signV3Style({ region: 'ap-southeast-2', query: { a: ['2', '1', 'x y'], b: '' } })
    await expect(verifySigV4(request, lookup(T0), T0)).resolves.toEqual(identityPrincipal)
  })

  it('accepts a request without x-amz-content-sha256, as botocore sends them', async () => {
    const request = await signV3Style({ body: BODY, applyChecksum: false })
    expect(header(request, 'x-amz-content-sha256')).toBe('')
    await expect(verifySigV4(request, lookup(T0), T0)).resolves.toEqual(identityPrincipal)
  })

  it('accepts headers as a Headers object and signed-header values with folded whitespace', async () => {
    const request = await signV3Style({ body: BODY, headers: { 'x-custom': '  a   b  ' } })
    const headers = new Headers(request.headers as Record<string, string>)
    await expect(verifySigV4({ ...request, headers }, lookup(T0), T0)).resolves.toEqual(identityPrincipal)
  })

  it('refuses a tampered body, with and without x-amz-content-sha256', async () => {
    const tampered = new TextEncoder().encode(BODY.replace('välue', 'value'))
    const withChecksum = await signV3Style({ body: BODY })
    expect(await refusal(verifySigV4({ ...withChecksum, body: tampered }, lookup(T0), T0))).toMatch(
      /x-amz-content-sha256/,
    )
    const withoutChecksum = await signV3Style({ body: BODY, applyChecksum: false })
    expect(await refusal(verifySigV4({ ...withoutChecksum, body: tampered }, lookup(T0), T0))).toMatch(
      /signature we calculated does not match/,
    )
  })

  it('refuses a tampered body even when the checksum header is updated to match it', async () => {
    const request = await signV3Style({ body: BODY })
    const tampered = new TextEncoder().encode('{"RecordPatches":[]}')
    const forged = withHeader(
      { ...request, body: tampered },
      'x-amz-content-sha256',
      createHash('sha256').update(tampered).digest('hex'),
    )
    expect(await refusal(verifySigV4(forged, lookup(T0), T0))).toMatch(
      /signature we calculated does not match/,
    )
  })

  it('refuses a tampered path, query, method or signed header', async () => {
    const request = await signV3Style({
      method: 'GET',
      path: `${DATASET_PATH}/records`,
      query: { lastSyncCount: '5', syncSessionToken: AWKWARD },
    })
    await expect(verifySigV4(request, lookup(T0), T0)).resolves.toEqual(identityPrincipal)
    const variants: SignedRequest[] = [
      { ...request, rawPath: request.rawPath.replace('my.data_set-1', 'other') },
      { ...request, rawPath: request.rawPath.replace('%3A', ':') },
      { ...request, rawQuery: request.rawQuery.replace('lastSyncCount=5', 'lastSyncCount=0') },
      { ...request, rawQuery: `${request.rawQuery}&maxResults=1` },
      { ...request, rawQuery: request.rawQuery.replace(/&?lastSyncCount=5/, '') },
      { ...request, method: 'DELETE' },
      withHeader(request, 'content-type', 'text/plain'),
      { ...request, host: 'evil.example.com' },
    ]
    for (const variant of variants) {
      expect(await refusal(verifySigV4(variant, lookup(T0), T0))).toMatch(
        /signature we calculated does not match/,
      )
    }
  })

  it('refuses a missing signed header', async () => {
    const request = await signV3Style({ body: BODY })
    expect(
      await refusal(verifySigV4(withHeader(request, 'content-type', undefined), lookup(T0), T0)),
    ).toMatch(/signed header 'content-type' is missing/)
  })

  it('refuses a wrong secret and an unknown access key', async () => {
    const wrongSecret = await signV3Style({ credentials: { ...ADMIN, secretAccessKey: 'not-the-secret' } })
    expect(await refusal(verifySigV4(wrongSecret, lookup(T0), T0))).toMatch(/signature we calculated/)
    const unknown = await signV3Style({ credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } })
    expect(await refusal(verifySigV4(unknown, lookup(T0), T0))).toMatch(
      /security token included in the request/,
    )
  })

  it('refuses another service in the credential scope', async () => {
    const request = await signV3Style({ service: 'cognito-identity' })
    expect(await refusal(verifySigV4(request, lookup(T0), T0))).toMatch(
      /scoped to the service 'cognito-sync'/,
    )
  })

  it('allows 15 minutes of clock skew either way, and no more', async () => {
    const request = await signV3Style({ body: BODY, at: T0 })
    const minute = 60_000
    for (const now of [T0 - 15 * minute, T0 - 14 * minute, T0 + 14 * minute, T0 + 15 * minute]) {
      await expect(verifySigV4(request, lookup(now), now)).resolves.toEqual(identityPrincipal)
    }
    expect(await refusal(verifySigV4(request, lookup(T0 + 16 * minute), T0 + 16 * minute))).toMatch(
      /Signature expired/,
    )
    expect(await refusal(verifySigV4(request, lookup(T0 - 16 * minute), T0 - 16 * minute))).toMatch(
      /not yet current/,
    )
  })

  it('refuses an expired session token, and a session token swapped after signing', async () => {
    const expired = await signV3Style({ credentials: identityCredentials(T0 - 3600_000, 3600_000) })
    expect(await refusal(verifySigV4(expired, lookup(T0), T0))).toMatch(/security token/)

    const request = await signV3Style({ body: BODY })
    const other = issuer.issue({ identityPoolId: POOL, identityId: 'us-east-1:0000' }, T0)
    expect(
      await refusal(
        verifySigV4(withHeader(request, 'x-amz-security-token', other.SessionToken), lookup(T0), T0),
      ),
    ).toMatch(/security token/)
    expect(
      await refusal(verifySigV4(withHeader(request, 'x-amz-security-token', undefined), lookup(T0), T0)),
    ).toMatch(/security token|missing/)
  })

  it('refuses admin keys presented with a session token', async () => {
    const request = await signV3Style({ credentials: { ...ADMIN, sessionToken: 'anything' } })
    expect(await refusal(verifySigV4(request, lookup(T0), T0))).toMatch(/security token/)
  })

  it('refuses a request without an Authorization header, or with presigned query parameters', async () => {
    const request = await signV3Style({ body: BODY })
    expect(
      await refusal(verifySigV4(withHeader(request, 'authorization', undefined), lookup(T0), T0)),
    ).toMatch(/Missing Authentication Token/)
    const presigned = { ...request, rawQuery: 'X-Amz-Signature=abc' }
    expect(await refusal(verifySigV4(presigned, lookup(T0), T0))).toMatch(/Presigned/)
  })

  it('refuses a date header that is missing, malformed, unsigned or off the scope day', async () => {
    const request = await signV3Style({ body: BODY })
    const cases: Array<[string | undefined, RegExp]> = [
      [undefined, /must carry an 'x-amz-date' or 'date'/],
      ['2024-05-17T12:30:45Z', /form YYYYMMDDTHHMMSSZ/],
      ['20240230T123045Z', /not a valid date/],
      ['20240518T000000Z', /scoped to a valid date/],
    ]
    for (const [value, message] of cases) {
      expect(await refusal(verifySigV4(withHeader(request, 'x-amz-date', value), lookup(T0), T0))).toMatch(
        message,
      )
    }
    const auth = header(request, 'authorization').replace(/;x-amz-date/, '')
    expect(await refusal(verifySigV4(withHeader(request, 'authorization', auth), lookup(T0), T0))).toMatch(
      /'x-amz-date' header must be among the SignedHeaders/,
    )
  })

  it('refuses malformed Authorization headers with NotAuthorizedException only', async () => {
    const request = await signV3Style({ body: BODY })
    const valid = header(request, 'authorization')
    const fragments = [
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256 ',
      'AWS4-ECDSA-P256-SHA256',
      ' Credential=',
      'Credential=AKID/20240517/us-east-1/cognito-sync/aws4_request',
      `Credential=${issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0).AccessKeyId}/20240517/us-east-1/cognito-sync/aws4_request`,
      'Credential=ASIA/2024/us-east-1/cognito-sync/aws4_request',
      'Credential=a/b/c/d/e/f',
      'SignedHeaders=host;x-amz-date',
      'SignedHeaders=x-amz-date;host',
      'SignedHeaders=Host',
      'SignedHeaders=',
      'Signature=',
      `Signature=${'a'.repeat(64)}`,
      `Signature=${'A'.repeat(64)}`,
      ',',
      ', ',
      '=',
      '/',
      ';',
      '%',
      '\u0000',
      '__proto__',
      'constructor',
    ]
    const authorization = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.array(fc.constantFrom(...fragments), { maxLength: 8 }).map((parts) => parts.join('')),
      fc
        .tuple(fc.nat({ max: valid.length }), fc.string({ maxLength: 3 }))
        .map(([at, insert]) => valid.slice(0, at) + insert + valid.slice(at + 1)),
    )
    await fc.assert(
      fc.asyncProperty(
        authorization,
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        fc.string(),
        async (auth, amzDate, token, rawQuery) => {
          let candidate = withHeader(request, 'authorization', auth)
          if (amzDate !== undefined) candidate = withHeader(candidate, 'x-amz-date', amzDate)
          if (token !== undefined) candidate = withHeader(candidate, 'x-amz-security-token', token)
          if (rawQuery !== '') candidate = { ...candidate, rawQuery, rawPath: `/${rawQuery}` }
          try {
            await verifySigV4(candidate, lookup(T0), T0)
          } catch (error) {
            return error instanceof CognitoError && error.type === 'NotAuthorizedException'
          }
          // Only the valid header can pass, give or take whitespace between its parameters.
          const squeeze = (s: string) => s.replace(/\s+/g, '')
          return (
            squeeze(auth) === squeeze(valid) &&
            amzDate === undefined &&
            token === undefined &&
            rawQuery === ''
          )
        },
      ),
    )
  })
})

describe('verifySigV4 with the real v3 CognitoSyncClient', () => {
  const captured: HttpRequest[] = []
  const capturingClient = (credentials: {
    accessKeyId: string
    secretAccessKey: string
    sessionToken?: string
  }) =>
    new CognitoSyncClient({
      region: 'us-east-1',
      endpoint: 'https://sync.example.com',
      credentials,
      maxAttempts: 1,
      requestHandler: {
        async handle(request: HttpRequest) {
          captured.push(request)
          return {
            response: new HttpResponse({
              statusCode: 200,
              headers: { 'content-type': 'application/json' },
              body: Readable.from([Buffer.from('{}')]),
            }),
          }
        },
      },
    })

  it('verifies captured ListRecords, UpdateRecords and RegisterDevice requests', async () => {
    const client = capturingClient(identityCredentials(Date.now()))
    await client.send(
      new ListRecordsCommand({
        IdentityPoolId: POOL,
        IdentityId: IDENTITY,
        DatasetName: 'my.data_set-1',
        LastSyncCount: 5,
        MaxResults: 1024,
        NextToken: AWKWARD,
        SyncSessionToken: AWKWARD,
      }),
    )
    await client.send(
      new UpdateRecordsCommand({
        IdentityPoolId: POOL,
        IdentityId: IDENTITY,
        DatasetName: 'my.data_set-1',
        SyncSessionToken: AWKWARD,
        ClientContext: 'eyJjbGllbnQiOnt9fQ==',
        RecordPatches: [
          {
            Op: 'replace',
            Key: 'k',
            Value: 'välue ✓',
            SyncCount: 0,
            DeviceLastModifiedDate: new Date(1715949045123),
          },
        ],
      }),
    )
    await client.send(
      new RegisterDeviceCommand({
        IdentityPoolId: POOL,
        IdentityId: IDENTITY,
        Platform: 'GCM',
        Token: 'device',
      }),
    )
    expect(captured).toHaveLength(3)
    const [list, update, register] = captured.map(fromSmithy) as [SignedRequest, SignedRequest, SignedRequest]

    expect(list.method).toBe('GET')
    expect(list.rawPath).toBe(`${DATASET_PATH}/records`)
    expect(list.rawQuery).toContain('syncSessionToken=a%2Bb%2Fc%3Dd%20e%26f%25g~h%21i%27j%28k%29l%2Am%3An%3F')
    expect(update.method).toBe('POST')
    expect(update.rawPath).toBe(DATASET_PATH)
    expect(JSON.parse(new TextDecoder().decode(update.body))).toMatchObject({ SyncSessionToken: AWKWARD })
    expect(header(update, 'x-amz-client-context')).toBe('eyJjbGllbnQiOnt9fQ==')
    expect(register.rawPath).toBe(
      `/identitypools/${encodeURIComponent(POOL)}/identity/${encodeURIComponent(IDENTITY)}/device`,
    )

    const now = Date.now()
    for (const request of [list, update, register]) {
      await expect(verifySigV4(request, lookup(now), now)).resolves.toEqual(identityPrincipal)
    }
    const tamperedBody = new TextEncoder().encode(
      new TextDecoder().decode(update.body).replace('välue', 'value'),
    )
    await refusal(verifySigV4({ ...update, body: tamperedBody }, lookup(now), now))
    await refusal(
      verifySigV4(
        { ...list, rawQuery: list.rawQuery.replace('lastSyncCount=5', 'lastSyncCount=6') },
        lookup(now),
        now,
      ),
    )
    await refusal(verifySigV4(withHeader(update, 'x-amz-client-context', 'e30='), lookup(now), now))
  })

  it('verifies admin requests', async () => {
    captured.length = 0
    await capturingClient(ADMIN).send(
      new ListRecordsCommand({ IdentityPoolId: POOL, IdentityId: IDENTITY, DatasetName: 'd' }),
    )
    const request = fromSmithy(captured[0] as HttpRequest)
    await expect(verifySigV4(request, lookup(Date.now()), Date.now())).resolves.toEqual(developerPrincipal)
  })
})

describe('verifySigV4 with the real aws-sdk v2 AWS.CognitoSync', () => {
  const v2Client = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
    new AWS.CognitoSync({
      region: 'eu-west-1',
      endpoint: 'https://sync.example.com',
      credentials: new AWS.Credentials(credentials),
    })

  /** Builds and signs without sending: the request's state machine stops before 'send'. */
  const capture = <T>(request: AWS.Request<T, AWS.AWSError>): Promise<SignedRequest> =>
    new Promise((resolve, reject) => {
      const internal = request as unknown as { runTo(state: string, done: (error?: Error) => void): void }
      internal.runTo('send', (error) => {
        if (error) return reject(error)
        const http = request.httpRequest
        const [rawPath = '', rawQuery = ''] = http.path.split('?')
        resolve({
          method: http.method,
          rawPath,
          rawQuery,
          headers: { ...http.headers },
          body: bytes(http.body),
          host: http.headers.Host ?? http.endpoint.host,
        })
      })
    })

  it('verifies signed ListRecords and UpdateRecords requests', async () => {
    const client = v2Client(identityCredentials(Date.now()))
    const list = await capture(
      client.listRecords({
        IdentityPoolId: POOL,
        IdentityId: IDENTITY,
        DatasetName: 'my.data_set-1',
        LastSyncCount: 5,
        MaxResults: 1024,
        SyncSessionToken: AWKWARD,
      }),
    )
    const update = await capture(
      client.updateRecords({
        IdentityPoolId: POOL,
        IdentityId: IDENTITY,
        DatasetName: 'my.data_set-1',
        SyncSessionToken: AWKWARD,
        RecordPatches: [
          {
            Op: 'remove',
            Key: 'gone',
            Value: '',
            SyncCount: 3,
            DeviceLastModifiedDate: new Date(1715949045123),
          },
        ],
      }),
    )
    expect(list.rawPath).toBe(`${DATASET_PATH}/records`)
    expect(list.rawQuery).toContain('maxResults=1024')
    expect(list.rawQuery).toContain('syncSessionToken=a%2Bb%2Fc%3Dd%20e%26f%25g~h%21i%27j%28k%29l%2Am%3An%3F')
    expect(new TextDecoder().decode(update.body)).toContain('"DeviceLastModifiedDate":1715949045.123')

    const now = Date.now()
    await expect(verifySigV4(list, lookup(now), now)).resolves.toEqual(identityPrincipal)
    await expect(verifySigV4(update, lookup(now), now)).resolves.toEqual(identityPrincipal)
    await refusal(verifySigV4({ ...update, body: new TextEncoder().encode('{}') }, lookup(now), now))
    await refusal(
      verifySigV4({ ...list, rawPath: list.rawPath.replace('records', 'records/') }, lookup(now), now),
    )
  })

  it('verifies admin requests', async () => {
    const request = await capture(v2Client(ADMIN).describeIdentityPoolUsage({ IdentityPoolId: POOL }))
    expect(request.rawPath).toBe(`/identitypools/${encodeURIComponent(POOL)}`)
    await expect(verifySigV4(request, lookup(Date.now()), Date.now())).resolves.toEqual(developerPrincipal)
  })
})

describe('verifySigV4 on the wire: v3, v2 and botocore over a real socket', () => {
  interface Received {
    readonly request: SignedRequest
    readonly principal: unknown
  }
  const received: Received[] = []
  let server: Server
  let endpoint: string

  /** What the HTTP layer must do: raw path and query from the request line, the exact body bytes. */
  const toSignedRequest = async (req: IncomingMessage): Promise<SignedRequest> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
    }
    return {
      method: req.method ?? 'GET',
      rawPath: q < 0 ? url : url.slice(0, q),
      rawQuery: q < 0 ? '' : url.slice(q + 1),
      headers,
      body: new Uint8Array(Buffer.concat(chunks)),
      host: req.headers.host ?? '',
    }
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      void toSignedRequest(req).then(async (request) => {
        const now = Date.now()
        const principal = await verifySigV4(request, lookup(now), now).catch((error: unknown) => error)
        received.push({ request, principal })
        res.setHeader('content-type', 'application/json')
        res.end('{}')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const listInput = {
    IdentityPoolId: POOL,
    IdentityId: IDENTITY,
    DatasetName: 'my.data_set-1',
    LastSyncCount: 5,
    MaxResults: 10,
    SyncSessionToken: AWKWARD,
  }
  const updateInput = {
    IdentityPoolId: POOL,
    IdentityId: IDENTITY,
    DatasetName: 'my.data_set-1',
    SyncSessionToken: AWKWARD,
    RecordPatches: [{ Op: 'replace' as const, Key: 'k', Value: 'välue ✓', SyncCount: 0 }],
  }

  it('v3 CognitoSyncClient with its default Node handler', async () => {
    received.length = 0
    const client = new CognitoSyncClient({
      region: 'us-east-1',
      endpoint,
      credentials: identityCredentials(Date.now()),
    })
    await client.send(new ListRecordsCommand(listInput))
    await client.send(new UpdateRecordsCommand(updateInput))
    client.destroy()
    expect(received.map((r) => r.principal)).toEqual([identityPrincipal, identityPrincipal])
    expect(received[0]?.request.rawPath).toContain('us-east-1%3A')
    expect(received[0]?.request.host).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('aws-sdk v2 AWS.CognitoSync', async () => {
    received.length = 0
    const client = new AWS.CognitoSync({
      region: 'us-east-1',
      endpoint,
      credentials: new AWS.Credentials(identityCredentials(Date.now())),
    })
    await client.listRecords(listInput).promise()
    await client.updateRecords(updateInput).promise()
    expect(received.map((r) => r.principal)).toEqual([identityPrincipal, identityPrincipal])
  })

  it('Python botocore, which sends no x-amz-content-sha256', async () => {
    received.length = 0
    const credentials = identityCredentials(Date.now())
    const script = `
import json, sys, botocore.session
args = json.loads(sys.argv[1])
client = botocore.session.get_session().create_client(
    'cognito-sync', region_name='eu-west-1', endpoint_url=args['endpoint'],
    aws_access_key_id=args['accessKeyId'], aws_secret_access_key=args['secretAccessKey'],
    aws_session_token=args['sessionToken'])
client.list_records(**args['list'])
client.update_records(**args['update'])
`
    const argument = JSON.stringify({ endpoint, ...credentials, list: listInput, update: updateInput })
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('python3', ['-c', script, argument], { stdio: ['ignore', 'ignore', 'inherit'] })
      child.on('error', reject)
      child.on('exit', resolve)
    })
    expect(exitCode).toBe(0)
    expect(received.map((r) => r.principal)).toEqual([identityPrincipal, identityPrincipal])
    for (const { request } of received) {
      expect((request.headers as Headers).has('x-amz-content-sha256')).toBe(false)
    }
  })
})
