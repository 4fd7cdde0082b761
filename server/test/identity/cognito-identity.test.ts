import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
  NotAuthorizedException,
} from '@aws-sdk/client-cognito-identity'
import { CognitoSyncClient, ListRecordsCommand } from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
import type { HttpRequest } from '@smithy/protocol-http'
import { HttpResponse } from '@smithy/protocol-http'
import { SignJWT } from 'jose'
import { beforeEach, describe, expect, it } from 'vitest'
import { createCredentialIssuer, lookupAt } from '../../src/auth/credentials.js'
import { verifySigV4 } from '../../src/auth/sigv4.js'
import { CognitoError, type CognitoErrorType } from '../../src/errors.js'
import {
  createJwtLoginVerifier,
  defaultNewIdentityId,
  type GetCredentialsForIdentityResponse,
  type GetIdResponse,
  handleIdentityRequest,
  type IdentityContext,
  type LoginVerifier,
} from '../../src/identity/cognito-identity.js'
import type { SyncStore } from '../../src/store/contract.js'
import { createMemoryStore } from '../../src/store/memory.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const POOL = 'us-east-1:0f3a2b1c-aaaa-bbbb-cccc-000000000001'
const OTHER_POOL = 'eu-west-1:0f3a2b1c-aaaa-bbbb-cccc-000000000002'
const T0 = Date.UTC(2024, 4, 17, 12, 0, 0)
const GET_ID = 'AWSCognitoIdentityService.GetId'
const GET_CREDENTIALS = 'AWSCognitoIdentityService.GetCredentialsForIdentity'

/** Accepts `good:<subject>` for providers `login.example` and `accounts.example.com`. */
const fakeVerifyLogin: LoginVerifier = async (provider, token) => {
  if (provider !== 'login.example' && provider !== 'accounts.example.com') {
    throw new CognitoError(
      'NotAuthorizedException',
      'Token is not from a supported provider of this identity pool.',
    )
  }
  if (!token.startsWith('good:')) throw new Error('bad token')
  return { subject: token.slice(5) }
}

const credentials = createCredentialIssuer('token-secret')
let store: SyncStore
let ctx: IdentityContext

beforeEach(() => {
  store = createMemoryStore()
  ctx = {
    store,
    credentials,
    allowUnauthenticated: true,
    verifyLogin: fakeVerifyLogin,
    now: T0,
    newIdentityId: (pool) => defaultNewIdentityId(pool, randomUUID),
  }
})

const getId = async (body: unknown, context: IdentityContext = ctx) =>
  ((await handleIdentityRequest(GET_ID, body, context)) as GetIdResponse).IdentityId
const getCredentials = async (body: unknown, context: IdentityContext = ctx) =>
  (await handleIdentityRequest(GET_CREDENTIALS, body, context)) as GetCredentialsForIdentityResponse

async function failure(promise: Promise<unknown>, type: CognitoErrorType): Promise<string> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(CognitoError)
    expect((error as CognitoError).type).toBe(type)
    return (error as CognitoError).message
  }
  throw new Error(`expected ${type}`)
}

describe('handleIdentityRequest: dispatch and input validation', () => {
  it('refuses unknown targets', async () => {
    for (const target of [undefined, '', 'GetId', 'AWSCognitoIdentityService.ListIdentities', 'Foo.GetId']) {
      await failure(handleIdentityRequest(target, { IdentityPoolId: POOL }, ctx), 'UnknownOperationException')
    }
  })

  it('refuses bodies that are not objects', async () => {
    for (const body of [null, undefined, [], 'x', 42]) {
      await failure(handleIdentityRequest(GET_ID, body, ctx), 'InvalidParameterException')
      await failure(handleIdentityRequest(GET_CREDENTIALS, body, ctx), 'InvalidParameterException')
    }
  })

  it('refuses missing or malformed pool and identity ids', async () => {
    for (const IdentityPoolId of [
      undefined,
      '',
      42,
      'us-east-1',
      'us-east-1:ZZZ',
      'us east 1:abc',
      `us-east-1:${'a'.repeat(60)}`,
    ]) {
      expect(await failure(getId({ IdentityPoolId }), 'InvalidParameterException')).toMatch(/identityPoolId/)
    }
    for (const IdentityId of [undefined, '', 'nocolon', 'us-east-1:G']) {
      expect(await failure(getCredentials({ IdentityId }), 'InvalidParameterException')).toMatch(/identityId/)
    }
  })

  it('refuses malformed Logins and AccountId', async () => {
    const tooMany = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`p${i}`, 'good:x']))
    for (const Logins of [[], 'x', { 'login.example': 42 }, { 'login.example': '' }, tooMany]) {
      await failure(getId({ IdentityPoolId: POOL, Logins }), 'InvalidParameterException')
    }
    await failure(getId({ IdentityPoolId: POOL, AccountId: 'abc' }), 'InvalidParameterException')
    await expect(getId({ IdentityPoolId: POOL, AccountId: '123456789012' })).resolves.toMatch(/^us-east-1:/)
  })
})

