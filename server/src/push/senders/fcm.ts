import { createPrivateKey, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import { encodePushPayload } from 'pushsync/core'
import type { DevicePlatform } from '../../store/contract.js'
import type { PushMessage, PushSender, SendOutcome } from '../sender.js'
import { datasetCollapseId } from './apns.js'
import { sharedToken } from './shared-token.js'

/** The fields of a Firebase service account JSON key file the sender reads. */
export interface FcmServiceAccount {
  readonly project_id: string
  readonly client_email: string
  /** PKCS#8 PEM of the account's RSA key. */
  readonly private_key: string
  readonly token_uri?: string
}

export interface FcmSenderOptions {
  readonly serviceAccount: FcmServiceAccount
  readonly apiBaseUrl?: string
  readonly fetch?: typeof fetch
  /** Milliseconds since the epoch; the assertion's `iat` and the access token's expiry follow it. */
  readonly now?: () => number
  /** How long one request may take before it counts as a network failure. */
  readonly requestTimeoutMs?: number
}

const API_BASE_URL = 'https://fcm.googleapis.com'
const TOKEN_URI = 'https://oauth2.googleapis.com/token'
const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const ASSERTION_LIFETIME_S = 3600
/** An access token is replaced this long before it expires, so no request carries one that lapses in flight. */
const EXPIRY_MARGIN_MS = 5 * 60 * 1000
const DEFAULT_TIMEOUT_MS = 10_000

interface AccessToken {
  readonly value: string
  readonly expiresAt: number
}

/** Why no access token could be had: `retry` when Google's endpoint may answer later. */
class TokenError extends Error {
  readonly transient: boolean

  constructor(message: string, transient: boolean) {
    super(message)
    this.transient = transient
  }
}

function loadKey(pem: string): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (error) {
    throw new TypeError(
      `FCM service account private_key is not a PEM private key: ${(error as Error).message}`,
    )
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw new TypeError('FCM service account private_key must be an RSA key')
  return key
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return JSON.parse(await response.text())
  } catch {
    return undefined
  }
}

interface FcmError {
  readonly status: string | undefined
  readonly errorCodes: readonly string[]
  readonly message: string | undefined
}

