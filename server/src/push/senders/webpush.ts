import { createECDH, createHash } from 'node:crypto'
import { encodePushPayload } from 'pushsync/core'
import webpush, { type RequestDetails } from 'web-push'
import {
  createOutboundFetch,
  DEFAULT_OUTBOUND,
  LOCAL_OUTBOUND,
  type OutboundFetch,
  type OutboundPolicy,
  OutboundRefusedError,
  outboundUrlRefusal,
} from '../../ops/outbound.js'
import type { PushMessage, PushSender, SendOutcome } from '../sender.js'

/** The server's VAPID identity (RFC 8292): who the push services see sending. */
export interface VapidKeys {
  /** A `mailto:` address or an `https:` URL where the push service's operator can reach us. */
  readonly subject: string
  /** The uncompressed P-256 public key, base64url (65 bytes decoded): the `applicationServerKey`. */
  readonly publicKey: string
  /** The P-256 private key, base64url (32 bytes decoded). */
  readonly privateKey: string
}

export interface WebPushSenderOptions {
  readonly vapid: VapidKeys
  /** How long the push service keeps an undelivered push, in seconds; 24 hours by default. */
  readonly ttlSeconds?: number
  /** Aborts a request the push service has not answered by then (an outcome of `retry`); 30 s by default. */
  readonly timeoutMs?: number
  /**
   * Which endpoints a subscription may name: `https:` URLs of the known browser push services, at
   * public addresses (checked again when the name is resolved, at each send), unless changed. See
   * {@link OutboundPolicy}.
   */
  readonly endpoints?: OutboundPolicy
  /**
   * Shorthand for the development policy (`http:`, local and private addresses, any host): only a
   * local push service in tests or development needs it. Browsers only ever hand out `https:`
   * endpoints of their push service, so anything else is a client-made token aiming the server's
   * requests somewhere.
   */
  readonly allowInsecureEndpoints?: boolean
  /** What talks to push services: by default a request that holds to `endpoints` after DNS too. */
  readonly fetch?: OutboundFetch
  /** The clock that turns an HTTP-date `Retry-After` into a delay. */
  readonly now?: () => number
}

/** The parts of a browser's `PushSubscription.toJSON()` a push needs. */
export interface WebPushSubscription {
  readonly endpoint: string
  readonly keys: { readonly p256dh: string; readonly auth: string }
}

const DEFAULT_TTL_SECONDS = 24 * 60 * 60
const DEFAULT_TIMEOUT_MS = 30_000
/** RFC 8030 §5.4: a Topic is at most 32 characters of the URL-safe base64 alphabet. */
const TOPIC_BYTES = 24
const BASE64URL = /^[A-Za-z0-9_-]+$/
/** How much of a refusal's body goes into the outcome's reason: enough to diagnose, not a whole page. */
const REASON_BODY_CHARS = 200

export const WEBPUSH_ENV = {
  publicKey: 'PUSHSYNC_VAPID_PUBLIC_KEY',
  privateKey: 'PUSHSYNC_VAPID_PRIVATE_KEY',
  subject: 'PUSHSYNC_VAPID_SUBJECT',
} as const

/** A fresh VAPID key pair, base64url, for `PUSHSYNC_VAPID_PUBLIC_KEY` / `PUSHSYNC_VAPID_PRIVATE_KEY`. */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  const keys = webpush.generateVAPIDKeys()
  return { publicKey: keys.publicKey, privateKey: keys.privateKey }
}

/**
 * The VAPID identity from explicit options, each key falling back to its environment variable.
 *
 * @returns `undefined` when none of the three is set anywhere: Web Push is simply not configured.
 * @throws Error when only some are set or one is malformed, so a typo fails at startup rather than
 *   at the first push.
 */
export function loadVapidKeys(
  options: Partial<VapidKeys> = {},
  env: Readonly<Record<string, string | undefined>> = {},
): VapidKeys | undefined {
  const pick = (given: string | undefined, name: string) => {
    const value = given ?? env[name]
    return value === undefined || value.trim() === '' ? undefined : value.trim()
  }
  const subject = pick(options.subject, WEBPUSH_ENV.subject)
  const publicKey = pick(options.publicKey, WEBPUSH_ENV.publicKey)
  const privateKey = pick(options.privateKey, WEBPUSH_ENV.privateKey)
  if (subject === undefined && publicKey === undefined && privateKey === undefined) return undefined

  const missing = [
    subject === undefined ? WEBPUSH_ENV.subject : undefined,
    publicKey === undefined ? WEBPUSH_ENV.publicKey : undefined,
    privateKey === undefined ? WEBPUSH_ENV.privateKey : undefined,
  ].filter((name) => name !== undefined)
  if (subject === undefined || publicKey === undefined || privateKey === undefined) {
    throw new Error(`Web Push is half configured: ${missing.join(', ')} missing`)
  }
  const keys = { subject, publicKey, privateKey }
  validateVapidKeys(keys)
  return keys
}

