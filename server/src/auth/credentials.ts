import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Principal } from './principal.js'
import type { CredentialLookup, ResolvedCredentials } from './sigv4.js'

/** The identity a set of temporary credentials acts as. */
export interface IdentityRef {
  readonly identityPoolId: string
  readonly identityId: string
}

/** An identity principal. */
export type IdentityPrincipal = Extract<Principal, { kind: 'identity' }>

/** Temporary credentials, named as Cognito Identity's `Credentials` shape names them. */
export interface IssuedCredentials {
  /** `ASIA` and 16 more upper-case letters or digits, like AWS temporary keys. */
  readonly AccessKeyId: string
  readonly SecretKey: string
  readonly SessionToken: string
  /** Epoch milliseconds (Cognito Identity's wire carries seconds: convert there). */
  readonly Expiration: number
}

/**
 * Anything that maps an access key id (and session token) to its secret and principal. Both the
 * temporary-credential issuer and the admin keys are resolvers, and {@link combineResolvers} chains
 * them.
 */
export interface CredentialResolver {
  resolve(
    accessKeyId: string,
    sessionToken: string | undefined,
    now: number,
  ): ResolvedCredentials | undefined | Promise<ResolvedCredentials | undefined>
}

/** Issues and checks temporary credentials without storing anything. */
export interface CredentialIssuer extends CredentialResolver {
  /** Fresh credentials for `identity`, valid for `ttlMs` (default one hour) from `now`. */
  issue(identity: IdentityRef, now: number, ttlMs?: number): IssuedCredentials
  /** The secret and principal of issued credentials; `undefined` when expired, tampered or foreign. */
  resolve(accessKeyId: string, sessionToken: string | undefined, now: number): ResolvedCredentials | undefined
  /** The identity a session token was issued to, when it is genuine and unexpired (bearer use). */
  verifySessionToken(sessionToken: string, now: number): IdentityPrincipal | undefined
}

const MAC_BYTES = 32
/** Far above any real token; bounds the work spent on garbage. */
const MAX_TOKEN_CHARS = 4096
/** Tags the payload so that a token of another kind, even under the same secret, never parses. */
const TOKEN_TAG = 'pushsync-credentials-1'
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** HMAC-SHA256 keyed by `secret`, for deriving independent keys from one configured secret. */
export const deriveKey = (secret: string, label: string): Buffer =>
  createHmac('sha256', secret).update(label).digest()

/**
 * Seals `payload` as one base64url string: the bytes followed by their HMAC. Pure base64url keeps
 * the token safe in headers, query strings and JSON without further escaping.
 */
export function seal(key: Buffer, payload: unknown): string {
  const bytes = Buffer.from(JSON.stringify(payload), 'utf8')
  const mac = createHmac('sha256', key).update(bytes).digest()
  return Buffer.concat([bytes, mac]).toString('base64url')
}

/**
 * Opens a token made by {@link seal}: the parsed payload when the token is canonical base64url and
 * its MAC is genuine, otherwise `undefined`. Never throws.
 */
export function unseal(key: Buffer, token: unknown): unknown {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) return undefined
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined
  const raw = Buffer.from(token, 'base64url')
  // Node's decoder ignores stray bits; requiring the canonical spelling makes every token unique.
  if (raw.toString('base64url') !== token || raw.length <= MAC_BYTES) return undefined
  const bytes = raw.subarray(0, raw.length - MAC_BYTES)
  const mac = raw.subarray(raw.length - MAC_BYTES)
  if (!timingSafeEqual(mac, createHmac('sha256', key).update(bytes).digest())) return undefined
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
}

/**
 * Creates the issuer of temporary credentials bound to one Cognito identity. Nothing is stored:
 *
 * - the session token is a sealed (HMAC-SHA256, base64url) blob of pool, identity, expiry and access
 *   key id;
 * - the secret key is HMAC(secret-key derivation key, access key id), recomputed on every request.
 *
 * Both keys derive from `tokenSecret`; rotating it revokes every credential issued under it.
 */
