/**
 * Sign-in through Cognito Identity's two calls that apps use for credentials, `GetId` and
 * `GetCredentialsForIdentity`, without the AWS SDK: unsigned AWS JSON 1.1 requests, as
 * pushsync-server (and Cognito itself) answer them. The session keeps the identity id and the
 * credentials, renews them before they expire, and hands them to both transports: the bearer token
 * of `pushsync/transport/http` and `pushsync/push/sse`, and the AWS credentials of
 * `pushsync/transport/cognito`.
 *
 * @module
 */
import { errorTypeName, failureKindOf } from '../../src/core/transport-failure.js'
import { validateIdentityId, validateIdentityPoolId } from '../../src/core/validate.js'
import { SyncError, syncErrorFromFailure, TRANSPORT_ERROR_CODES } from '../../src/errors.js'

/** The part of `fetch` the session uses; the global one by default. */
export type SessionFetch = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string },
) => Promise<{
  ok: boolean
  status: number
  headers: { get(name: string): string | null }
  text(): Promise<string>
}>

/** Where the identity id is kept between runs of the app (localStorage, a file, secure storage...). */
export interface IdentityStore {
  /** The identity id kept before, or nothing the first time. */
  load(): string | null | undefined | Promise<string | null | undefined>
  /** Keeps the identity id GetId answered. */
  save(identityId: string): void | Promise<void>
}

/** What `createIdentitySession` takes: where to sign in, and as whom. */
export interface IdentitySessionOptions {
  /** pushsync-server's address, or Cognito Identity's (`https://cognito-identity.REGION.amazonaws.com`). */
  readonly endpoint: string
  readonly identityPoolId: string
  /**
   * The identity provider tokens of a signed-in user (Cognito's `Logins` map, such as
   * `{ 'accounts.google.com': idToken }`), or a function that returns the current ones. Without it
   * the session is a guest's (the pool must allow unauthenticated identities).
   */
  readonly logins?:
    | Readonly<Record<string, string>>
    | (() => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>)
  /** Keeps the identity id, so the same device is the same identity next time. */
  readonly identityStore?: IdentityStore
  /** Renew the credentials this long before they expire; default 5 minutes. */
  readonly renewBeforeMs?: number
  readonly fetch?: SessionFetch
  /** Epoch milliseconds; for tests. */
  readonly now?: () => number
}

/** AWS credentials as the AWS SDK v3's credential providers give them. */
export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly expiration: Date
}

/** A signed-in identity and its credentials, renewed when they are about to expire. */
export interface IdentitySession {
  readonly identityPoolId: string
  /** The identity id: remembered, or asked of GetId once. */
  identityId(): Promise<string>
  /** The bearer token for `createHttpTransport({ getToken })` and `createSsePushSource({ getToken })`. */
  getToken(): Promise<string>
  /** The AWS SDK's `credentials` option (a credential provider) for `pushsync/transport/cognito`. */
  credentials(): Promise<AwsCredentials>
  /** Forgets the credentials (not the identity): the next call asks for new ones. */
  forgetCredentials(): void
}

const DEFAULT_RENEW_BEFORE_MS = 5 * 60_000
const NAME = 'session:cognito-identity'

/**
 * Creates a session; nothing is asked of the server until the first call. Concurrent calls share
 * one request, and a failed one is not kept: the next call tries again.
 *
 * @throws SyncError `INVALID_ARGUMENT` for a pool id or endpoint that cannot be right.
 */
