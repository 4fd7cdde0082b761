import type { IncomingMessage } from 'node:http'
import { type Context, Hono } from 'hono'
import { cors } from 'hono/cors'
import type { Limits } from 'pushsync/core'
import type { Authenticator } from '../auth/authenticate.js'
import type { Principal } from '../auth/principal.js'
import type { SignedRequestHead } from '../auth/sigv4.js'
import { CognitoError } from '../errors.js'
import { addressKey, clientAddress } from '../ops/client-address.js'
import { createReadinessCheck, type HealthAnswer, liveness } from '../ops/health.js'
import { type ServerLogger, SILENT_LOGGER, serializeError } from '../ops/logger.js'
import type { ServerMetrics } from '../ops/metrics.js'
import type { RequestThrottle } from '../ops/throttle.js'
import type { ChangeListener } from '../push/change.js'
import type { SseHub } from '../push/sse-hub.js'
import type { SyncStore } from '../store/contract.js'
import type { StreamSink } from '../streams/sink.js'
import { authorizeDeveloper, authorizeIdentity } from '../sync/access.js'
import { bulkPublish, getBulkPublishDetails } from '../sync/bulk-publish.js'
import {
  getCognitoEvents,
  getIdentityPoolConfiguration,
  setCognitoEvents,
  setIdentityPoolConfiguration,
} from '../sync/configuration.js'
import type { OperationContext, SessionTokens } from '../sync/context.js'
import { registerDevice } from '../sync/devices.js'
import type { SpentSessions } from '../sync/spent-sessions.js'
import type { SyncTriggerHook } from '../sync/sync-trigger.js'
import { describeIdentityPoolUsage, describeIdentityUsage, listIdentityPoolUsage } from '../sync/usage.js'
import {
  type BodyBudget,
  ClientClosedError,
  parseJsonBody,
  readBody,
  readIncomingBody,
  refuseUnreadBody,
} from './body.js'
import { serveEvents } from './events.js'
import { IDENTITY_ROUTES, type RouteInput } from './identity-routes.js'
import { CLIENT_CLOSED, cognitoErrorOf, operationContext, requestChecks } from './request-checks.js'
import { VAPID_PUBLIC_KEY_PATH, vapidPublicKeyHandler } from './vapid.js'

/** A request as signature verification needs it: the path and query exactly as they arrived. */
export interface RawRequest extends SignedRequestHead {
  readonly headers: Headers
  readonly body: Uint8Array
}

/**
 * Cognito Identity's requests (`POST /`) are unauthenticated by design, and small: a GetId with a
 * login token is a few kilobytes. Their bodies are held to this, whatever `bodyLimit` allows.
 */
export const IDENTITY_BODY_LIMIT = 64 * 1024

export interface AppDependencies {
  readonly store: SyncStore
  readonly sessions: SessionTokens
  readonly limits: Limits
  /**
   * Who the request acts as (SigV4 or bearer), from its headers, before its body is read; throws
   * NotAuthorizedException. The body is checked against the result once read.
   */
  readonly authenticate: Authenticator
  /** Cognito Identity's JSON 1.1 operations on `POST /`, by `x-amz-target`. */
  identity(target: string | undefined, body: unknown, now: number): Promise<object>
  readonly now: () => number
  readonly randomId: () => string
  /** Told of every committed dataset change, for push delivery. */
  readonly changes?: ChangeListener
  /** Told of every spent SyncSessionToken, to drop the expired ones now and then. */
  readonly spentSessions?: SpentSessions
  /** The SSE live channel's connections; without it there is no events route. */
  readonly events?: SseHub
  /** The VAPID public key browsers subscribe with; undefined when Web Push is not configured. */
  readonly vapidPublicKey?: string | undefined
  /** Where Cognito Streams records (bulk publish) go. */
  readonly streamSink: StreamSink
  /** The sync trigger for a pool whose SyncTrigger names `url`; see OperationContext. */
  readonly syncTriggerFor?: (url: string | undefined) => SyncTriggerHook | undefined
  /** Largest accepted request body in bytes. */
  readonly bodyLimit: number
  /** Bytes of request bodies buffered at once across requests; no cap without it. */
  readonly bodyBudget?: BodyBudget
  /** Milliseconds a request body may take to arrive once its headers have; no deadline without it. */
  readonly bodyDeadlineMs?: number
  /**
   * Why a device token cannot be registered for a platform (a malformed Web Push subscription, an
   * endpoint that is not a public push service), or undefined when it can.
   */
  readonly deviceTokenRefusal?: (platform: string, token: string) => string | undefined
  /** Why SetCognitoEvents may not name a sync trigger URL, or undefined when it may. */
  readonly syncTriggerUrlRefusal?: (url: string) => string | undefined
  readonly onError?: (error: unknown) => void
  /** Push delivery counters; without it there is no stats route. */
  readonly pushStats?: () => Promise<object>
  /** Answers GET and HEAD requests no route takes, outside the API's paths; see SyncServerOptions.site. */
  readonly site?: SiteHandler
  /** Origins whose pages may call the API (CORS); see SyncServerOptions.corsOrigins. */
  readonly corsOrigins?: readonly string[]
  /** One line per request, and the unexpected errors; silent without it. */
  readonly logger?: ServerLogger
  /** Request counts and durations; none without it. */
  readonly metrics?: ServerMetrics
  /** Token buckets for guest GetId (per address) and per identity; no throttling without it. */
  readonly throttle?: RequestThrottle
  /** Read the client's address from X-Forwarded-For's last entry (behind one reverse proxy). */
  readonly trustProxy?: boolean
}

