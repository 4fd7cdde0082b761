import { createHash, createPrivateKey, type KeyObject } from 'node:crypto'
import { type ClientHttp2Session, connect, constants } from 'node:http2'
import { SignJWT } from 'jose'
import { encodePushPayload } from 'pushsync/core'
import type { DevicePlatform } from '../../store/contract.js'
import type { PushMessage, PushSender, SendOutcome } from '../sender.js'
import { sharedToken } from './shared-token.js'

export interface ApnsSenderOptions {
  /** The Apple Developer team id (10 characters), the provider token's `iss`. */
  readonly teamId: string
  /** The id of the APNs auth key (.p8), the provider token's `kid`. */
  readonly keyId: string
  /** The .p8 file's content: a PKCS#8 PEM holding a P-256 key. */
  readonly privateKey: string
  /** The app's bundle id, sent as `apns-topic`. */
  readonly bundleId: string
  /** Origin for `APNS` devices. */
  readonly productionUrl?: string
  /** Origin for `APNS_SANDBOX` devices (development builds). */
  readonly sandboxUrl?: string
  /** Extra trusted CA certificate (PEM), for a local test endpoint. */
  readonly ca?: string
  /** Milliseconds since the epoch; the provider token's `iat` and its renewal follow it. */
  readonly now?: () => number
  /** How long one request may take before it counts as a network failure. */
  readonly requestTimeoutMs?: number
}

/** A {@link PushSender} holding HTTP/2 connections: `close()` ends them on shutdown. */
export interface ApnsSender extends PushSender {
  close(): Promise<void>
}

const PRODUCTION_URL = 'https://api.push.apple.com'
const SANDBOX_URL = 'https://api.sandbox.push.apple.com'
/**
 * APNs refuses a provider token older than an hour and one renewed more often than every twenty
 * minutes (TooManyProviderTokenUpdates); fifty minutes stays clear of both.
 */
const TOKEN_RENEW_MS = 50 * 60 * 1000
const DEFAULT_TIMEOUT_MS = 10_000
const HEX_TOKEN = /^[0-9a-fA-F]+$/

interface ProviderToken {
  readonly jwt: string
  readonly issuedAt: number
}

interface ApnsResponse {
  readonly status: number
  readonly reason: string | undefined
}

type Attempt =
  | { readonly ok: true; readonly response: ApnsResponse }
  | { readonly ok: false; readonly error: string }

