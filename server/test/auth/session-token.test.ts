import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createCredentialIssuer } from '../../src/auth/credentials.js'
import { createSessionTokens, type SessionBinding } from '../../src/auth/session-token.js'
import { CognitoError } from '../../src/errors.js'

const T0 = Date.UTC(2024, 4, 17, 12, 0, 0)
const BINDING: SessionBinding = {
  identityPoolId: 'us-east-1:0f3a2b1c-aaaa-bbbb-cccc-000000000001',
  identityId: 'us-east-1:8d2c4a9e-1111-2222-3333-444455556666',
  datasetName: 'settings',
}
let counter = 0
const random = () => `token-${++counter}`

const isRefusal = (fn: () => unknown): boolean => {
  try {
    fn()
  } catch (error) {
    return (
      error instanceof CognitoError &&
      error.type === 'InvalidParameterException' &&
      error.message === 'SyncSessionToken not valid for these inputs'
    )
  }
  return false
}

describe('createSessionTokens', () => {
  const tokens = createSessionTokens('session-secret')

  it('issues an opaque base64url token that verifies for its bindings until it expires', () => {
    const token = tokens.issue(BINDING, T0, () => 'id-1')
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(token).not.toContain(BINDING.datasetName)
    expect(tokens.verify(token, BINDING, T0)).toEqual({ tokenId: 'id-1', expiresAt: T0 + 15 * 60_000 })
    expect(tokens.verify(token, BINDING, T0 + 15 * 60_000 - 1).tokenId).toBe('id-1')
    expect(isRefusal(() => tokens.verify(token, BINDING, T0 + 15 * 60_000))).toBe(true)
  })

  it('honours a custom lifetime', () => {
    const short = createSessionTokens('session-secret', 1000)
    const token = short.issue(BINDING, T0, random)
    expect(short.verify(token, BINDING, T0 + 999).expiresAt).toBe(T0 + 1000)
    expect(isRefusal(() => short.verify(token, BINDING, T0 + 1000))).toBe(true)
  })

  it('refuses another pool, identity or dataset', () => {
    const token = tokens.issue(BINDING, T0, random)
    for (const other of [
      { ...BINDING, identityPoolId: 'us-east-1:0f3a2b1c-aaaa-bbbb-cccc-000000000002' },
      { ...BINDING, identityId: 'us-east-1:8d2c4a9e-1111-2222-3333-444455556667' },
      { ...BINDING, datasetName: 'Settings' },
    ]) {
      expect(isRefusal(() => tokens.verify(token, other, T0))).toBe(true)
    }
  })

  it('refuses tokens of another secret and credential session tokens', () => {
    expect(
      isRefusal(() => tokens.verify(createSessionTokens('other').issue(BINDING, T0, random), BINDING, T0)),
    ).toBe(true)
    // Even when both are configured from the same secret, a credential token is not a sync token.
    const credential = createCredentialIssuer('session-secret').issue(BINDING, T0).SessionToken
    expect(isRefusal(() => tokens.verify(credential, BINDING, T0))).toBe(true)
  })

  it('refuses non-strings', () => {
    for (const token of [undefined, null, 42, {}, [], true]) {
      expect(isRefusal(() => tokens.verify(token, BINDING, T0))).toBe(true)
    }
  })

  it('binds any pool, identity and dataset strings, and any token id (property)', () => {
    const binding = fc.record({
      identityPoolId: fc.string(),
      identityId: fc.string(),
      datasetName: fc.string(),
    })
    fc.assert(
      fc.property(binding, binding, fc.string(), (issued, presented, id) => {
        const token = tokens.issue(issued, T0, () => id)
        const same =
          issued.identityPoolId === presented.identityPoolId &&
          issued.identityId === presented.identityId &&
          issued.datasetName === presented.datasetName
        expect(tokens.verify(token, issued, T0).tokenId).toBe(id)
        return same
          ? tokens.verify(token, presented, T0).tokenId === id
          : isRefusal(() => tokens.verify(token, presented, T0))
      }),
    )
  })

  it('refuses every tampered token (property)', () => {
    const token = tokens.issue(BINDING, T0, random)
    fc.assert(
      fc.property(
        fc.nat({ max: token.length - 1 }),
        fc.nat({ max: 3 }),
        fc.string({ maxLength: 4 }),
        (at, removed, inserted) => {
          const tampered = token.slice(0, at) + inserted + token.slice(at + removed)
          fc.pre(tampered !== token)
          return isRefusal(() => tokens.verify(tampered, BINDING, T0))
        },
      ),
    )
  })

  it('refuses arbitrary input without any other kind of error (property)', () => {
    fc.assert(
      fc.property(fc.anything(), fc.integer(), (token, now) =>
        isRefusal(() => tokens.verify(token, BINDING, now)),
      ),
    )
  })
})
