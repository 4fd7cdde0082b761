import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CredentialResolver,
  combineResolvers,
  createAdminKeys,
  createCredentialIssuer,
  lookupAt,
} from '../../src/auth/credentials.js'

const POOL = 'us-east-1:0f3a2b1c-aaaa-bbbb-cccc-000000000001'
const IDENTITY = 'us-east-1:8d2c4a9e-1111-2222-3333-444455556666'
const T0 = Date.UTC(2024, 4, 17, 12, 0, 0)

describe('createCredentialIssuer', () => {
  const issuer = createCredentialIssuer('secret-one')

  it('issues AWS-shaped temporary credentials that resolve to the identity', () => {
    const issued = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
    expect(issued.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/)
    expect(issued.Expiration).toBe(T0 + 3600_000)
    expect(issued.SessionToken).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(issuer.resolve(issued.AccessKeyId, issued.SessionToken, T0 + 1)).toEqual({
      secretAccessKey: issued.SecretKey,
      principal: { kind: 'identity', identityPoolId: POOL, identityId: IDENTITY },
    })
    expect(issuer.verifySessionToken(issued.SessionToken, T0)).toEqual({
      kind: 'identity',
      identityPoolId: POOL,
      identityId: IDENTITY,
    })
  })

  it('issues distinct keys and secrets every time', () => {
    const keys = new Set<string>()
    const secrets = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const issued = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
      keys.add(issued.AccessKeyId)
      secrets.add(issued.SecretKey)
    }
    expect(keys.size).toBe(200)
    expect(secrets.size).toBe(200)
  })

  it('stops resolving at the expiry', () => {
    const issued = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0, 60_000)
    expect(issued.Expiration).toBe(T0 + 60_000)
    expect(issuer.resolve(issued.AccessKeyId, issued.SessionToken, T0 + 59_999)).toBeDefined()
    expect(issuer.resolve(issued.AccessKeyId, issued.SessionToken, T0 + 60_000)).toBeUndefined()
    expect(issuer.verifySessionToken(issued.SessionToken, T0 + 60_000)).toBeUndefined()
  })

  it('refuses a missing token, another access key id, and another secret', () => {
    const issued = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
    const other = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
    expect(issuer.resolve(issued.AccessKeyId, undefined, T0)).toBeUndefined()
    expect(issuer.resolve(other.AccessKeyId, issued.SessionToken, T0)).toBeUndefined()
    expect(
      createCredentialIssuer('secret-two').resolve(issued.AccessKeyId, issued.SessionToken, T0),
    ).toBeUndefined()
  })

  it('refuses every tampered session token', () => {
    const issued = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
    const token = issued.SessionToken
    fc.assert(
      fc.property(
        fc.nat({ max: token.length - 1 }),
        fc.string({ minLength: 1, maxLength: 3 }),
        (at, insert) => {
          const tampered = token.slice(0, at) + insert + token.slice(at + 1)
          fc.pre(tampered !== token)
          return issuer.resolve(issued.AccessKeyId, tampered, T0) === undefined
        },
      ),
    )
  })

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.option(fc.string(), { nil: undefined }),
        fc.integer(),
        (key, token, now) => {
          expect(issuer.resolve(key, token, now)).toBeUndefined()
          if (token !== undefined) expect(issuer.verifySessionToken(token, now)).toBeUndefined()
        },
      ),
    )
  })
})

describe('admin keys and combined resolvers', () => {
  const admin = createAdminKeys([{ accessKeyId: 'AKIDADMIN', secretAccessKey: 'admin-secret' }])
  const issuer = createCredentialIssuer('secret-one')

  it('resolve admin keys to the developer principal, never with a session token', async () => {
    expect(admin.resolve('AKIDADMIN', undefined, T0)).toEqual({
      secretAccessKey: 'admin-secret',
      principal: { kind: 'developer', accessKeyId: 'AKIDADMIN' },
    })
    expect(admin.resolve('AKIDADMIN', 'token', T0)).toBeUndefined()
    expect(admin.resolve('AKIDOTHER', undefined, T0)).toBeUndefined()
  })

  it('refuse empty and duplicate configuration', () => {
    expect(() => createAdminKeys([{ accessKeyId: '', secretAccessKey: 'x' }])).toThrow()
    expect(() =>
      createAdminKeys([
        { accessKeyId: 'A', secretAccessKey: 'x' },
        { accessKeyId: 'A', secretAccessKey: 'y' },
      ]),
    ).toThrow(/duplicate/)
    expect(() => createCredentialIssuer('')).toThrow()
  })

  it('combine in order, including asynchronous resolvers', async () => {
    const asyncResolver: CredentialResolver = {
      resolve: async (id) =>
        id === 'AKIDASYNC'
          ? { secretAccessKey: 's', principal: { kind: 'developer', accessKeyId: 'AKIDASYNC' } }
          : undefined,
    }
    const combined = combineResolvers(issuer, admin, asyncResolver)
    const issued = issuer.issue({ identityPoolId: POOL, identityId: IDENTITY }, T0)
    const lookup = lookupAt(combined, T0)
    expect((await lookup(issued.AccessKeyId, issued.SessionToken))?.principal.kind).toBe('identity')
    expect((await lookup('AKIDADMIN', undefined))?.principal.kind).toBe('developer')
    expect((await lookup('AKIDASYNC', undefined))?.secretAccessKey).toBe('s')
    expect(await lookup('AKIDNONE', undefined)).toBeUndefined()
    expect(
      await lookupAt(combined, issued.Expiration)(issued.AccessKeyId, issued.SessionToken),
    ).toBeUndefined()
  })
})
