import { validateDatasetName, validateIdentityId, validateIdentityPoolId } from 'pushsync/core'
import type { Principal } from '../auth/principal.js'
import { CognitoError, invalidParameter, notAuthorized } from '../errors.js'
import type { OperationContext } from './context.js'

/** Refuses a malformed pool id with Cognito's error. */
export function checkPoolId(identityPoolId: string): string {
  const valid = validateIdentityPoolId(identityPoolId)
  if (!valid.ok) throw invalidParameter(valid.failure.message)
  return valid.value
}

/** Refuses a malformed identity id with Cognito's error. */
export function checkIdentityId(identityId: string): string {
  const valid = validateIdentityId(identityId)
  if (!valid.ok) throw invalidParameter(valid.failure.message)
  return valid.value
}

export function checkDatasetName(name: string, context: OperationContext): string {
  const valid = validateDatasetName(name, context.limits)
  if (!valid.ok) throw invalidParameter(valid.failure.message)
  return valid.value
}

/**
 * An identity reaches only its own data in its own pool; a developer key reaches everything.
 * Ids are validated first so a malformed id is a 400, not a 403.
 */
export function authorizeIdentity(principal: Principal, identityPoolId: string, identityId: string): void {
  checkPoolId(identityPoolId)
  checkIdentityId(identityId)
  if (principal.kind === 'developer') return
  if (principal.identityPoolId !== identityPoolId || principal.identityId !== identityId) {
    throw notAuthorized('Access to this identity is not allowed with these credentials')
  }
}

/**
 * Push registration is for identity credentials only, as in Cognito: a device registers for the
 * identity signed in on it.
 */
export function authorizeIdentityOnly(
  principal: Principal,
  identityPoolId: string,
  identityId: string,
): void {
  authorizeIdentity(principal, identityPoolId, identityId)
  if (principal.kind !== 'identity')
    throw notAuthorized('This operation requires the identity’s own credentials')
}

/** Pool-level operations are for developer credentials only, as in Cognito. */
export function authorizeDeveloper(principal: Principal, identityPoolId?: string): void {
  if (identityPoolId !== undefined) checkPoolId(identityPoolId)
  if (principal.kind !== 'developer') {
    throw notAuthorized('This operation requires developer credentials')
  }
}

/** Reads an optional non-negative integer query or body parameter. */
export function optionalCount(name: string, value: unknown, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  if (value === undefined || value === null || value === '') return undefined
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < min || number > max) {
    throw new CognitoError('InvalidParameterException', `${name} must be an integer from ${min} to ${max}`)
  }
  return number
}

/** Opaque page tokens: base64url JSON, checked on the way back in. */
export function encodePageToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export function decodePageToken<T>(token: unknown, isValid: (value: unknown) => value is T): T | undefined {
  if (token === undefined || token === null || token === '') return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(String(token), 'base64url').toString('utf8'))
    if (isValid(value)) return value
  } catch {
    // fall through: any undecodable token is the same error
  }
  throw invalidParameter('NextToken is not valid')
}