/** Reads a Google API error body: `{ error: { code, status, message, details: [{ errorCode }] } }`. */
function readError(body: unknown): FcmError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : {}
  const details = Array.isArray(error.details) ? error.details : []
  const errorCodes = details
    .map((detail) =>
      isRecord(detail) && typeof detail.errorCode === 'string' ? detail.errorCode : undefined,
    )
    .filter((code) => code !== undefined)
  return {
    status: typeof error.status === 'string' ? error.status : undefined,
    errorCodes,
    message: typeof error.message === 'string' ? error.message : undefined,
  }
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from now. */
function retryAfter(response: Response, now: number): number | undefined {
  const header = response.headers.get('retry-after')
  if (header === null) return undefined
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * Sends push-sync updates to Android devices (platform `GCM`) through the FCM HTTP v1 API, as a
 * data message so the app's handler runs and reads the five keys itself. Authenticates with the
 * OAuth 2 service-account flow; the access token is reused until shortly before it expires.
 */
export function createFcmSender(options: FcmSenderOptions): PushSender {
  const account = options.serviceAccount
  const key = loadKey(account.private_key)
  const tokenUri = account.token_uri ?? TOKEN_URI
  const fetcher = options.fetch ?? fetch
  const now = options.now ?? Date.now
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS
  const sendUrl = `${(options.apiBaseUrl ?? API_BASE_URL).replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`

  const requestToken = async (): Promise<AccessToken> => {
    const issuedAt = Math.floor(now() / 1000)
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(account.client_email)
      .setAudience(tokenUri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_S)
      .sign(key)
    let response: Response
    try {
      response = await fetcher(tokenUri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion,
        }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      throw new TokenError(`token endpoint unreachable: ${(error as Error).message}`, true)
    }
    const body = await readJson(response)
    if (!response.ok) {
      const description =
        isRecord(body) && typeof body.error === 'string'
          ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}`
          : 'no error description'
      // 400/401 (invalid_grant, a revoked key) will not heal by waiting; 429/5xx may.
      const transient = response.status === 429 || response.status >= 500
      throw new TokenError(`token endpoint ${response.status} ${description}`, transient)
    }
    if (!isRecord(body) || typeof body.access_token !== 'string') {
      throw new TokenError('token endpoint answered without an access_token', true)
    }
    const lifetimeS = typeof body.expires_in === 'number' ? body.expires_in : ASSERTION_LIFETIME_S
    return { value: body.access_token, expiresAt: now() + lifetimeS * 1000 - EXPIRY_MARGIN_MS }
  }

  const accessToken = sharedToken(requestToken, (token) => now() < token.expiresAt)

  const send = async (message: PushMessage): Promise<SendOutcome> => {
    if (message.platform !== 'GCM') {
      return { kind: 'failed', reason: `FCM sender cannot deliver to ${message.platform} devices` }
    }
    const payload = encodePushPayload(
      {
        source: 'cognito-sync',
        identityPoolId: message.identityPoolId,
        identityId: message.identityId,
        datasetName: message.datasetName,
        syncCount: message.syncCount,
      },
      'flat-strings',
    )
    // FCM refuses data values that are not strings; `flat-strings` writes them so already.
    const data = Object.fromEntries(Object.entries(payload).map(([name, value]) => [name, String(value)]))
    const body = JSON.stringify({
      message: {
        token: message.token,
        data,
        // High priority wakes a dozing device so the app syncs now; a device that was offline
        // gets only the newest update per dataset.
        android: { priority: 'HIGH', collapse_key: datasetCollapseId(message) },
      },
    })

    const attempt = async (): Promise<{ outcome: SendOutcome; unauthorized?: AccessToken }> => {
      let credentials: AccessToken
      try {
        credentials = await accessToken.get()
      } catch (error) {
        const reason = `FCM access token: ${(error as Error).message}`
        return {
          outcome:
            error instanceof TokenError && !error.transient
              ? { kind: 'failed', reason }
              : { kind: 'retry', reason },
        }
      }
      let response: Response
      try {
        response = await fetcher(sendUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${credentials.value}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        })
      } catch (error) {
        return { outcome: { kind: 'retry', reason: `FCM unreachable: ${(error as Error).message}` } }
      }
      if (response.ok) {
        // Drains the body so the connection goes back to the pool.
        await response.arrayBuffer().catch(() => undefined)
        return { outcome: { kind: 'delivered' } }
      }
      const error = readError(await readJson(response))
      const codes = [error.status, ...error.errorCodes].filter((code) => code !== undefined)
      const reason = `FCM ${response.status}${codes.length === 0 ? '' : ` ${[...new Set(codes)].join('/')}`}${
        error.message === undefined ? '' : `: ${error.message}`
      }`
      if (response.status === 404 || codes.includes('UNREGISTERED') || codes.includes('NOT_FOUND')) {
        return { outcome: { kind: 'gone', reason } }
      }
      if (response.status === 429 || response.status >= 500) {
        const delay = retryAfter(response, now())
        return {
          outcome:
            delay === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: delay },
        }
      }
      if (response.status === 401) return { outcome: { kind: 'failed', reason }, unauthorized: credentials }
      return { outcome: { kind: 'failed', reason } }
    }

    try {
      const first = await attempt()
      if (first.unauthorized === undefined) return first.outcome
      // The token was revoked or expired early: one fresh token, and a second refusal is final.
      accessToken.discard(first.unauthorized)
      return (await attempt()).outcome
    } catch (error) {
      return { kind: 'retry', reason: `FCM send failed: ${(error as Error).message}` }
    }
  }

  const platforms: readonly DevicePlatform[] = ['GCM']
  return { platforms, send }
}