describe('GetId', () => {
  it('creates a new unauthenticated identity in the pool region each time', async () => {
    const a = await getId({ IdentityPoolId: POOL })
    const b = await getId({ IdentityPoolId: POOL, Logins: {} })
    expect(a).toMatch(/^us-east-1:[0-9a-f-]{36}$/)
    expect(b).not.toBe(a)
    const row = await store.transaction((tx) => tx.getIdentity(a))
    expect(row).toEqual({ identityId: a, identityPoolId: POOL, createdAt: T0, mergedInto: null })
  })

  it('refuses unauthenticated identities when the pool does not allow them', async () => {
    expect(
      await failure(
        getId({ IdentityPoolId: POOL }, { ...ctx, allowUnauthenticated: false }),
        'NotAuthorizedException',
      ),
    ).toBe('Unauthenticated access is not supported for this identity pool.')
  })

  it('returns one stable identity per (pool, provider, subject)', async () => {
    const alice = await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:alice' } })
    const noGuests = { ...ctx, allowUnauthenticated: false }
    expect(await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:alice' } }, noGuests)).toBe(
      alice,
    )
    expect(await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:bob' } })).not.toBe(alice)
    expect(await getId({ IdentityPoolId: POOL, Logins: { 'accounts.example.com': 'good:alice' } })).not.toBe(
      alice,
    )
    const elsewhere = await getId({ IdentityPoolId: OTHER_POOL, Logins: { 'login.example': 'good:alice' } })
    expect(elsewhere).toMatch(/^eu-west-1:/)
    expect(elsewhere).not.toBe(alice)
  })

  it('links additional logins to the identity of a known one', async () => {
    const alice = await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:alice' } })
    const both = { 'login.example': 'good:alice', 'accounts.example.com': 'good:alice-g' }
    expect(await getId({ IdentityPoolId: POOL, Logins: both })).toBe(alice)
    expect(await getId({ IdentityPoolId: POOL, Logins: { 'accounts.example.com': 'good:alice-g' } })).toBe(
      alice,
    )
  })

  it('refuses logins linked to different identities', async () => {
    await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:alice' } })
    await getId({ IdentityPoolId: POOL, Logins: { 'accounts.example.com': 'good:bob' } })
    const both = { 'login.example': 'good:alice', 'accounts.example.com': 'good:bob' }
    await failure(getId({ IdentityPoolId: POOL, Logins: both }), 'ResourceConflictException')
  })

  it('follows merges to the surviving identity', async () => {
    const alice = await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:alice' } })
    const survivor = await getId({ IdentityPoolId: POOL })
    await store.transaction(async (tx) => {
      const row = await tx.getIdentity(alice)
      if (row === undefined) throw new Error('missing')
      await tx.putIdentity({ ...row, mergedInto: survivor })
    })
    expect(await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:alice' } })).toBe(survivor)
  })

  it('refuses invalid tokens, unsupported providers, and logins with no verifier', async () => {
    expect(
      await failure(
        getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'forged' } }),
        'NotAuthorizedException',
      ),
    ).toBe('Invalid login token.')
    expect(
      await failure(
        getId({ IdentityPoolId: POOL, Logins: { 'evil.example': 'good:x' } }),
        'NotAuthorizedException',
      ),
    ).toMatch(/not from a supported provider/)
    const { verifyLogin: _, ...withoutVerifier } = ctx
    await failure(
      getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:x' } }, withoutVerifier),
      'NotAuthorizedException',
    )
  })
})