export function createCredentialIssuer(tokenSecret: string): CredentialIssuer {
  if (tokenSecret.length === 0) throw new Error('createCredentialIssuer: tokenSecret must not be empty')
  const tokenKey = deriveKey(tokenSecret, 'pushsync/credentials/session-token')
  const secretKeyKey = deriveKey(tokenSecret, 'pushsync/credentials/secret-key')
  const secretFor = (accessKeyId: string) =>
    createHmac('sha256', secretKeyKey).update(accessKeyId).digest('base64url')

  const open = (sessionToken: string, now: number) => {
    const payload = unseal(tokenKey, sessionToken)
    if (!Array.isArray(payload) || payload.length !== 5) return undefined
    const [tag, identityPoolId, identityId, expiresAt, accessKeyId] = payload as unknown[]
    if (
      tag !== TOKEN_TAG ||
      typeof identityPoolId !== 'string' ||
      typeof identityId !== 'string' ||
      typeof expiresAt !== 'number' ||
      typeof accessKeyId !== 'string' ||
      !(now < expiresAt)
    ) {
      return undefined
    }
    return { identityPoolId, identityId, accessKeyId }
  }

  return {
    issue(identity, now, ttlMs = 3600_000) {
      const AccessKeyId = `ASIA${base32(randomBytes(10))}`
      const Expiration = now + ttlMs
      const SessionToken = seal(tokenKey, [
        TOKEN_TAG,
        identity.identityPoolId,
        identity.identityId,
        Expiration,
        AccessKeyId,
      ])
      return { AccessKeyId, SecretKey: secretFor(AccessKeyId), SessionToken, Expiration }
    },

    resolve(accessKeyId, sessionToken, now) {
      if (sessionToken === undefined) return undefined
      const opened = open(sessionToken, now)
      if (opened === undefined || opened.accessKeyId !== accessKeyId) return undefined
      return {
        secretAccessKey: secretFor(accessKeyId),
        principal: { kind: 'identity', identityPoolId: opened.identityPoolId, identityId: opened.identityId },
      }
    },

    verifySessionToken(sessionToken, now) {
      const opened = open(sessionToken, now)
      if (opened === undefined) return undefined
      return { kind: 'identity', identityPoolId: opened.identityPoolId, identityId: opened.identityId }
    },
  }
}

/** 80 random bits → 16 characters of `A-Z2-7`. */
function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/**
 * Long-lived admin ("developer") keys from configuration. They carry no session token: a request
 * presenting one with an admin key id is refused, so a temporary credential can never pose as one.
 */
export function createAdminKeys(
  pairs: ReadonlyArray<{ readonly accessKeyId: string; readonly secretAccessKey: string }>,
): CredentialResolver {
  const keys = new Map<string, string>()
  for (const { accessKeyId, secretAccessKey } of pairs) {
    if (accessKeyId.length === 0 || secretAccessKey.length === 0) {
      throw new Error('createAdminKeys: access key id and secret must not be empty')
    }
    if (keys.has(accessKeyId)) throw new Error(`createAdminKeys: duplicate access key id ${accessKeyId}`)
    keys.set(accessKeyId, secretAccessKey)
  }
  return {
    resolve(accessKeyId, sessionToken) {
      const secretAccessKey = keys.get(accessKeyId)
      if (secretAccessKey === undefined || sessionToken !== undefined) return undefined
      return { secretAccessKey, principal: { kind: 'developer', accessKeyId } }
    },
  }
}

/** Tries each resolver in turn; the first that recognises the key wins. */
export function combineResolvers(...resolvers: CredentialResolver[]): CredentialResolver {
  return {
    async resolve(accessKeyId, sessionToken, now) {
      for (const resolver of resolvers) {
        const found = await resolver.resolve(accessKeyId, sessionToken, now)
        if (found !== undefined) return found
      }
      return undefined
    },
  }
}

/** Fixes the clock of a resolver, giving the lookup `verifySigV4` takes. */
export const lookupAt =
  (resolver: CredentialResolver, now: number): CredentialLookup =>
  async (accessKeyId, sessionToken) =>
    resolver.resolve(accessKeyId, sessionToken, now)