interface AppEnv {
  Variables: {
    /** Returned as `x-amzn-RequestId` and written on the request's log line. */
    requestId: string
    /** The Cognito operation (ListRecords, GetId...) or our route's name: a metrics label. */
    operation: string | undefined
    /** The identity an authenticated request acts as, or `developer`. */
    principal: string | undefined
  }
}

/** Node's request, under a server started by `listen` (the web-standard handler has none). */
function nodeIncoming(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
}

/** Serves pages next to the API: a response, or `undefined` to leave the request to the API. */
export type SiteHandler = (request: Request) => Response | undefined | Promise<Response | undefined>

type Handler = (context: OperationContext, c: Context<AppEnv>, body: unknown) => Promise<object>

/**
 * The HTTP face of the server: Cognito Sync's REST routes (spec §2.1) and Cognito Identity's JSON
 * endpoint. Path parameters arrive percent-decoded (`us-east-1%3A...` is `us-east-1:...`), query
 * names are lowerCamel, bodies PascalCase, and every error has Cognito's shape.
 */
export function createApp(deps: AppDependencies): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const logger = deps.logger ?? SILENT_LOGGER
  const checks = requestChecks(deps)
  const reportError = (error: unknown, c: Context<AppEnv>) =>
    checks.reportError(error, c.get('requestId'), c.get('operation'))

  // First, so that every answer (CORS preflights and errors included) has a request id, a log
  // line and its place in the metrics.
  app.use('*', async (c, next) => {
    const started = performance.now()
    const requestId = deps.randomId()
    c.set('requestId', requestId)
    c.header('x-amzn-RequestId', requestId)
    await next()
    // Responses made without the context (a site's page) get the id too.
    if (!c.res.headers.has('x-amzn-RequestId')) c.header('x-amzn-RequestId', requestId)
    checks.logRequest({
      requestId,
      operation: c.get('operation') ?? (c.req.method === 'OPTIONS' ? 'Preflight' : 'Unknown'),
      status: c.res.status,
      started,
      principal: c.get('principal'),
      errorType: c.res.headers.get('x-amzn-ErrorType') ?? undefined,
    })
  })
  // A body of up to this many bytes is read and thrown away after its request was refused, so the
  // client gets to read the refusal (see refuseUnreadBody).
  const drainLimit = Math.max(4 * deps.bodyLimit, IDENTITY_BODY_LIMIT)
  app.onError((error, c) => {
    if (error instanceof ClientClosedError) return c.body(null, CLIENT_CLOSED as 400)
    const incoming = nodeIncoming(c)
    if (incoming !== undefined) refuseUnreadBody(incoming, drainLimit)
    return errorResponse(c, error, reportError)
  })
  if (deps.corsOrigins !== undefined && deps.corsOrigins.length > 0) app.use('*', corsFor(deps.corsOrigins))
  app.notFound(async (c) => {
    // The site only gets what the API leaves: GET and HEAD of paths outside its own. Its failures
    // reach onError like the API's.
    const site = deps.site
    if (site !== undefined && (c.req.method === 'GET' || c.req.method === 'HEAD') && !isApiPath(c.req.path)) {
      const response = await site(c.req.raw)
      if (response !== undefined) {
        c.set('operation', 'Site')
        return response
      }
    }
    return errorResponse(
      c,
      new CognitoError('UnknownOperationException', `No operation at ${c.req.method} ${c.req.path}`),
    )
  })

  /** A request's body, once its headers have authenticated it, within the body rules. */
  const requestBody = (c: Context<AppEnv>, limit: number): Promise<Uint8Array> => {
    const incoming = nodeIncoming(c)
    return incoming === undefined
      ? readBody(c.req.raw, limit)
      : readIncomingBody(incoming, { limit, budget: deps.bodyBudget, deadlineMs: deps.bodyDeadlineMs })
  }

  /**
   * Authentication first, from the headers alone; then what can be refused without the body (an
   * identity's credentials on another identity's path, throttling, a merged identity); only then
   * the body, and the signature's check of it.
   */
  const authenticated = async (c: Context<AppEnv>) => {
    const authentication = await deps.authenticate(requestHead(c))
    const { principal } = authentication
    if (principal.kind === 'identity') {
      c.set('principal', principal.identityId)
      refuseOtherIdentity(c, principal)
      await checks.admitIdentity(principal.identityId)
    } else {
      c.set('principal', 'developer')
    }
    const body = await requestBody(c, deps.bodyLimit)
    await authentication.verifyBody(body)
    return { body, principal }
  }

  const operation =
    (name: string, handler: Handler) =>
    async (c: Context<AppEnv>): Promise<Response> => {
      c.set('operation', name)
      const { body, principal } = await authenticated(c)
      const result = await handler(operationContext(deps, principal), c, parseJsonBody(body))
      return jsonResponse(c, result)
    }

  const pool = (c: Context) => c.req.param('pool') ?? ''
  const identity = (c: Context) => ({ identityPoolId: pool(c), identityId: c.req.param('identity') ?? '' })
  const query = (c: Context, name: string) => c.req.query(name)

  // Health probes: unauthenticated, cheap, outside the API's paths; routes, so a site never shadows them.
  const readiness = createReadinessCheck(() => deps.store.readiness())
  const health = (c: Context<AppEnv>, answer: HealthAnswer) =>
    c.json(answer.body, answer.status, { 'cache-control': 'no-store' })
  app.get('/healthz', (c) => {
    c.set('operation', 'Healthz')
    return health(c, liveness())
  })
  app.get('/readyz', async (c) => {
    c.set('operation', 'Readyz')
    return health(c, await readiness())
  })

  app.get(VAPID_PUBLIC_KEY_PATH, (c) => {
    c.set('operation', 'VapidPublicKey')
    return vapidPublicKeyHandler(deps.vapidPublicKey)(c)
  })

  app.post('/', async (c) => {
    const target = c.req.header('x-amz-target')
    c.set('operation', identityOperation(target))
    const body = parseJsonBody(await requestBody(c, Math.min(deps.bodyLimit, IDENTITY_BODY_LIMIT)))
    // A guest identity is a row written for anyone who asks: the one thing an address is limited in.
    if (isGuestGetId(target, body)) {
      const incoming = nodeIncoming(c)
      checks.throttle(
        'guestGetId',
        addressKey(
          clientAddress(c.req.raw.headers, incoming?.socket.remoteAddress, deps.trustProxy ?? false),
        ),
      )
    }
    const result = await deps.identity(target, body, deps.now())
    return c.json(result, 200, { 'content-type': 'application/x-amz-json-1.1' })
  })

  app.get(
    '/identitypools',
    operation('ListIdentityPoolUsage', (ctx, c) =>
      listIdentityPoolUsage(ctx, { maxResults: query(c, 'maxResults'), nextToken: query(c, 'nextToken') }),
    ),
  )
  app.get(
    '/identitypools/:pool',
    operation('DescribeIdentityPoolUsage', (ctx, c) =>
      describeIdentityPoolUsage(ctx, { identityPoolId: pool(c) }),
    ),
  )
  app.get(
    '/identitypools/:pool/identities/:identity',
    operation('DescribeIdentityUsage', (ctx, c) => describeIdentityUsage(ctx, identity(c))),
  )
  // The identity's own operations, also run for its socket's messages (see runMessage).
  for (const route of IDENTITY_ROUTES) {
    app.on(
      route.method,
      `/identitypools/:pool/identities/:identity/${route.path}`,
      operation(route.operation, (ctx, c, body) => route.run(ctx, routeInput(c), body)),
    )
  }
  app.post(
    '/identitypools/:pool/identity/:identity/device',
    operation('RegisterDevice', (ctx, c, body) => registerDevice(ctx, { ...identity(c), body })),
  )
  app.get(
    '/identitypools/:pool/events',
    operation('GetCognitoEvents', (ctx, c) => getCognitoEvents(ctx, { identityPoolId: pool(c) })),
  )
  app.post(
    '/identitypools/:pool/events',
    operation('SetCognitoEvents', (ctx, c, body) => setCognitoEvents(ctx, { identityPoolId: pool(c), body })),
  )
  app.get(
    '/identitypools/:pool/configuration',
    operation('GetIdentityPoolConfiguration', (ctx, c) =>
      getIdentityPoolConfiguration(ctx, { identityPoolId: pool(c) }),
    ),
  )
  app.post(
    '/identitypools/:pool/configuration',
    operation('SetIdentityPoolConfiguration', (ctx, c, body) =>
      setIdentityPoolConfiguration(ctx, { identityPoolId: pool(c), body }),
    ),
  )

  // Our extension: the SSE live channel (see events.ts).
  const hub = deps.events
  if (hub !== undefined) {
    app.get('/identitypools/:pool/identities/:identity/events', async (c) => {
      c.set('operation', 'Events')
      // A socket's message waits for a whole answer, and a stream has none: the socket carries
      // the events itself.
      if ((c.env as { [SOCKET_MESSAGE]?: boolean } | undefined)?.[SOCKET_MESSAGE] === true) {
        throw new CognitoError(
          'InvalidParameterException',
          'The event stream is not served to a socket message',
        )
      }
      return serveEvents(c, {
        hub,
        store: deps.store,
        principal: (await authenticated(c)).principal,
        ...identity(c),
        deviceId: query(c, 'deviceId'),
      })
    })
    // Our extension: the WebSocket's upgrade (see socket.ts) is authorized here, with the checks
    // and the answers of any request, before anything is upgraded. A plain GET is refused.
    app.get('/identitypools/:pool/identities/:identity/socket', async (c) => {
      c.set('operation', 'Socket')
      const { principal } = await authenticated(c)
      authorizeIdentity(principal, pool(c), c.req.param('identity') ?? '')
      if ((c.env as { [SOCKET_UPGRADE]?: boolean } | undefined)?.[SOCKET_UPGRADE] !== true) {
        throw new CognitoError('InvalidParameterException', 'This path only takes a WebSocket upgrade')
      }
      return c.body(null, 204)
    })
  }
  app.post(
    '/identitypools/:pool/bulkpublish',
    operation('BulkPublish', (ctx, c) =>
      bulkPublish(ctx, { identityPoolId: pool(c) }, deps.streamSink, deps.now, (error) => {
        logger.error({ error: serializeError(error) }, 'bulk publish failed')
        deps.onError?.(error)
      }),
    ),
  )
  app.post(
    '/identitypools/:pool/getBulkPublishDetails',
    operation('GetBulkPublishDetails', (ctx, c) => getBulkPublishDetails(ctx, { identityPoolId: pool(c) })),
  )
  // Our extension, for admins: push delivery counters.
  const pushStats = deps.pushStats
  if (pushStats !== undefined) {
    app.get(
      '/pushsync/stats',
      operation('PushStats', async (ctx) => {
        authorizeDeveloper(ctx.principal)
        return pushStats()
      }),
    )
  }

  return app
}

