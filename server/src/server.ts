import { randomBytes, randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { serve } from '@hono/node-server'
import type { Registry } from 'prom-client'
import { type Limits, resolveLimits } from 'pushsync/core'
import { createAuthenticator, type JwtBearerOptions } from './auth/authenticate.js'
import { createCredentialIssuer } from './auth/credentials.js'
import { createSessionTokens } from './auth/session-token.js'
import { parseLambdaFunctionArn } from './aws/arns.js'
import { createPoolPushRouter, snsPlatformsOf } from './aws/push-routing.js'
import { type AwsOptions, type AwsServices, createAwsServices } from './aws/services.js'
import { CognitoError } from './errors.js'
import { type AppDependencies, createApp, type SiteHandler } from './http/app.js'
import { createBodyBudget } from './http/body.js'
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './http/limits.js'
import { createSocketServer } from './http/socket.js'
import { createSocketRunner } from './http/socket-runner.js'
import {
  createJwtLoginVerifier,
  defaultNewIdentityId,
  handleIdentityRequest,
  type LoginIssuer,
} from './identity/cognito-identity.js'
import { type LogLevel, resolveLogger, type ServerLogger, serializeError } from './ops/logger.js'
import { createServerMetrics, NO_METRICS, type ServerMetrics } from './ops/metrics.js'
import {
  createOutboundFetch,
  DEFAULT_OUTBOUND,
  LOCAL_OUTBOUND,
  type OutboundPolicy,
  outboundUrlRefusal,
} from './ops/outbound.js'
import { createRequestThrottle, type RequestThrottle, type ThrottleOptions } from './ops/throttle.js'
import { type ChangeListener, combineChangeListeners } from './push/change.js'
import { joinChangeBus } from './push/change-bus.js'
import { deviceTokenRefusal } from './push/device-tokens.js'
import { createPushDispatcher } from './push/dispatcher.js'
import { createPushOutbox } from './push/outbox.js'
import type { PushSender } from './push/sender.js'
import { type ApnsSenderOptions, createApnsSender } from './push/senders/apns.js'
import { createFcmSender, type FcmSenderOptions } from './push/senders/fcm.js'
import { createSnsSender } from './push/senders/sns.js'
import { createWebPushSender, type WebPushSenderOptions } from './push/senders/webpush.js'
import { createSseHub } from './push/sse-hub.js'
import type { SyncStore } from './store/contract.js'
import { openStore } from './store/index.js'
import { createKinesisStreamSink } from './streams/kinesis.js'
import { createNdjsonStreamSink, type StreamSink } from './streams/sink.js'
import { createStreamDispatcher, createStreamOutbox } from './streams/stream-outbox.js'
import { lambdaSyncTrigger } from './sync/lambda-trigger.js'
import { createSpentSessionPruner } from './sync/spent-sessions.js'
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
   * SyncTrigger event (SetCognitoEvents) names a Lambda function the server invokes, or a URL it
   * POSTs the event to.
   */
  readonly syncTrigger?: SyncTriggerHook
  /**
   * Where Cognito Streams records go (every change of a pool whose streaming is enabled, and bulk
   * publish): by default the pool's Kinesis stream with `aws` on, else NDJSON files under
   * `./pushsync-streams`. `createNdjsonStreamSink(dir)` writes files in place of Kinesis.
   */
  readonly streamSink?: StreamSink
  /**
   * Amazon Web Services, for the pools whose settings name them, as Cognito used them: pushes
   * through SNS platform applications (PushSync), Cognito Streams to Kinesis, a Lambda function as
   * sync trigger. Endpoints and the server's own credentials come the AWS SDK's standard way (the
   * default credential chain, `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`): `{}` is
   * enough. Off when absent (the command turns it on): such settings are then kept but unused.
   */
  readonly aws?: AwsOptions
  /** Largest request body in bytes (default 8 MiB: a dataset is at most 1 MB, but JSON escapes can grow it). */
  readonly bodyLimit?: number
  /**
   * Bytes of request bodies buffered at once, across all requests (default 64 MiB). A body that
   * does not fit is refused with 429 `TooManyRequestsException` and `Retry-After: 1`. Bodies are read
   * only once the request's headers have authenticated it.
   */
  readonly maxBufferedBytes?: number
  /** Connections open at once, live event streams included (default 10 000); more are closed on arrival. */
  readonly maxConnections?: number
  /** Time a client has to send a request's headers (default 10 s); then the connection is closed. */
  readonly headersTimeoutMs?: number
  /** Time a client has to send a whole request, body included (default 30 s); then 408. */
  readonly requestTimeoutMs?: number
  /**
   * Where the server's own requests may go: Web Push endpoints (any guest registers one) and sync
   * trigger URLs. By default only public addresses (checked again after DNS, at each request), and
   * Web Push endpoints only as `https:` URLs of the known browser push services
   * (`webPushHosts`, see DEFAULT_WEB_PUSH_HOSTS). `allowPrivateNetworks` lifts all of it, for local
   * development and tests.
   */
  readonly outbound?: Partial<OutboundPolicy>
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
  /**
   * Where the server logs one line per request (request id, operation, status, duration) and its
   * unexpected errors: a level (`info`, `debug`...) for JSON lines on stderr, or a pino logger (or
   * any with pino's `(fields, message)` methods). Default: nothing is logged.
   */
  readonly logger?: ServerLogger | LogLevel
  /**
   * Prometheus metrics, default off. On, `server.metrics` answers `GET /metrics`, which
   * `listenMetrics` serves on a port of its own: the API's port never does.
   */
  readonly metrics?: boolean | { readonly processMetrics?: boolean }
  /**
   * Token buckets answered with `TooManyRequestsException`: guest `GetId` per client address, and
   * requests per identity. Default: no throttling (the command turns on `DEFAULT_THROTTLE`).
   */
  readonly throttle?: ThrottleOptions
  /**
   * The server is behind one reverse proxy that appends the client's address to `X-Forwarded-For`:
   * throttling reads the address there. Default false (the socket's peer), since any client can
   * send that header.
   */
  readonly trustProxy?: boolean
  /** The clock, in epoch milliseconds; tests pass their own. */
  readonly now?: () => number
}