/** Throws an Error naming the fault when the keys cannot sign VAPID tokens the push services accept. */
export function validateVapidKeys(keys: VapidKeys): void {
  let subject: URL
  try {
    subject = new URL(keys.subject)
  } catch {
    throw new Error(`VAPID subject ${JSON.stringify(keys.subject)} is not a URL`)
  }
  if (subject.protocol !== 'mailto:' && subject.protocol !== 'https:') {
    throw new Error(`VAPID subject ${JSON.stringify(keys.subject)} must be a mailto: or https: URL`)
  }
  const publicKey = decodeBase64url(keys.publicKey)
  if (publicKey?.length !== 65 || publicKey[0] !== 0x04) {
    throw new Error('VAPID public key must be an uncompressed P-256 point, base64url (65 bytes)')
  }
  const privateKey = decodeBase64url(keys.privateKey)
  if (privateKey?.length !== 32) throw new Error('VAPID private key must be 32 bytes, base64url')
  // Swapped or mismatched keys would sign tokens every push service rejects with 403: catch it here.
  let derived: Buffer
  try {
    const ecdh = createECDH('prime256v1')
    ecdh.setPrivateKey(privateKey)
    derived = ecdh.getPublicKey()
  } catch {
    throw new Error('VAPID private key is not a valid P-256 private key')
  }
  if (!derived.equals(publicKey)) throw new Error('VAPID public key does not belong to the private key')
}

/**
 * The `Topic` of a dataset's pushes: while one is waiting at the push service, a newer one with
 * the same Topic replaces it, so an offline browser wakes to one push per dataset carrying the
 * latest sync count. The hash covers the pool and identity too, because one browser subscription
 * can be registered under several identities (sign-out and sign-in, merged identities) and
 * their same-named datasets must not replace each other's pushes. Hashing also keeps dataset
 * names, which may say something about the user, out of the push service's sight.
 */
export function webPushTopic(message: Pick<PushMessage, 'identityPoolId' | 'identityId' | 'datasetName'>) {
  return createHash('sha256')
    .update(JSON.stringify([message.identityPoolId, message.identityId, message.datasetName]))
    .digest()
    .subarray(0, TOPIC_BYTES)
    .toString('base64url')
}

/**
 * Reads a device token as the browser's `PushSubscription` JSON, whose endpoint `policy` allows.
 * `expirationTime` and any other keys are ignored: the push service says 404/410 when the
 * subscription ends. RegisterDevice refuses the tokens this refuses, so no request is ever made
 * for them.
 */
export function parseWebPushSubscription(
  token: string,
  policy: OutboundPolicy = DEFAULT_OUTBOUND,
): { ok: true; subscription: WebPushSubscription } | { ok: false; reason: string } {
  let value: unknown
  try {
    value = JSON.parse(token)
  } catch {
    return { ok: false, reason: 'token is not PushSubscription JSON' }
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'token is not an object' }
  const { endpoint, keys } = value as { endpoint?: unknown; keys?: unknown }
  if (typeof endpoint !== 'string') return { ok: false, reason: 'token has no endpoint' }
  const refusal = outboundUrlRefusal(endpoint, policy, { hosts: policy.webPushHosts })
  if (refusal !== undefined) return { ok: false, reason: `token endpoint ${refusal}` }
  if (typeof keys !== 'object' || keys === null) return { ok: false, reason: 'token has no keys' }
  const { p256dh, auth } = keys as { p256dh?: unknown; auth?: unknown }
  if (typeof p256dh !== 'string' || decodeBase64url(p256dh)?.length !== 65) {
    return { ok: false, reason: 'token keys.p256dh is not a P-256 public key' }
  }
  if (typeof auth !== 'string' || decodeBase64url(auth)?.length !== 16) {
    return { ok: false, reason: 'token keys.auth is not a 16-byte secret' }
  }
  return { ok: true, subscription: { endpoint, keys: { p256dh, auth } } }
}