describe('GetCredentialsForIdentity', () => {
  it('issues credentials for a guest, with the expiry in epoch seconds', async () => {
    const identityId = await getId({ IdentityPoolId: POOL })
    const response = await getCredentials({ IdentityId: identityId })
    expect(response.IdentityId).toBe(identityId)
    const { AccessKeyId, SecretKey, SessionToken, Expiration } = response.Credentials
    expect(AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/)
    expect(Expiration).toBe((T0 + 3600_000) / 1000)
    expect(credentials.resolve(AccessKeyId, SessionToken, T0)).toEqual({
      secretAccessKey: SecretKey,
      principal: { kind: 'identity', identityPoolId: POOL, identityId },
    })
  })

  it('refuses unknown and merged identities', async () => {
    await failure(
      getCredentials({ IdentityId: 'us-east-1:00000000-0000-0000-0000-000000000000' }),
      'ResourceNotFoundException',
    )
    const merged = await getId({ IdentityPoolId: POOL })
    await store.transaction(async (tx) => {
      const row = await tx.getIdentity(merged)
      if (row === undefined) throw new Error('missing')
      await tx.putIdentity({ ...row, mergedInto: 'us-east-1:11111111-1111-1111-1111-111111111111' })
    })
    expect(await failure(getCredentials({ IdentityId: merged }), 'NotAuthorizedException')).toMatch(/merged/)
  })

  it('refuses guests when the pool stops allowing them', async () => {
    const identityId = await getId({ IdentityPoolId: POOL })
    expect(
      await failure(
        getCredentials({ IdentityId: identityId }, { ...ctx, allowUnauthenticated: false }),
        'NotAuthorizedException',
      ),
    ).toBe('Unauthenticated access is not supported for this identity pool.')
  })

  it('requires one of its logins for an authenticated identity', async () => {
    const logins = { 'login.example': 'good:alice' }
    const alice = await getId({ IdentityPoolId: POOL, Logins: logins })
    expect(await failure(getCredentials({ IdentityId: alice }), 'NotAuthorizedException')).toBe(
      'Invalid login token.',
    )
    expect((await getCredentials({ IdentityId: alice, Logins: logins })).IdentityId).toBe(alice)
    await failure(
      getCredentials({ IdentityId: alice, Logins: { 'login.example': 'forged' } }),
      'NotAuthorizedException',
    )
    await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:bob' } })
    await failure(
      getCredentials({ IdentityId: alice, Logins: { 'login.example': 'good:bob' } }),
      'NotAuthorizedException',
    )
  })

  it('does not let a new login take over an authenticated identity', async () => {
    const alice = await getId({ IdentityPoolId: POOL, Logins: { 'login.example': 'good:alice' } })
    const mallory = { 'accounts.example.com': 'good:mallory' }
    expect(
      await failure(getCredentials({ IdentityId: alice, Logins: mallory }), 'NotAuthorizedException'),
    ).toBe('Invalid login token.')
    expect(await getId({ IdentityPoolId: POOL, Logins: mallory })).not.toBe(alice)
  })

  it('links new logins to a guest (the upgrade path), which then needs them', async () => {
    const guest = await getId({ IdentityPoolId: POOL })
    const logins = { 'login.example': 'good:carol' }
    expect((await getCredentials({ IdentityId: guest, Logins: logins })).IdentityId).toBe(guest)
    expect(await getId({ IdentityPoolId: POOL, Logins: logins })).toBe(guest)
    await failure(getCredentials({ IdentityId: guest }), 'NotAuthorizedException')
    expect(
      (await getCredentials({ IdentityId: guest, Logins: logins }, { ...ctx, allowUnauthenticated: false }))
        .IdentityId,
    ).toBe(guest)
  })
})

describe('defaultNewIdentityId', () => {
  it('prefixes the pool region', () => {
    expect(defaultNewIdentityId('ap-southeast-2:abc', () => 'u-u-i-d')).toBe('ap-southeast-2:u-u-i-d')
  })
})

