import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose'
import { CognitoError } from '../errors.js'
import type { CredentialIssuer } from './credentials.js'
import type { Principal } from './principal.js'

/** Where JWTs come from and how to check them. */
export interface JwtSource {
  /** Required `iss` claim. Omit to accept any issuer signing with the configured key. */
  readonly issuer?: string
  /** Required `aud` claim, when set. */
  readonly audience?: string
  /** Shared secret for HS256 tokens. */
  readonly secret?: string
  /** JWKS URL for asymmetric tokens (RS256, ES256, …); keys are fetched and cached on demand. */
  readonly jwksUrl?: string
}

/** Verifies a JWT's signature and standard claims at a given time; resolves to its claims. */
export type JwtCheck = (token: string, now: number) => Promise<JWTPayload>

/**
 * Builds a JWT check from a {@link JwtSource} with jose. HS256 tokens use `secret`, all other
 * algorithms the JWKS; a token naming an algorithm with no configured key fails. Rejections are
 * jose's errors: callers turn them into Cognito errors.
 */
export function createJwtCheck(source: JwtSource): JwtCheck {
  const secret = source.secret === undefined ? undefined : new TextEncoder().encode(source.secret)
  const jwks = source.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(source.jwksUrl))
  if (secret === undefined && jwks === undefined) {
    throw new Error('A JWT source needs a secret (HS256) or a jwksUrl')
  }
  const algorithms = [...(secret === undefined ? [] : ['HS256']), ...(jwks === undefined ? [] : ASYMMETRIC)]
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret !== undefined) return secret
    if (jwks !== undefined) return jwks(header, token)
    throw new Error(`no key configured for algorithm ${String(header.alg)}`)
  }
  return async (token, now) => {
    const { payload } = await jwtVerify(token, getKey, {
      algorithms,
      currentDate: new Date(now),
      ...(source.issuer === undefined ? {} : { issuer: source.issuer }),
      ...(source.audience === undefined ? {} : { audience: source.audience }),
    })
    return payload
  }
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']

/** Options of {@link createBearerVerifier}. */
export interface BearerOptions {
  /** Issues the session tokens accepted as bearer tokens. */
  readonly credentials: CredentialIssuer
  /**
   * Also accept JWTs from this source. A JWT acts as an identity only through two custom claims,
   * `identityPoolId` and `identityId`: the token's issuer (the app's own auth service) decides
   * which Cognito identity it speaks for. Tokens without them are refused, so a plain login token
   * (an OpenID Connect ID token) is never enough by itself.
   */
  readonly jwt?: JwtSource & { readonly issuer: string }
}

/** Checks `Authorization: Bearer …` headers. */
export interface BearerVerifier {
  verify(authorizationHeader: string | null | undefined, now: number): Promise<Principal>
}

const POOL_OR_IDENTITY_ID = /^[\w-]+:[0-9a-f-]+$/

/**
 * Creates the verifier of bearer tokens, for clients that cannot sign SigV4 (browsers' EventSource,
 * web push endpoints). Accepted:
 *
 * - `Bearer <SessionToken>` of temporary credentials this server issued → that identity;
 * - `Bearer <JWT>` from the configured source carrying `identityPoolId` and `identityId` claims →
 *   that identity.
 *
 * Every failure is `NotAuthorizedException`.
 */
export function createBearerVerifier(options: BearerOptions): BearerVerifier {
  const jwtCheck = options.jwt === undefined ? undefined : createJwtCheck(options.jwt)
  const refuse = (message: string, cause?: unknown) =>
    new CognitoError('NotAuthorizedException', message, cause === undefined ? undefined : { cause })

  return {
    async verify(authorizationHeader, now) {
      const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorizationHeader ?? '')
      const token = match?.[1]
      if (token === undefined) throw refuse("Authorization header must be 'Bearer <token>'.")

      const session = options.credentials.verifySessionToken(token, now)
      if (session !== undefined) return session

      // Session tokens are one base64url blob; a JWT has three dot-separated parts.
      if (jwtCheck === undefined || token.split('.').length !== 3) {
        throw refuse('The bearer token is invalid or expired.')
      }
      let claims: JWTPayload
      try {
        claims = await jwtCheck(token, now)
      } catch (error) {
        throw refuse(`The bearer token is invalid: ${describeJoseError(error)}`, error)
      }
      const { identityPoolId, identityId } = claims
      if (
        typeof identityPoolId !== 'string' ||
        typeof identityId !== 'string' ||
        !POOL_OR_IDENTITY_ID.test(identityPoolId) ||
        !POOL_OR_IDENTITY_ID.test(identityId)
      ) {
        throw refuse("The bearer token must carry string 'identityPoolId' and 'identityId' claims.")
      }
      return { kind: 'identity', identityPoolId, identityId }
    },
  }
}

/** A short reason for a jose rejection, safe to show the client. */
export function describeJoseError(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'Token expired.'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `Claim check failed (${String((error as { claim?: unknown }).claim)}).`
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'Signature verification failed.'
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'Malformed token.'
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'Algorithm not allowed.'
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'No matching key.'
    default:
      return 'Verification failed.'
  }
}