/** An identity route's input from Hono's request: its params come decoded. */
function routeInput(c: Context): RouteInput {
  return {
    identityPoolId: c.req.param('pool') ?? '',
    identityId: c.req.param('identity') ?? '',
    params: c.req.param() as Record<string, string>,
    query: (name) => c.req.query(name),
  }
}

/**
 * The environment key by which the WebSocket's upgrade handler asks the socket route to authorize an
 * upgrade: only code in this process can pass it, so no HTTP request reaches that answer.
 */
export const SOCKET_UPGRADE = 'pushsyncSocketUpgrade'

/** The environment key that marks a request as a socket's message run through the app (socket.ts). */
export const SOCKET_MESSAGE = 'pushsyncSocketMessage'

/** Paths that belong to the API whether or not a route answers them: Cognito's and pushsync's own. */
function isApiPath(path: string): boolean {
  return path === '/identitypools' || path.startsWith('/identitypools/') || path.startsWith('/pushsync/')
}

/** The request as its signature covers it, without the body: the path and query exactly as sent. */
function requestHead(c: Context<AppEnv>): SignedRequestHead & { readonly headers: Headers } {
  // SigV4 signs the encoded form; route params are decoded.
  const url = c.req.url
  const pathStart = url.indexOf('/', url.indexOf('//') + 2)
  const queryStart = url.indexOf('?', pathStart)
  return {
    method: c.req.method,
    rawPath: queryStart < 0 ? url.slice(pathStart) : url.slice(pathStart, queryStart),
    rawQuery: queryStart < 0 ? '' : url.slice(queryStart + 1),
    headers: c.req.raw.headers,
    host: c.req.header('host') ?? '',
  }
}

