import { createJwtCheck, describeJoseError, type JwtCheck } from '../auth/bearer.js'
import type { CredentialIssuer } from '../auth/credentials.js'
import { CognitoError } from '../errors.js'
import type { StoreTx, SyncStore } from '../store/contract.js'

/**
 * The part of Cognito Identity that apps call to obtain credentials: `GetId` and
 * `GetCredentialsForIdentity`, over AWS JSON 1.1 (`POST /`, `x-amz-target:
 * AWSCognitoIdentityService.<Operation>`, unsigned). The HTTP layer parses the body and serialises
 * the returned object or the thrown `CognitoError`.
 */

/** Checks a token from a login provider; resolves to the user at that provider. */
export type LoginVerifier = (provider: string, token: string) => Promise<{ subject: string }>

/** What {@link handleIdentityRequest} needs from the server: storage, keys, policy and a clock. */
export interface IdentityContext {
  readonly store: SyncStore
  readonly credentials: CredentialIssuer
  /** Whether identities without logins (guests) may exist and get credentials. */
  readonly allowUnauthenticated: boolean
  /** Checks `Logins` tokens; without it, every request with `Logins` is refused. */
  readonly verifyLogin?: LoginVerifier
  /** Epoch milliseconds. */
  readonly now: number
  readonly newIdentityId: (identityPoolId: string) => string
}

/** The output of `GetId`. */
export interface GetIdResponse {
  readonly IdentityId: string
}

/** The output of `GetCredentialsForIdentity`, member names as on the wire. */
export interface GetCredentialsForIdentityResponse {
  readonly IdentityId: string
  readonly Credentials: {
    readonly AccessKeyId: string
    readonly SecretKey: string
    readonly SessionToken: string
    /** Epoch seconds, as the AWS JSON protocol carries timestamps. */
    readonly Expiration: number
  }
}

const TARGET_PREFIX = 'AWSCognitoIdentityService.'
const ID_PATTERN = /^[\w-]+:[0-9a-f-]+$/
const MAX_LOGINS = 10
const UNAUTHENTICATED = 'Unauthenticated access is not supported for this identity pool.'
const UNSUPPORTED_PROVIDER = 'Token is not from a supported provider of this identity pool.'
const INVALID_LOGIN = 'Invalid login token.'
/** Merges can chain (A into B, then B into C); a cycle would be a store bug, so the walk is bounded. */
const MAX_MERGE_HOPS = 16

/**
 * Marks identities that have logins. The store port has no reverse index from identity to logins,
 * and GetCredentialsForIdentity must know whether a caller without `Logins` may act as an identity.
 */
const authenticatedSetting = (identityId: string) => `identity.authenticated.${identityId}`

/**
 * Serialises the transactions that read-then-write logins of one pool, so that two first sign-ins
 * of one user cannot both create an identity. (The lock names a pool, not an identity: the store
 * only uses the string to serialise.)
 */
const loginLock = (identityPoolId: string) => `cognito-identity.logins.${identityPoolId}`

/**
 * Handles one Cognito Identity request.
 *
 * - `GetId` `{IdentityPoolId, Logins?, AccountId?}` → `{IdentityId}`. Without `Logins`: a new
 *   unauthenticated identity (when allowed). With `Logins`: every token is verified, and the same
 *   (pool, provider, subject) always yields the same identity; logins not yet linked are linked to
 *   it. Logins already linked to two different identities → `ResourceConflictException`.
 * - `GetCredentialsForIdentity` `{IdentityId, Logins?}` → credentials for that identity. An identity
 *   with logins needs a valid token of one of them; a guest may present new logins, which then get
 *   linked to it (the guest-to-user upgrade).
 *
 * Errors: unknown target → `UnknownOperationException`; malformed input → `InvalidParameterException`;
 * unknown identity → `ResourceNotFoundException`; refused tokens, merged identities and guests of a
 * pool without guest access → `NotAuthorizedException`.
 */