/**
 * Delivers pushes to browsers through their push service (RFC 8030), signed with VAPID (RFC 8292)
 * and encrypted `aes128gcm` (RFC 8291) to the subscription's keys, so the push service relays a
 * body it cannot read. The body is the update's JSON, as `parsePushPayload` reads it in the
 * service worker.
 *
 * web-push builds the request; it is sent with `fetch` rather than `sendNotification`, which
 * speaks only https and turns every status into an exception.
 */
export function createWebPushSender(options: WebPushSenderOptions): PushSender {
  validateVapidKeys(options.vapid)
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
  if (!Number.isSafeInteger(ttl) || ttl < 0) throw new Error(`ttlSeconds ${ttl} must be a whole number ≥ 0`)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const policy =
    options.allowInsecureEndpoints === true ? LOCAL_OUTBOUND : (options.endpoints ?? DEFAULT_OUTBOUND)
  const send = options.fetch ?? createOutboundFetch(policy)
  const now = options.now ?? Date.now
  const vapidDetails = {
    subject: options.vapid.subject,
    publicKey: options.vapid.publicKey,
    privateKey: options.vapid.privateKey,
  }

  const attempt = async (message: PushMessage): Promise<SendOutcome> => {
    const parsed = parseWebPushSubscription(message.token, policy)
    if (!parsed.ok) return { kind: 'failed', reason: parsed.reason }

    const payload = encodePushPayload(
      {
        source: 'cognito-sync',
        identityPoolId: message.identityPoolId,
        identityId: message.identityId,
        datasetName: message.datasetName,
        syncCount: message.syncCount,
      },
      'json',
    )
    let request: RequestDetails
    try {
      request = webpush.generateRequestDetails(parsed.subscription, JSON.stringify(payload), {
        vapidDetails,
        TTL: ttl,
        contentEncoding: 'aes128gcm',
        // A sync push matters only while it is fresh, and the service worker does no more than a pull.
        urgency: 'high',
        topic: webPushTopic(message),
      })
    } catch (error) {
      // Only a subscription web-push cannot encrypt to gets here (a p256dh off the curve...).
      return { kind: 'failed', reason: `cannot build the push: ${describe(error)}` }
    }

    const headers = new Headers()
    for (const [name, value] of Object.entries(request.headers)) {
      // fetch computes the length itself, and refuses a hand-set one that disagrees.
      if (name.toLowerCase() !== 'content-length') headers.set(name, String(value))
    }
    let response: Response
    try {
      response = await send(request.endpoint, {
        method: 'POST',
        headers,
        ...(request.body === null ? {} : { body: new Uint8Array(request.body) }),
        // A push service that redirects is misbehaving; following would resend the body elsewhere.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      // An endpoint whose name now resolves to a private address is refused for good.
      if (error instanceof OutboundRefusedError) return { kind: 'failed', reason: error.message }
      return { kind: 'retry', reason: `push service unreachable: ${describe(error)}` }
    }
    return outcomeOf(response, now())
  }

  return {
    platforms: ['WEBPUSH'],
    async send(message) {
      try {
        return await attempt(message)
      } catch (error) {
        // The port promises outcomes, never exceptions; nothing above is expected to throw.
        return { kind: 'failed', reason: `unexpected error: ${describe(error)}` }
      }
    },
  }
}

async function outcomeOf(response: Response, now: number): Promise<SendOutcome> {
  const status = response.status
  if (status >= 200 && status < 300) {
    // Release the connection; the body (usually empty) says nothing we need.
    await response.body?.cancel().catch(() => undefined)
    return { kind: 'delivered' }
  }
  const reason = `push service answered ${status}${await bodyExcerpt(response)}`
  if (status === 404 || status === 410) return { kind: 'gone', reason }
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now)
    return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs }
  }
  // 400 (malformed), 403 (VAPID key mismatch), 413 (payload too large), redirects: resending the
  // same push would be refused the same way.
  return { kind: 'failed', reason }
}

async function bodyExcerpt(response: Response): Promise<string> {
  try {
    const text = (await response.text()).trim()
    if (text === '') return ''
    return `: ${text.length > REASON_BODY_CHARS ? `${text.slice(0, REASON_BODY_CHARS)}…` : text}`
  } catch {
    return ''
  }
}

/** `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in milliseconds from `now`. */
function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  if (/^\d+$/.test(text)) {
    const ms = Number(text) * 1000
    return Number.isSafeInteger(ms) ? ms : undefined
  }
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function decodeBase64url(text: string): Buffer | undefined {
  return BASE64URL.test(text) ? Buffer.from(text, 'base64url') : undefined
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  // fetch wraps the socket error ("fetch failed"); the cause says what happened (ECONNREFUSED...).
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
  return `${error.message}${cause}`
}