export interface ListeningAddress {
  readonly host: string
  readonly port: number
  readonly url: string
}

export interface SyncServer {
  /** The web-standard handler: usable with any runtime's HTTP server. */
  readonly fetch: (request: Request) => Promise<Response>
  /** Starts an HTTP server; port 0 picks a free port. */
  listen(port?: number, host?: string): Promise<ListeningAddress>
  /** With `metrics` on: the registry, and a handler answering `GET /metrics` (404 elsewhere). */
  readonly metrics: { readonly registry: Registry; fetch(request: Request): Promise<Response> } | undefined
  /** Starts an HTTP server answering only `GET /metrics`; needs the `metrics` option. */
  listenMetrics(port?: number, host?: string): Promise<ListeningAddress>
  /** Stops accepting connections, ends open ones and closes the store. */
  close(): Promise<void>
  readonly store: SyncStore
}

const TOKEN_SECRET_SETTING = 'token-secret'
const CLOSE_GRACE_MS = 5000

export async function createSyncServer(options: SyncServerOptions = {}): Promise<SyncServer> {
  const openedStore =
    typeof options.db === 'object' ? options.db : await openStore(options.db ?? './pushsync.db')
  const now = options.now ?? Date.now
  const logger = resolveLogger(options.logger)
  const onError = (message: string) => (error: unknown) => {
    logger.error({ error: serializeError(error) }, message)
    options.onError?.(error)
  }
  const throttle = options.throttle === undefined ? undefined : createRequestThrottle(options.throttle)
  const events = createSseHub(
    options.sseHeartbeatMs === undefined ? {} : { heartbeatMs: options.sseHeartbeatMs },
  )
  const metrics: ServerMetrics =
    options.metrics === undefined || options.metrics === false
      ? NO_METRICS
      : createServerMetrics({
          store: openedStore,
          openStreams: () => events.connectionCount(),
          throttleKeys: () => throttle?.sizes() ?? { guestGetId: 0, identity: 0 },
          now,
          onError: onError('the outbox could not be read for metrics'),
          ...(options.metrics === true ? {} : options.metrics),
        })
  const store = metrics.instrument(openedStore)
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
  const outbound: OutboundPolicy = { ...DEFAULT_OUTBOUND, ...options.outbound }
  // The Web Push sender's rules are the ones RegisterDevice applies: a token it takes is one the
  // sender will send to.
  const webPushEndpoints =
    options.webPush?.allowInsecureEndpoints === true
      ? LOCAL_OUTBOUND
      : (options.webPush?.endpoints ?? outbound)
  const outboundFetch = createOutboundFetch(outbound)
  const apns = options.apns === undefined ? undefined : createApnsSender({ ...options.apns, now })
  const aws: AwsServices | undefined =
    options.aws === undefined ? undefined : createAwsServices({ ...options.aws, now })
  const ownSenders = [
    ...(options.pushSenders ?? []),
    ...(options.webPush === undefined
      ? []
      : [createWebPushSender({ ...options.webPush, endpoints: webPushEndpoints, now })]),
    ...(apns === undefined ? [] : [apns]),
    ...(options.fcm === undefined ? [] : [createFcmSender({ ...options.fcm, now })]),
  ]
  // With AWS, a router takes Cognito's four platforms: SNS for the pools that name it, else the
  // server's own sender of the platform.
  const pushSenders =
    aws === undefined
      ? ownSenders
      : [
          createPoolPushRouter({ store, sns: createSnsSender({ store, aws }), senders: ownSenders }),
          ...ownSenders,
        ]
  const outbox = createPushOutbox({
    platforms: ownSenders.flatMap((sender) => sender.platforms),
    ...(aws === undefined ? {} : { poolPlatforms: snsPlatformsOf }),
    now,
    ...(options.push?.ttlMs === undefined ? {} : { ttlMs: options.push.ttlMs }),
    ...(options.push?.echoToOrigin === undefined ? {} : { echoToOrigin: options.push.echoToOrigin }),
  })
  const dispatcher = createPushDispatcher({
    store,
    senders: pushSenders,
    now,
    onError: onError('push delivery failed'),
    onOutcome: (platform, outcome) => metrics.push(platform ?? 'unknown', outcome),
  })
  const streamSink =
    options.streamSink ??
    (aws === undefined ? createNdjsonStreamSink('./pushsync-streams') : createKinesisStreamSink(aws))
  const streams = createStreamDispatcher({
    store,
    sink: streamSink,
    now,
    onError: onError('a Cognito Streams record could not be written'),
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
  const bodyLimit = options.bodyLimit ?? 8 * 1024 * 1024
  const appDependencies: AppDependencies = {
    store,
    changes: combineChangeListeners(
      events,
      outbox,
      createStreamOutbox({ now }),
      afterTheAnswer(dispatcher.listener, onError('push delivery could not start')),
      afterTheAnswer(streams.listener, onError('a Cognito Streams record could not be sent')),
      bus?.listener,
    ),
    spentSessions: createSpentSessionPruner(store, onError('expired session tokens could not be dropped')),
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
    streamSink,
    syncTriggerFor: (target) => {
      if (options.syncTrigger !== undefined) return options.syncTrigger
      if (target === undefined) return undefined
      const lambda = parseLambdaFunctionArn(target)
      if (lambda === undefined) return urlSyncTrigger(target, outboundFetch)
      return aws === undefined ? lambdaUnavailable : lambdaSyncTrigger(lambda, aws)
    },
    syncTriggerUrlRefusal: (url) => outboundUrlRefusal(url, outbound, { httpAllowed: true }),
    deviceTokenRefusal: deviceTokenRefusal(webPushEndpoints),
    bodyLimit,
    bodyBudget: createBodyBudget(options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES),
    bodyDeadlineMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    ...(options.site === undefined ? {} : { site: options.site }),
    ...(options.corsOrigins === undefined ? {} : { corsOrigins: options.corsOrigins }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    logger,
    metrics,
    ...(throttle === undefined ? {} : { throttle: throttle satisfies RequestThrottle }),
    trustProxy: options.trustProxy ?? false,
  }
  const app = createApp(appDependencies)
  // Started at once: rows a previous run committed but did not deliver go out after a restart. Without
  // senders it stays idle, so such rows wait for a run that can deliver them instead of being dropped.
  if (pushSenders.length > 0) dispatcher.start()
  // Records an earlier run left go out at once where streaming is set up (AWS, or a sink of the
  // embedder's); otherwise with the first change, so a server that never streams never reads them.
  if (aws !== undefined || options.streamSink !== undefined) streams.start()
  const fetch = async (request: Request) => app.fetch(request)
  // On Node the handler also gets the raw request, so bodies are read without a web Request copy.
  const nodeFetch = async (request: Request, env: unknown) => app.fetch(request, env)
  // The WebSocket channel (`.../socket`): its operations go through the same checks as the app's
  // requests, the identity's own ones directly, anything else through the app itself.
  const sockets = createSocketServer({
    fetch: nodeFetch,
    run: createSocketRunner(appDependencies),
    hub: events,
    store,
    bodyLimit,
    onError: onError('a WebSocket operation failed'),
  })

  const registry = metrics.registry
  const metricsEndpoint =
    registry === undefined
      ? undefined
      : { registry, fetch: async (request: Request) => metricsResponse(registry, request) }

  const connectionLimits: ConnectionLimits = {
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    // Node refuses a headers timeout longer than the request's.
    headersTimeoutMs: Math.min(
      options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    ),
  }
  let http: HttpServer | undefined
  let metricsHttp: HttpServer | undefined
  return {
    fetch,
    store,
    metrics: metricsEndpoint,
    async listen(port = 0, host = '127.0.0.1') {
      const started = await startHttp(nodeFetch, port, host, connectionLimits, sockets.handleUpgrade)
      http = started.server
      return started.address
    },
    async listenMetrics(port = 0, host = '127.0.0.1') {
      if (metricsEndpoint === undefined) throw new Error('listenMetrics needs the metrics option')
      const started = await startHttp(metricsEndpoint.fetch, port, host)
      metricsHttp = started.server
      return started.address
    },
    async close() {
      bus?.stop()
      // Event streams never end by themselves: without this the close would wait out the grace period.
      events.close()
      // Upgraded sockets are outside the http server's reach: closed here, with 1001.
      await sockets.close()
      const servers = [http, metricsHttp]
      http = undefined
      metricsHttp = undefined
      await Promise.all(servers.map((server) => (server === undefined ? undefined : closeHttp(server))))
      await dispatcher.stop()
      await streams.stop()
      await apns?.close()
      aws?.close()
      await store.close()
    },
  }
}

type HttpServer = ReturnType<typeof serve>

interface ConnectionLimits {
  readonly maxConnections: number
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
}

/**
 * An HTTP server on `port` (0: a free one); rejects with the listen error (EADDRINUSE...). With
 * `limits`, a client gets that long for its headers and its whole request (checked every second,
 * not Node's default 30), and connections beyond the cap are closed as they arrive.
 */
function startHttp(
  fetch: (request: Request, env: unknown) => Promise<Response>,
  port: number,
  host: string,
  limits?: ConnectionLimits,
  upgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void,
): Promise<{ server: HttpServer; address: ListeningAddress }> {
  return new Promise((resolve, reject) => {
    const serverOptions =
      limits === undefined
        ? {}
        : {
            serverOptions: {
              headersTimeout: limits.headersTimeoutMs,
              requestTimeout: limits.requestTimeoutMs,
              connectionsCheckingInterval: 1000,
            },
          }
    const server = serve({ fetch, port, hostname: host, ...serverOptions }, (info: AddressInfo) => {
      server.off('error', reject)
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address
      resolve({
        server,
        address: { host: info.address, port: info.port, url: `http://${shownHost}:${info.port}` },
      })
    })
    if (limits !== undefined) (server as { maxConnections?: number }).maxConnections = limits.maxConnections
    // An upgraded connection stays the server's, so it counts toward maxConnections like any other.
    if (upgrade !== undefined) server.on('upgrade', upgrade)
    server.once('error', reject)
  })
}

/**
 * Stops accepting, lets requests in flight finish, drops idle keep-alive connections; after a grace
 * period, ends whatever is left so a stuck client cannot hold the shutdown.
 */
function closeHttp(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
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

/** `GET /metrics` (and HEAD) in Prometheus's text format; every other request is 404. */
async function metricsResponse(registry: Registry, request: Request): Promise<Response> {
  const { pathname } = new URL(request.url)
  if (pathname !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD'))
    return new Response('Not found: metrics are at GET /metrics\n', { status: 404 })
  const text = await registry.metrics()
  return new Response(request.method === 'HEAD' ? null : text, {
    headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
  })
}

/** A pool's Lambda trigger on a server told not to call AWS: the write fails rather than skip it. */
const lambdaUnavailable: SyncTriggerHook = async () => {
  throw new CognitoError(
    'InvalidLambdaFunctionOutputException',
    'The sync trigger is a Lambda function, and this server does not call AWS',
  )
}

/** The secret is made once per database, so tokens and credentials survive a restart. */
async function storedTokenSecret(store: SyncStore): Promise<string> {
  return store.transaction(async (tx) => {
    // Held until commit: processes starting together on a new database agree on one secret.
    const existing = await tx.getSetting(TOKEN_SECRET_SETTING, { forUpdate: true })
    if (existing !== undefined) return existing
    const secret = randomBytes(32).toString('base64url')
    await tx.putSetting(TOKEN_SECRET_SETTING, secret)
    return secret
  })
}

/**
 * Runs a listener's `afterCommit` once the writer's answer is on its way: handing a change to push
 * providers and streams starts with store reads of its own (synchronous on SQLite), which would
 * otherwise run before the answer is written. Live connections and the bus are told at once.
 */
function afterTheAnswer(listener: ChangeListener, report: (error: unknown) => void): ChangeListener {
  return {
    afterCommit(change) {
      setImmediate(() => {
        try {
          listener.afterCommit?.(change)
        } catch (error) {
          report(error)
        }
      })
    },
  }
}
