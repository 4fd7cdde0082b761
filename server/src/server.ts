import { randomBytes, randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { type Limits, resolveLimits } from 'pushsync/core'
import { createAuthenticator, type JwtBearerOptions } from './auth/authenticate.js'
import { createCredentialIssuer } from './auth/credentials.js'
import { createSessionTokens } from './auth/session-token.js'
import { createApp, type SiteHandler } from './http/app.js'
import {
  createJwtLoginVerifier,
  defaultNewIdentityId,
  handleIdentityRequest,
  type LoginIssuer,
} from './identity/cognito-identity.js'
import { combineChangeListeners } from './push/change.js'
import { joinChangeBus } from './push/change-bus.js'
import { createPushDispatcher } from './push/dispatcher.js'
import { createPushOutbox } from './push/outbox.js'
import type { PushSender } from './push/sender.js'
import { type ApnsSenderOptions, createApnsSender } from './push/senders/apns.js'
import { createFcmSender, type FcmSenderOptions } from './push/senders/fcm.js'
import { createWebPushSender, type WebPushSenderOptions } from './push/senders/webpush.js'
import { createSseHub } from './push/sse-hub.js'
import type { SyncStore } from './store/contract.js'
import { openStore } from './store/index.js'
import { createNdjsonStreamSink, type StreamSink } from './streams/sink.js'
import { type SyncTriggerHook, urlSyncTrigger } from './sync/sync-trigger.js'

export interface SyncServerOptions {
  /**
   * A SQLite file path, `:memory:`, a PostgreSQL URL (`postgres://...`), or an open store.
   * Default `./pushsync.db`.
   */
  readonly db?: string | SyncStore
  /** Pools hand out identities without logins, like a pool with unauthenticated access enabled. */
  readonly allowUnauthenticated?: boolean
  /** Developer credentials for admin operations. */
  readonly adminKeys?: ReadonlyArray<{ readonly accessKeyId: string; readonly secretAccessKey: string }>
  /** Key for session tokens and issued credentials; otherwise generated once and kept in the store. */
  readonly tokenSecret?: string
  /** JWT issuers whose tokens GetId accepts in `Logins`. */
  readonly logins?: readonly LoginIssuer[]
  /** JWTs accepted as `Authorization: Bearer` by the HTTP transport. */
  readonly bearerJwt?: JwtBearerOptions
  /** Cognito's limits unless changed. */
  readonly limits?: Partial<Limits>
  /**
   * Runs for every UpdateRecords with identity credentials, in place of Cognito's SyncTrigger
   * Lambda: it gets the documented event and may change the records. Without it, a pool's
   * SyncTrigger event (SetCognitoEvents) names a URL the server POSTs the event to.
   */
  readonly syncTrigger?: SyncTriggerHook
  /** Where bulk publish writes Cognito Streams records; default NDJSON files under `./pushsync-streams`. */
  readonly streamSink?: StreamSink
  /** Largest request body in bytes (default 8 MiB: a dataset is at most 1 MB, but JSON escapes can grow it). */
  readonly bodyLimit?: number
  /** Interval of the `: ping` comments on idle SSE streams (`.../events`), default 15000 ms. */
  readonly sseHeartbeatMs?: number
  /**
   * Push delivery (APNs, FCM, Web Push...): every change is queued in the store's outbox for the
   * subscribed devices whose platform one of these senders handles, and delivered from there.
   */
  readonly pushSenders?: readonly PushSender[]
  /** Web Push with these VAPID keys (platform WEBPUSH); the public key is served at `/pushsync/vapid-public-key`. */
  readonly webPush?: Omit<WebPushSenderOptions, 'now'>
  /** APNs with this auth key (platforms APNS and APNS_SANDBOX). */
  readonly apns?: Omit<ApnsSenderOptions, 'now'>
  /** FCM HTTP v1 with this service account (platform GCM). */
  readonly fcm?: Omit<FcmSenderOptions, 'now'>
  readonly push?: {
    /** How long a push is retried before it is dropped (default 24 h). */
    readonly ttlMs?: number
    /** Also push to the device that made the change (default false). */
    readonly echoToOrigin?: boolean
  }
  /**
   * Serves your own pages from the API's origin. It is asked about GET and HEAD requests that no API
   * route answers, outside `/identitypools` and `/pushsync/` (so it can neither shadow nor fill in an
   * API path), and answers with a Response, or with `undefined` to leave the request to the API's
   * `UnknownOperationException`. A HEAD request is answered with the GET response's headers.
   * An error it throws is reported to `onError` and answered as a 500 InternalErrorException.
   */
  readonly site?: SiteHandler
  /**
   * Origins whose pages may call the API from the browser (CORS), such as
   * `['https://app.example.com']`; `['*']` allows every origin. Default: none, so only pages served
   * from the server's own origin (see `site`) or through a same-origin proxy can call it.
   */
  readonly corsOrigins?: readonly string[]
  /** Reports unexpected errors: those answered as 500 InternalErrorException and those of push delivery. */
  readonly onError?: (error: unknown) => void
  /** The clock, in epoch milliseconds; tests pass their own. */
  readonly now?: () => number
}

export interface SyncServer {
  /** The web-standard handler: usable with any runtime's HTTP server. */
  readonly fetch: (request: Request) => Promise<Response>
  /** Starts an HTTP server; port 0 picks a free port. */
  listen(
    port?: number,
    host?: string,
  ): Promise<{ readonly host: string; readonly port: number; readonly url: string }>
  /** Stops accepting connections, ends open ones and closes the store. */
  close(): Promise<void>
  readonly store: SyncStore
}

const TOKEN_SECRET_SETTING = 'token-secret'
const CLOSE_GRACE_MS = 5000

export async function createSyncServer(options: SyncServerOptions = {}): Promise<SyncServer> {
  const store = typeof options.db === 'object' ? options.db : await openStore(options.db ?? './pushsync.db')
  const now = options.now ?? Date.now
  const tokenSecret = options.tokenSecret ?? (await storedTokenSecret(store))
  const credentials = createCredentialIssuer(tokenSecret)
  const sessions = createSessionTokens(tokenSecret)
  const verifyLogin =
    options.logins === undefined ? undefined : createJwtLoginVerifier({ issuers: [...options.logins] })
  const authenticate = createAuthenticator({
    credentials,
    adminKeys: options.adminKeys ?? [],
    ...(options.bearerJwt === undefined ? {} : { bearerJwt: options.bearerJwt }),
    now,
  })
  const events = createSseHub(
    options.sseHeartbeatMs === undefined ? {} : { heartbeatMs: options.sseHeartbeatMs },
  )
  const apns = options.apns === undefined ? undefined : createApnsSender({ ...options.apns, now })
  const pushSenders = [
    ...(options.pushSenders ?? []),
    ...(options.webPush === undefined ? [] : [createWebPushSender({ ...options.webPush, now })]),
    ...(apns === undefined ? [] : [apns]),
    ...(options.fcm === undefined ? [] : [createFcmSender({ ...options.fcm, now })]),
  ]
  const outbox = createPushOutbox({
    platforms: pushSenders.flatMap((sender) => sender.platforms),
    now,
    ...(options.push?.ttlMs === undefined ? {} : { ttlMs: options.push.ttlMs }),
    ...(options.push?.echoToOrigin === undefined ? {} : { echoToOrigin: options.push.echoToOrigin }),
  })
  const dispatcher = createPushDispatcher({
    store,
    senders: pushSenders,
    now,
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  })
  // Several processes on one store (PostgreSQL): changes committed elsewhere reach this process's
  // live connections and wake its dispatcher too.
  const bus =
    store.bus === undefined
      ? undefined
      : joinChangeBus(store.bus, (change) => {
          events.publish(change)
          dispatcher.listener.afterCommit?.(change)
        })
  // A started server hears every change committed after it started, through any process.
  await store.bus?.listening()
  const app = createApp({
    store,
    changes: combineChangeListeners(events, outbox, dispatcher.listener, bus?.listener),
    events,
    pushStats: () => dispatcher.stats(),
    vapidPublicKey: options.webPush?.vapid.publicKey,
    sessions,
    limits: resolveLimits(options.limits),
    authenticate,
    identity: (target, body, at) =>
      handleIdentityRequest(target, body, {
        store,
        credentials,
        allowUnauthenticated: options.allowUnauthenticated ?? false,
        ...(verifyLogin === undefined ? {} : { verifyLogin }),
        now: at,
        newIdentityId: (pool) => defaultNewIdentityId(pool, randomUUID),
      }),
    now,
    randomId: randomUUID,
    streamSink: options.streamSink ?? createNdjsonStreamSink('./pushsync-streams'),
    syncTriggerFor: (url) => options.syncTrigger ?? (url === undefined ? undefined : urlSyncTrigger(url)),
    bodyLimit: options.bodyLimit ?? 8 * 1024 * 1024,
    ...(options.site === undefined ? {} : { site: options.site }),
    ...(options.corsOrigins === undefined ? {} : { corsOrigins: options.corsOrigins }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  })
  // Started at once: rows a previous run committed but did not deliver go out after a restart. Without
  // senders it stays idle, so such rows wait for a run that can deliver them instead of being dropped.
  if (pushSenders.length > 0) dispatcher.start()
  const fetch = async (request: Request) => app.fetch(request)
  // On Node the handler also gets the raw request, so bodies are read without a web Request copy.
  const nodeFetch = async (request: Request, env: unknown) => app.fetch(request, env)

  let http: ReturnType<typeof serve> | undefined
  return {
    fetch,
    store,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const server = serve({ fetch: nodeFetch, port, hostname: host }, (info: AddressInfo) => {
          const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address
          resolve({ host: info.address, port: info.port, url: `http://${shownHost}:${info.port}` })
        })
        server.once('error', reject)
        http = server
      })
    },
    async close() {
      bus?.stop()
      // Event streams never end by themselves: without this the close would wait out the grace period.
      events.close()
      const server = http
      http = undefined
      if (server !== undefined) {
        // Stop accepting, let requests in flight finish, drop idle keep-alive connections; after a
        // grace period, end whatever is left so a stuck client cannot hold the shutdown.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            if ('closeAllConnections' in server) server.closeAllConnections()
          }, CLOSE_GRACE_MS)
          server.close(() => {
            clearTimeout(timer)
            resolve()
          })
          if ('closeIdleConnections' in server) server.closeIdleConnections()
        })
      }
      await dispatcher.stop()
      await apns?.close()
      await store.close()
    },
  }
}

/** The secret is made once per database, so tokens and credentials survive a restart. */
async function storedTokenSecret(store: SyncStore): Promise<string> {
  return store.transaction(async (tx) => {
    const existing = await tx.getSetting(TOKEN_SECRET_SETTING)
    if (existing !== undefined) return existing
    const secret = randomBytes(32).toString('base64url')
    await tx.putSetting(TOKEN_SECRET_SETTING, secret)
    return secret
  })
}