export async function handleIdentityRequest(
  target: string | undefined,
  body: unknown,
  ctx: IdentityContext,
): Promise<GetIdResponse | GetCredentialsForIdentityResponse> {
  const operation = target?.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined
  if (operation !== 'GetId' && operation !== 'GetCredentialsForIdentity') {
    throw new CognitoError('UnknownOperationException', `Unknown operation: ${String(target).slice(0, 100)}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('The request body must be a JSON object.')
  }
  const input = body as Record<string, unknown>
  return operation === 'GetId' ? getId(input, ctx) : getCredentialsForIdentity(input, ctx)
}

async function getId(input: Record<string, unknown>, ctx: IdentityContext): Promise<GetIdResponse> {
  const identityPoolId = requireId(input.IdentityPoolId, 'identityPoolId')
  if (
    input.AccountId !== undefined &&
    (typeof input.AccountId !== 'string' || !/^\d{1,15}$/.test(input.AccountId))
  ) {
    throw invalid(constraint('accountId', 'Member must satisfy regular expression pattern: \\d+'))
  }
  const logins = await verifyLogins(readLogins(input.Logins), ctx)

  if (logins.length === 0) {
    if (!ctx.allowUnauthenticated) throw notAuthorized(UNAUTHENTICATED)
    const identityId = ctx.newIdentityId(identityPoolId)
    await ctx.store.transaction(
      (tx) => tx.putIdentity({ identityId, identityPoolId, createdAt: ctx.now, mergedInto: null }),
      { lock: identityId },
    )
    return { IdentityId: identityId }
  }

  const IdentityId = await ctx.store.transaction(
    async (tx) => {
      const owners = new Set<string>()
      for (const login of logins) {
        const row = await tx.findLogin(identityPoolId, login.provider, login.subject)
        if (row !== undefined) owners.add(await survivor(tx, row.identityId))
      }
      if (owners.size > 1) {
        throw new CognitoError('ResourceConflictException', 'The logins are linked to different identities.')
      }
      let identityId = [...owners][0]
      if (identityId === undefined) {
        identityId = ctx.newIdentityId(identityPoolId)
        await tx.putIdentity({ identityId, identityPoolId, createdAt: ctx.now, mergedInto: null })
      }
      await link(tx, identityPoolId, identityId, logins)
      return identityId
    },
    { lock: loginLock(identityPoolId) },
  )
  return { IdentityId }
}

async function getCredentialsForIdentity(
  input: Record<string, unknown>,
  ctx: IdentityContext,
): Promise<GetCredentialsForIdentityResponse> {
  const identityId = requireId(input.IdentityId, 'identityId')
  if (input.CustomRoleArn !== undefined && typeof input.CustomRoleArn !== 'string') {
    throw invalid(constraint('customRoleArn', 'Member must be a string'))
  }
  const logins = await verifyLogins(readLogins(input.Logins), ctx)

  const authorize = async (tx: StoreTx) => {
    const identity = await tx.getIdentity(identityId)
    if (identity === undefined)
      throw new CognitoError('ResourceNotFoundException', `Identity '${identityId}' not found.`)
    if (identity.mergedInto !== null) {
      throw notAuthorized(`Identity '${identityId}' has been merged into another identity.`)
    }
    const authenticated = (await tx.getSetting(authenticatedSetting(identityId))) !== undefined
    if (logins.length === 0) {
      if (authenticated) throw notAuthorized(INVALID_LOGIN)
      if (!ctx.allowUnauthenticated) throw notAuthorized(UNAUTHENTICATED)
      return identity
    }
    let matched = false
    for (const login of logins) {
      const row = await tx.findLogin(identity.identityPoolId, login.provider, login.subject)
      if (row === undefined) continue
      if (row.identityId !== identityId) {
        throw notAuthorized("Logins don't match. Please include at least one valid login for this identity.")
      }
      matched = true
    }
    // New logins join an identity only through a login it already has, or when it is a guest:
    // otherwise any valid login could take over someone else's identity.
    if (authenticated && !matched) throw notAuthorized(INVALID_LOGIN)
    await link(tx, identity.identityPoolId, identityId, logins)
    return identity
  }

  // Without logins nothing is written; with them, the pool's login lock is needed, and the pool is
  // known only after reading the identity.
  const identity = await ctx.store.transaction(async (tx) => {
    const row = await tx.getIdentity(identityId)
    return logins.length === 0 || row === undefined ? authorize(tx) : row
  })
  if (logins.length > 0) {
    await ctx.store.transaction(authorize, { lock: loginLock(identity.identityPoolId) })
  }

  const issued = ctx.credentials.issue({ identityPoolId: identity.identityPoolId, identityId }, ctx.now)
  return {
    IdentityId: identityId,
    Credentials: {
      AccessKeyId: issued.AccessKeyId,
      SecretKey: issued.SecretKey,
      SessionToken: issued.SessionToken,
      // Rounded down, so the client refreshes no later than the token expires.
      Expiration: Math.floor(issued.Expiration / 1000),
    },
  }
}

interface VerifiedLogin {
  readonly provider: string
  readonly subject: string
}

function readLogins(value: unknown): Array<[string, string]> {
  if (value === undefined || value === null) return []
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(constraint('logins', 'Member must be a map of provider name to token'))
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > MAX_LOGINS) {
    throw invalid(constraint('logins', `Member must have length less than or equal to ${MAX_LOGINS}`))
  }
  return entries.map(([provider, token]) => {
    if (provider.length < 1 || provider.length > 128) {
      throw invalid(constraint('logins', 'Map keys must have length between 1 and 128'))
    }
    if (typeof token !== 'string' || token.length < 1 || token.length > 50_000) {
      throw invalid(constraint('logins', 'Map values must be strings of length between 1 and 50000'))
    }
    return [provider, token]
  })
}

/** Verifies every login before any transaction opens: a verifier may fetch keys over the network. */
async function verifyLogins(logins: Array<[string, string]>, ctx: IdentityContext): Promise<VerifiedLogin[]> {
  if (logins.length === 0) return []
  const verify = ctx.verifyLogin
  if (verify === undefined) throw notAuthorized(UNSUPPORTED_PROVIDER)
  return Promise.all(
    logins.map(async ([provider, token]) => {
      let subject: unknown
      try {
        subject = (await verify(provider, token)).subject
      } catch (error) {
        if (error instanceof CognitoError) throw error
        throw notAuthorized(INVALID_LOGIN, error)
      }
      if (typeof subject !== 'string' || subject.length === 0) throw notAuthorized(INVALID_LOGIN)
      return { provider, subject }
    }),
  )
}

/** Links the logins not yet linked to `identityId` and marks it as having logins. */
async function link(
  tx: StoreTx,
  identityPoolId: string,
  identityId: string,
  logins: readonly VerifiedLogin[],
) {
  for (const { provider, subject } of logins) {
    const row = await tx.findLogin(identityPoolId, provider, subject)
    if (row === undefined) await tx.putLogin({ identityPoolId, provider, subject, identityId })
  }
  if ((await tx.getSetting(authenticatedSetting(identityId))) === undefined) {
    await tx.putSetting(authenticatedSetting(identityId), '1')
  }
}

/** Follows `mergedInto` to the identity that now owns a login. */
async function survivor(tx: StoreTx, identityId: string): Promise<string> {
  let current = identityId
  for (let hop = 0; hop < MAX_MERGE_HOPS; hop++) {
    const row = await tx.getIdentity(current)
    if (row?.mergedInto == null) return current
    current = row.mergedInto
  }
  return current
}

function requireId(value: unknown, member: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(constraint(member, 'Member must not be null'))
  }
  if (value.length > 55) throw invalid(constraint(member, 'Member must have length less than or equal to 55'))
  if (!ID_PATTERN.test(value)) {
    throw invalid(constraint(member, 'Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+'))
  }
  return value
}

/** AWS's validation message shape, so clients and logs read as they would against AWS. */
const constraint = (member: string, rule: string) =>
  `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${rule}`

const invalid = (message: string) => new CognitoError('InvalidParameterException', message)
const notAuthorized = (message: string, cause?: unknown) =>
  new CognitoError('NotAuthorizedException', message, cause === undefined ? undefined : { cause })

/** `REGION:UUID`, the shape of Cognito identity ids, with the pool's region. */
export function defaultNewIdentityId(identityPoolId: string, randomUUID: () => string): string {
  const region = identityPoolId.slice(0, Math.max(0, identityPoolId.indexOf(':')))
  return `${region}:${randomUUID()}`
}

/** One accepted login provider for {@link createJwtLoginVerifier}. */
export interface LoginIssuer {
  /** The `Logins` map key: an issuer host like `accounts.example.com`, or a developer provider name. */
  readonly provider: string
  /** HS256 shared secret. */
  readonly secret?: string
  /** JWKS URL for asymmetric tokens. */
  readonly jwksUrl?: string
  /** Required `aud` claim (the app's client id at the provider), when set. */
  readonly audience?: string
  /** Required `iss` claim (`https://accounts.example.com`), when set. */
  readonly issuer?: string
}

/**
 * A {@link LoginVerifier} for JWT login providers, with jose: the `Logins` key picks the provider's
 * keys, the token's `sub` is the subject. Unknown providers and rejected tokens throw
 * `NotAuthorizedException`. `clock` (epoch ms) defaults to the system clock.
 */
export function createJwtLoginVerifier(options: {
  readonly issuers: readonly LoginIssuer[]
  readonly clock?: () => number
}): LoginVerifier {
  const checks = new Map<string, JwtCheck>()
  for (const issuer of options.issuers) {
    if (checks.has(issuer.provider)) throw new Error(`Duplicate login provider ${issuer.provider}`)
    checks.set(
      issuer.provider,
      createJwtCheck({
        ...(issuer.secret === undefined ? {} : { secret: issuer.secret }),
        ...(issuer.jwksUrl === undefined ? {} : { jwksUrl: issuer.jwksUrl }),
        ...(issuer.audience === undefined ? {} : { audience: issuer.audience }),
        ...(issuer.issuer === undefined ? {} : { issuer: issuer.issuer }),
      }),
    )
  }
  const clock = options.clock ?? Date.now
  return async (provider, token) => {
    const check = checks.get(provider)
    if (check === undefined) throw notAuthorized(UNSUPPORTED_PROVIDER)
    let sub: unknown
    try {
      sub = (await check(token, clock())).sub
    } catch (error) {
      throw notAuthorized(`${INVALID_LOGIN} ${describeJoseError(error)}`, error)
    }
    if (typeof sub !== 'string' || sub.length === 0)
      throw notAuthorized(`${INVALID_LOGIN} The token has no subject.`)
    return { subject: sub }
  }
}
