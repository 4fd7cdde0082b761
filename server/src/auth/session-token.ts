import { CognitoError } from '../errors.js'
import { deriveKey, seal, unseal } from './credentials.js'

/** What a SyncSessionToken is valid for: one dataset of one identity. */
export interface SessionBinding {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
}

/** A verified SyncSessionToken: its id (to spend it once) and when it stops being valid. */
export interface VerifiedSession {
  readonly tokenId: string
  /** Epoch milliseconds. */
  readonly expiresAt: number
}

/** Issues the SyncSessionToken of ListRecords and checks the one UpdateRecords presents. */
export interface SessionTokens {
  /**
   * A token for `binding`, valid until `now + ttlMs`. `random` supplies its id, which the store
   * records when the token is spent.
   */
  issue(binding: SessionBinding, now: number, random: () => string): string
  /**
   * Checks a token against the request it arrived with. Throws `InvalidParameterException` with
   * Cognito's message for anything wrong: not a string, tampered, expired, or issued for another
   * pool, identity or dataset. Whether it was already spent is the store's question.
   */
  verify(token: unknown, expected: SessionBinding, now: number): VerifiedSession
}

/** Tags the payload so that a credential session token, even under the same secret, never parses. */
const TOKEN_TAG = 'pushsync-sync-session-1'

/**
 * Creates the SyncSessionToken issuer: an opaque base64url blob holding a random id, the pool,
 * identity and dataset it is bound to and its expiry, sealed with HMAC-SHA256 under a key derived
 * from `secret`. Nothing is stored until a token is spent.
 */
export function createSessionTokens(secret: string, ttlMs = 15 * 60_000): SessionTokens {
  if (secret.length === 0) throw new Error('createSessionTokens: secret must not be empty')
  const key = deriveKey(secret, 'pushsync/sync-session-token')
  const invalid = () =>
    new CognitoError('InvalidParameterException', 'SyncSessionToken not valid for these inputs')

  return {
    issue(binding, now, random) {
      return seal(key, [
        TOKEN_TAG,
        random(),
        binding.identityPoolId,
        binding.identityId,
        binding.datasetName,
        now + ttlMs,
      ])
    },

    verify(token, expected, now) {
      const payload = unseal(key, token)
      if (!Array.isArray(payload) || payload.length !== 6) throw invalid()
      const [tag, tokenId, identityPoolId, identityId, datasetName, expiresAt] = payload as unknown[]
      if (
        tag !== TOKEN_TAG ||
        typeof tokenId !== 'string' ||
        typeof expiresAt !== 'number' ||
        identityPoolId !== expected.identityPoolId ||
        identityId !== expected.identityId ||
        datasetName !== expected.datasetName ||
        !(now < expiresAt)
      ) {
        throw invalid()
      }
      return { tokenId, expiresAt }
    },
  }
}