/**
 * An identity's credentials on a path of another identity (or pool) are refused before the body
 * is read; the operation itself checks again, with the same rules, so a malformed id stays a 400.
 */
function refuseOtherIdentity(c: Context<AppEnv>, principal: Extract<Principal, { kind: 'identity' }>) {
  const pool = c.req.param('pool')
  const identity = c.req.param('identity')
  if (pool === undefined || identity === undefined) return
  authorizeIdentity(principal, pool, identity)
}

/** Cognito Identity's operations by `x-amz-target`; anything else under one name, so labels stay few. */
function identityOperation(target: string | undefined): string {
  switch (target) {
    case 'AWSCognitoIdentityService.GetId':
      return 'GetId'
    case 'AWSCognitoIdentityService.GetCredentialsForIdentity':
      return 'GetCredentialsForIdentity'
    default:
      return 'UnknownIdentityOperation'
  }
}

/** GetId that would create a guest identity: without `Logins`, or with an empty map. */
function isGuestGetId(target: string | undefined, body: unknown): boolean {
  if (target !== 'AWSCognitoIdentityService.GetId') return false
  const logins = typeof body === 'object' && body !== null ? (body as { Logins?: unknown }).Logins : undefined
  return (
    logins === undefined ||
    logins === null ||
    (typeof logins === 'object' && Object.keys(logins).length === 0)
  )
}