export function createIdentitySession(options: IdentitySessionOptions): IdentitySession {
  const pool = validateIdentityPoolId(options.identityPoolId)
  if (!pool.ok) throw syncErrorFromFailure(pool.failure)
  let base: string
  try {
    base = new URL(options.endpoint).href.replace(/\/$/, '')
  } catch {
    throw new SyncError('INVALID_ARGUMENT', `endpoint must be a URL, not ${JSON.stringify(options.endpoint)}`)
  }
  const send = options.fetch ?? (globalThis.fetch as unknown as SessionFetch | undefined)
  if (typeof send !== 'function') throw new SyncError('INVALID_ARGUMENT', 'no fetch: pass options.fetch')
  const now = options.now ?? Date.now
  const renewBeforeMs = options.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS

  const call = async (operation: string, body: object): Promise<Record<string, unknown>> => {
    let response: Awaited<ReturnType<SessionFetch>>
    let text: string
    try {
      response = await send(`${base}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `AWSCognitoIdentityService.${operation}`,
        },
        body: JSON.stringify(body),
      })
      text = await response.text()
    } catch (error) {
      throw new SyncError('TRANSPORT_OFFLINE', `${operation}: the server could not be reached`, {
        adapter: NAME,
        cause: error,
      })
    }
    let json: Record<string, unknown> | undefined
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        json = parsed as Record<string, unknown>
    } catch {
      json = undefined
    }
    if (!response.ok) {
      const type =
        response.headers.get('x-amzn-errortype') ?? (typeof json?.__type === 'string' ? json.__type : '')
      const kind = failureKindOf(type, response.status)
      const message = typeof json?.message === 'string' ? json.message : `HTTP ${response.status}`
      throw new SyncError(
        TRANSPORT_ERROR_CODES[kind],
        `${operation}: ${errorTypeName(type) || 'error'}: ${message}`,
        {
          adapter: NAME,
          details: { kind, status: response.status },
        },
      )
    }
    if (json === undefined) {
      throw new SyncError('TRANSPORT_PROTOCOL', `${operation}: the answer is not a JSON object`, {
        adapter: NAME,
      })
    }
    return json
  }

  const logins = async () => {
    const given = typeof options.logins === 'function' ? await options.logins() : options.logins
    return given === undefined || Object.keys(given).length === 0 ? {} : { Logins: given }
  }

  let identity: Promise<string> | undefined
  const identityId = (): Promise<string> => {
    identity ??= (async () => {
      const remembered = await options.identityStore?.load()
      if (typeof remembered === 'string' && validateIdentityId(remembered).ok) return remembered
      const answer = await call('GetId', { IdentityPoolId: pool.value, ...(await logins()) })
      const id = answer.IdentityId
      if (typeof id !== 'string' || !validateIdentityId(id).ok) {
        throw new SyncError('TRANSPORT_PROTOCOL', 'GetId answered no IdentityId', { adapter: NAME })
      }
      await options.identityStore?.save(id)
      return id
    })()
    identity.catch(() => {
      identity = undefined
    })
    return identity
  }

  let current: AwsCredentials | undefined
  let renewing: Promise<AwsCredentials> | undefined
  const credentials = (): Promise<AwsCredentials> => {
    if (current !== undefined && current.expiration.getTime() - renewBeforeMs > now())
      return Promise.resolve(current)
    renewing ??= (async () => {
      try {
        const answer = await call('GetCredentialsForIdentity', {
          IdentityId: await identityId(),
          ...(await logins()),
        })
        const fields = answer.Credentials as Record<string, unknown> | undefined
        const { AccessKeyId, SecretKey, SessionToken, Expiration } = fields ?? {}
        if (
          typeof AccessKeyId !== 'string' ||
          typeof SecretKey !== 'string' ||
          typeof SessionToken !== 'string' ||
          typeof Expiration !== 'number'
        ) {
          throw new SyncError('TRANSPORT_PROTOCOL', 'GetCredentialsForIdentity answered no Credentials', {
            adapter: NAME,
          })
        }
        // Epoch seconds on the wire.
        current = {
          accessKeyId: AccessKeyId,
          secretAccessKey: SecretKey,
          sessionToken: SessionToken,
          expiration: new Date(Expiration * 1000),
        }
        return current
      } finally {
        renewing = undefined
      }
    })()
    return renewing
  }

  return {
    identityPoolId: pool.value,
    identityId,
    credentials,
    getToken: async () => (await credentials()).sessionToken,
    forgetCredentials() {
      current = undefined
    },
  }
}

/**
 * The two methods of the browser's `Storage` (`localStorage`) that an identity store needs, spelled
 * out so that apps compiled without the DOM library (Node, React Native) can use this module.
 */
export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
}

/**
 * An {@link IdentityStore} in the browser's `localStorage` (or any object with its two methods),
 * under `key`.
 */
export function localStorageIdentityStore(
  key = 'pushsync:identity-id',
  storage: KeyValueStorage | undefined = (globalThis as { localStorage?: KeyValueStorage }).localStorage,
): IdentityStore {
  if (storage === undefined)
    throw new SyncError('INVALID_ARGUMENT', 'there is no localStorage here: pass one')
  return {
    load: () => storage.getItem(key),
    save: (identityId) => storage.setItem(key, identityId),
  }
}