describe('createJwtLoginVerifier', () => {
  const secret = 'developer-provider-secret-0123456789'
  const verify = createJwtLoginVerifier({
    issuers: [{ provider: 'login.example', secret, audience: 'my-app', issuer: 'https://login.example' }],
    clock: () => T0,
  })
  const token = (
    claims: Record<string, unknown>,
    options: { aud?: string; iss?: string; exp?: number } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(options.aud ?? 'my-app')
      .setIssuer(options.iss ?? 'https://login.example')
      .setExpirationTime(options.exp ?? Math.floor(T0 / 1000) + 60)
      .sign(new TextEncoder().encode(secret))

  it('returns the subject of a valid token', async () => {
    await expect(verify('login.example', await token({ sub: 'user-7' }))).resolves.toEqual({
      subject: 'user-7',
    })
  })

  it('refuses unknown providers and bad tokens', async () => {
    expect(
      await failure(verify('other.example', await token({ sub: 'x' })), 'NotAuthorizedException'),
    ).toMatch(/supported provider/)
    for (const bad of [
      await token({ sub: 'x' }, { aud: 'another-app' }),
      await token({ sub: 'x' }, { iss: 'https://evil.example' }),
      await token({ sub: 'x' }, { exp: Math.floor(T0 / 1000) - 1 }),
      await token({}),
      'not-a-jwt',
    ]) {
      expect(await failure(verify('login.example', bad), 'NotAuthorizedException')).toMatch(
        /^Invalid login token\./,
      )
    }
  })

  it('plugs into GetId and GetCredentialsForIdentity', async () => {
    const login = { 'login.example': await token({ sub: 'user-7' }) }
    const jwtCtx = { ...ctx, verifyLogin: verify, allowUnauthenticated: false }
    const identityId = await getId({ IdentityPoolId: POOL, Logins: login }, jwtCtx)
    expect(
      await getId(
        { IdentityPoolId: POOL, Logins: { 'login.example': await token({ sub: 'user-7', n: 2 }) } },
        jwtCtx,
      ),
    ).toBe(identityId)
    expect((await getCredentials({ IdentityId: identityId, Logins: login }, jwtCtx)).IdentityId).toBe(
      identityId,
    )
  })
})

describe('with the real AWS SDK v3 credential provider', () => {
  /** Stands in for the HTTP layer: AWS JSON 1.1 in, the handler's object or Cognito error out. */
  const identityClientConfig = (context: () => IdentityContext) =>
    ({
      region: 'us-east-1',
      endpoint: 'https://identity.example.com',
      maxAttempts: 1,
      requestHandler: {
        async handle(request: HttpRequest) {
          expect(request.method).toBe('POST')
          expect(request.path).toBe('/')
          expect(request.headers['content-type']).toBe('application/x-amz-json-1.1')
          const respond = (statusCode: number, headers: Record<string, string>, body: unknown) => ({
            response: new HttpResponse({
              statusCode,
              headers: { 'content-type': 'application/x-amz-json-1.1', ...headers },
              body: Readable.from([Buffer.from(JSON.stringify(body))]),
            }),
          })
          try {
            const raw = request.body as string | Uint8Array
            const body = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw))
            return respond(
              200,
              {},
              await handleIdentityRequest(request.headers['x-amz-target'], body, context()),
            )
          } catch (error) {
            if (!(error instanceof CognitoError)) throw error
            return respond(
              error.status,
              { 'x-amzn-errortype': error.type },
              { __type: error.type, message: error.message },
            )
          }
        },
      },
    }) as const
  const identityClient = (context: () => IdentityContext) =>
    new CognitoIdentityClient(identityClientConfig(context))

  it('obtains credentials with fromCognitoIdentityPool and signs Cognito Sync requests with them', async () => {
    const now = Date.now()
    const provider = fromCognitoIdentityPool({
      clientConfig: identityClientConfig(() => ({ ...ctx, now })),
      identityPoolId: POOL,
    })
    const identity = await provider()
    expect(identity.identityId).toMatch(/^us-east-1:/)
    expect(identity.expiration?.getTime()).toBe(Math.floor((now + 3600_000) / 1000) * 1000)

    const captured: HttpRequest[] = []
    const sync = new CognitoSyncClient({
      region: 'us-east-1',
      endpoint: 'https://sync.example.com',
      credentials: provider,
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
    await sync.send(
      new ListRecordsCommand({ IdentityPoolId: POOL, IdentityId: identity.identityId, DatasetName: 'd' }),
    )
    const request = captured[0] as HttpRequest
    const principal = await verifySigV4(
      {
        method: request.method,
        rawPath: request.path,
        rawQuery: '',
        headers: request.headers,
        body: new Uint8Array(),
        host: request.headers.host ?? '',
      },
      lookupAt(credentials, Date.now()),
      Date.now(),
    )
    expect(principal).toEqual({ kind: 'identity', identityPoolId: POOL, identityId: identity.identityId })
  })

  it('surfaces refusals as the SDK error classes', async () => {
    const client = identityClient(() => ({ ...ctx, allowUnauthenticated: false }))
    const error = await client.send(new GetIdCommand({ IdentityPoolId: POOL })).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NotAuthorizedException)
    expect((error as Error).message).toBe('Unauthenticated access is not supported for this identity pool.')

    const withLogins = identityClient(() => ctx)
    const Logins = { 'login.example': 'good:dave' }
    const { IdentityId } = await withLogins.send(new GetIdCommand({ IdentityPoolId: POOL, Logins }))
    const response = await withLogins.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins }))
    expect(response.Credentials?.Expiration).toEqual(new Date(Math.floor((T0 + 3600_000) / 1000) * 1000))
  })
})
