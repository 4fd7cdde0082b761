import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBearerVerifier } from '../../src/auth/bearer.js'
import { createCredentialIssuer } from '../../src/auth/credentials.js'
import { CognitoError } from '../../src/errors.js'

const POOL = 'us-east-1:0f3a2b1c-aaaa-bbbb-cccc-000000000001'
const IDENTITY = 'us-east-1:8d2c4a9e-1111-2222-3333-444455556666'
const T0 = Date.UTC(2024, 4, 17, 12, 0, 0)
const ISSUER = 'https://auth.example.com'
const SECRET = 'a-shared-hs256-secret-of-enough-length'
const identity = { kind: 'identity', identityPoolId: POOL, identityId: IDENTITY }

const credentials = createCredentialIssuer('token-secret')

const hs256 = (
  claims: JWTPayload,
  options: { secret?: string; issuer?: string; audience?: string; exp?: number } = {},
) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? 'sync')
    .setIssuedAt(Math.floor(T0 / 1000))
    .setExpirationTime(options.exp ?? Math.floor(T0 / 1000) + 300)
    .sign(new TextEncoder().encode(options.secret ?? SECRET))

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(CognitoError)
    expect((error as CognitoError).type).toBe('NotAuthorizedException')
    return (error as CognitoError).message
  }
  throw new Error('expected a refusal')
}

describe('createBearerVerifier with session tokens', () => {
  const verifier = createBearerVerifier({ credentials })

  it('accepts a session token the server issued, until it expires', async () => {
    const issued = credentials.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0, 60_000)
    await expect(verifier.verify(`Bearer ${issued.SessionToken}`, T0)).resolves.toEqual(identity)
    await expect(verifier.verify(`bearer  ${issued.SessionToken}`, T0)).resolves.toEqual(identity)
    expect(await refusal(verifier.verify(`Bearer ${issued.SessionToken}`, T0 + 60_000))).toMatch(
      /invalid or expired/,
    )
  })

  it('refuses tokens of another secret, and JWTs when none are configured', async () => {
    const foreign = createCredentialIssuer('other').issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
    await refusal(verifier.verify(`Bearer ${foreign.SessionToken}`, T0))
    await refusal(
      verifier.verify(`Bearer ${await hs256({ identityPoolId: POOL, identityId: IDENTITY })}`, T0),
    )
  })

  it('refuses malformed Authorization headers', async () => {
    for (const header of [
      undefined,
      null,
      '',
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      'Bearer a b',
      'AWS4-HMAC-SHA256 x',
    ]) {
      expect(await refusal(verifier.verify(header, T0))).toMatch(/Bearer|invalid/)
    }
  })

  it('refuses arbitrary headers with NotAuthorizedException only (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
        ),
        async (header) => {
          try {
            await verifier.verify(header, T0)
          } catch (error) {
            return error instanceof CognitoError && error.type === 'NotAuthorizedException'
          }
          return false
        },
      ),
    )
  })
})

describe('createBearerVerifier with HS256 JWTs', () => {
  const verifier = createBearerVerifier({
    credentials,
    jwt: { issuer: ISSUER, audience: 'sync', secret: SECRET },
  })
  const claims = { identityPoolId: POOL, identityId: IDENTITY, sub: 'user-1' }

  it('accepts a JWT naming the identity in its claims', async () => {
    await expect(verifier.verify(`Bearer ${await hs256(claims)}`, T0)).resolves.toEqual(identity)
  })

  it('still accepts session tokens', async () => {
    const issued = credentials.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
    await expect(verifier.verify(`Bearer ${issued.SessionToken}`, T0)).resolves.toEqual(identity)
  })

  it('refuses a wrong key, issuer, audience, an expired token and an unsigned one', async () => {
    expect(
      await refusal(verifier.verify(`Bearer ${await hs256(claims, { secret: `${SECRET}x` })}`, T0)),
    ).toMatch(/Signature verification failed/)
    expect(
      await refusal(verifier.verify(`Bearer ${await hs256(claims, { issuer: 'https://evil' })}`, T0)),
    ).toMatch(/iss/)
    expect(
      await refusal(verifier.verify(`Bearer ${await hs256(claims, { audience: 'other' })}`, T0)),
    ).toMatch(/aud/)
    expect(await refusal(verifier.verify(`Bearer ${await hs256(claims)}`, T0 + 301_000))).toMatch(/expired/)
    const unsigned = new UnsecuredJWT(claims).setIssuer(ISSUER).setAudience('sync').encode()
    await refusal(verifier.verify(`Bearer ${unsigned}`, T0))
  })

  it('refuses JWTs without well-formed identity claims', async () => {
    for (const bad of [
      { sub: 'user-1' },
      { identityPoolId: POOL },
      { identityId: IDENTITY },
      { identityPoolId: POOL, identityId: 42 },
      { identityPoolId: 'not a pool', identityId: IDENTITY },
    ]) {
      expect(await refusal(verifier.verify(`Bearer ${await hs256(bad)}`, T0))).toMatch(/identityPoolId/)
    }
  })
})

describe('createBearerVerifier with a JWKS', () => {
  let server: Server
  let jwksUrl: string
  let sign: (claims: JWTPayload) => Promise<string>
  let signWithStranger: (claims: JWTPayload) => Promise<string>

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256')
    const stranger = await generateKeyPair('ES256')
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [jwk] }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
    const signer = (key: CryptoKey) => (claims: JWTPayload) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setExpirationTime(Math.floor(T0 / 1000) + 300)
        .sign(key)
    sign = signer(privateKey)
    signWithStranger = signer(stranger.privateKey)
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('accepts tokens signed by a key of the set, and refuses others', async () => {
    const verifier = createBearerVerifier({ credentials, jwt: { issuer: ISSUER, jwksUrl } })
    const claims = { identityPoolId: POOL, identityId: IDENTITY }
    await expect(verifier.verify(`Bearer ${await sign(claims)}`, T0)).resolves.toEqual(identity)
    await refusal(verifier.verify(`Bearer ${await signWithStranger(claims)}`, T0))
    // Only the JWKS is configured: an HS256 token has no key.
    await refusal(verifier.verify(`Bearer ${await hs256(claims)}`, T0))
  })

  it('needs a secret or a JWKS', () => {
    expect(() => createBearerVerifier({ credentials, jwt: { issuer: ISSUER } })).toThrow(/secret|jwksUrl/)
  })
})