function jsonResponse(c: Context, result: object): Response {
  return c.json(result, 200)
}

/**
 * Cognito's error shape: the type in `x-amzn-ErrorType` (what iOS reads) and in the body's `__type`
 * (what Android falls back to), with `message`. Anything that is not a CognitoError is a bug or an
 * outage: a 500 InternalErrorException that reveals nothing of it.
 */
function errorResponse(
  c: Context<AppEnv>,
  error: unknown,
  onError?: (error: unknown, c: Context<AppEnv>) => void,
): Response {
  const cognito = cognitoErrorOf(error, (unexpected) => onError?.(unexpected, c))
  return c.json({ __type: cognito.type, message: cognito.message }, cognito.status as 400, {
    'x-amzn-ErrorType': cognito.type,
    ...(cognito.retryAfterSeconds === undefined ? {} : { 'retry-after': String(cognito.retryAfterSeconds) }),
  })
}

/**
 * CORS for pages on other origins. The request headers a preflight names are allowed as asked:
 * SDKs send different sets (SigV4's `x-amz-*`, `amz-sdk-*`, `authorization`, `last-event-id` on
 * an SSE reconnect), and the origin check is what protects. Error types are exposed because the
 * SDKs read them from `x-amzn-errortype`. No credentials mode: requests carry their own
 * `Authorization`, never cookies.
 */
function corsFor(origins: readonly string[]) {
  const anyOrigin = origins.includes('*')
  return cors({
    origin: anyOrigin ? '*' : [...origins],
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    exposeHeaders: ['x-amzn-errortype', 'x-amzn-requestid', 'x-amzn-errormessage'],
    maxAge: 600,
  })
}