function loadKey(pem: string): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (error) {
    throw new TypeError(`APNs privateKey is not a PEM private key: ${(error as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('APNs privateKey must be a P-256 (ES256) key, as in the .p8 file Apple issues')
  }
  return key
}

/**
 * The collapse id must stay under 64 bytes while a dataset name alone may take 128; a digest of the
 * whole dataset address fits and still tells datasets (and identities sharing a device) apart.
 */
export function datasetCollapseId(message: PushMessage): string {
  return createHash('sha256')
    .update(JSON.stringify([message.identityPoolId, message.identityId, message.datasetName]))
    .digest('base64url')
}

function readReason(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === 'object' && parsed !== null && 'reason' in parsed) {
      return typeof parsed.reason === 'string' ? parsed.reason : undefined
    }
  } catch {
    // APNs answers errors with JSON; anything else leaves the status to speak alone.
  }
  return undefined
}

/**
 * Sends push-sync updates to iOS devices through APNs' HTTP/2 provider API, authenticated with a
 * token-based (.p8) key. `APNS` devices go to the production origin, `APNS_SANDBOX` ones to the
 * sandbox. Each origin keeps one HTTP/2 session, as Apple asks providers to reuse connections
 * rather than open one per notification.
 */
export function createApnsSender(options: ApnsSenderOptions): ApnsSender {
  const key = loadKey(options.privateKey)
  const now = options.now ?? Date.now
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS
  const origins: Record<'APNS' | 'APNS_SANDBOX', string> = {
    APNS: options.productionUrl ?? PRODUCTION_URL,
    APNS_SANDBOX: options.sandboxUrl ?? SANDBOX_URL,
  }
  const sessions = new Map<string, ClientHttp2Session>()

  const signToken = async (): Promise<ProviderToken> => {
    const issuedAt = now()
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: options.keyId })
      .setIssuer(options.teamId)
      .setIssuedAt(Math.floor(issuedAt / 1000))
      .sign(key)
    return { jwt, issuedAt }
  }

  const providerToken = sharedToken(signToken, (token) => now() - token.issuedAt < TOKEN_RENEW_MS)

  const session = (origin: string): ClientHttp2Session => {
    const existing = sessions.get(origin)
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing
    const created = connect(origin, options.ca === undefined ? {} : { ca: options.ca })
    const forget = () => {
      if (sessions.get(origin) === created) sessions.delete(origin)
    }
    // A session error also fails its streams, which report it; the listener keeps it from
    // becoming an uncaught exception.
    created.on('error', forget)
    created.on('close', forget)
    // After GOAWAY no new stream may start on this session: the next send opens a fresh one.
    created.on('goaway', forget)
    sessions.set(origin, created)
    return created
  }

  const post = (origin: string, path: string, headers: Record<string, string>, body: string) =>
    new Promise<Attempt>((resolve) => {
      let settled = false
      const settle = (attempt: Attempt) => {
        if (settled) return
        settled = true
        resolve(attempt)
      }
      try {
        const stream = session(origin).request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/json',
          ...headers,
        })
        let status = 0
        let text = ''
        stream.setEncoding('utf8')
        stream.setTimeout(timeoutMs, () => {
          stream.close(constants.NGHTTP2_CANCEL)
          settle({ ok: false, error: `no answer within ${timeoutMs} ms` })
        })
        stream.on('response', (response) => {
          status = Number(response[':status'])
        })
        stream.on('data', (chunk: string) => {
          text += chunk
        })
        stream.on('end', () => settle({ ok: true, response: { status, reason: readReason(text) } }))
        stream.on('error', (error) => settle({ ok: false, error: error.message }))
        stream.on('close', () => {
          // A stream reset before the response ended (RST_STREAM, a dropped connection).
          settle({ ok: false, error: `stream closed (code ${stream.rstCode})` })
        })
        stream.end(body)
      } catch (error) {
        settle({ ok: false, error: (error as Error).message })
      }
    })

  const send = async (message: PushMessage): Promise<SendOutcome> => {
    if (message.platform !== 'APNS' && message.platform !== 'APNS_SANDBOX') {
      return { kind: 'failed', reason: `APNs sender cannot deliver to ${message.platform} devices` }
    }
    if (!HEX_TOKEN.test(message.token)) {
      // What APNs itself would answer; checking first also keeps the token out of the path unescaped.
      return { kind: 'gone', reason: 'APNs BadDeviceToken: the device token is not hexadecimal' }
    }
    const origin = origins[message.platform]
    const path = `/3/device/${message.token.toLowerCase()}`
    const body = JSON.stringify(
      encodePushPayload(
        {
          source: 'cognito-sync',
          identityPoolId: message.identityPoolId,
          identityId: message.identityId,
          datasetName: message.datasetName,
          syncCount: message.syncCount,
        },
        'apns',
      ),
    )

    const attempt = async (): Promise<{ outcome: SendOutcome; expired?: ProviderToken }> => {
      let credentials: ProviderToken
      try {
        credentials = await providerToken.get()
      } catch (error) {
        return { outcome: { kind: 'failed', reason: `APNs provider token: ${(error as Error).message}` } }
      }
      const result = await post(
        origin,
        path,
        {
          authorization: `bearer ${credentials.jwt}`,
          'apns-push-type': 'background',
          // Apple requires priority 5 for background pushes; 10 would be refused.
          'apns-priority': '5',
          'apns-topic': options.bundleId,
          // Each update of a dataset supersedes the previous one: they may be coalesced as one.
          'apns-collapse-id': datasetCollapseId(message),
        },
        body,
      )
      if (!result.ok) return { outcome: { kind: 'retry', reason: `APNs unreachable: ${result.error}` } }
      const { status, reason } = result.response
      const described = `APNs ${status}${reason === undefined ? '' : ` ${reason}`}`
      if (status === 200) return { outcome: { kind: 'delivered' } }
      if (
        status === 410 ||
        (status === 400 && (reason === 'BadDeviceToken' || reason === 'DeviceTokenNotForTopic'))
      ) {
        return { outcome: { kind: 'gone', reason: described } }
      }
      if (status === 429 || status === 500 || status === 503) {
        return { outcome: { kind: 'retry', reason: described } }
      }
      if (status === 403 && reason === 'ExpiredProviderToken') {
        return { outcome: { kind: 'failed', reason: described }, expired: credentials }
      }
      return { outcome: { kind: 'failed', reason: described } }
    }

    try {
      const first = await attempt()
      if (first.expired === undefined) return first.outcome
      providerToken.discard(first.expired)
      // A token signed just now and still called expired means a wrong clock: no use retrying.
      return (await attempt()).outcome
    } catch (error) {
      return { kind: 'retry', reason: `APNs send failed: ${(error as Error).message}` }
    }
  }

  const platforms: readonly DevicePlatform[] = ['APNS', 'APNS_SANDBOX']
  return {
    platforms,
    send,
    async close() {
      const open = [...sessions.values()]
      sessions.clear()
      await Promise.all(
        open.map((each) => new Promise<void>((resolve) => (each.closed ? resolve() : each.close(resolve)))),
      )
    },
  }
}
