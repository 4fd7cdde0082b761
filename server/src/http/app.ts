import type { IncomingMessage } from 'node:http'
import { type Context, Hono } from 'hono'
import { cors } from 'hono/cors'
import type { Limits } from 'pushsync/core'
import type { Principal } from '../auth/principal.js'
import { CognitoError } from '../errors.js'
import type { ChangeListener } from '../push/change.js'
import type { SseHub } from '../push/sse-hub.js'
import type { SyncStore } from '../store/contract.js'
import type { StreamSink } from '../streams/sink.js'
import { authorizeDeveloper } from '../sync/access.js'
import { bulkPublish, getBulkPublishDetails } from '../sync/bulk-publish.js'
import {
  getCognitoEvents,
  getIdentityPoolConfiguration,
  setCognitoEvents,
  setIdentityPoolConfiguration,
} from '../sync/configuration.js'
import type { OperationContext, SessionTokens } from '../sync/context.js'
import { deleteDataset, describeDataset, listDatasets } from '../sync/datasets.js'
import { registerDevice, setSubscription } from '../sync/devices.js'
import { listRecords } from '../sync/list-records.js'
import { mergeIdentities } from '../sync/merge-identities.js'
import type { SyncTriggerHook } from '../sync/sync-trigger.js'
import { updateRecords } from '../sync/update-records.js'
import { describeIdentityPoolUsage, describeIdentityUsage, listIdentityPoolUsage } from '../sync/usage.js'
import { parseJsonBody, readBody, readIncomingBody } from './body.js'
import { serveEvents } from './events.js'
import { VAPID_PUBLIC_KEY_PATH, vapidPublicKeyHandler } from './vapid.js'

/** A request as signature verification needs it: the path and query exactly as they arrived. */
export interface RawRequest {
  readonly method: string
  readonly rawPath: string
  readonly rawQuery: string
  readonly headers: Headers
  readonly body: Uint8Array
  readonly host: string
}

export interface AppDependencies {
  readonly store: SyncStore
  readonly sessions: SessionTokens
  readonly limits: Limits
  /** Who the request acts as (SigV4 or bearer); throws NotAuthorizedException. */
  authenticate(request: RawRequest): Promise<Principal>
  /** Cognito Identity's JSON 1.1 operations on `POST /`, by `x-amz-target`. */
  identity(target: string | undefined, body: unknown, now: number): Promise<object>
  readonly now: () => number
  readonly randomId: () => string
  /** Told of every committed dataset change, for push delivery. */
  readonly changes?: ChangeListener
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
  readonly onError?: (error: unknown) => void
  /** Push delivery counters; without it there is no stats route. */
  readonly pushStats?: () => Promise<object>
  /** Answers GET and HEAD requests no route takes, outside the API's paths; see SyncServerOptions.site. */
  readonly site?: SiteHandler
  /** Origins whose pages may call the API (CORS); see SyncServerOptions.corsOrigins. */
  readonly corsOrigins?: readonly string[]
}

/** Serves pages next to the API: a response, or `undefined` to leave the request to the API. */
export type SiteHandler = (request: Request) => Response | undefined | Promise<Response | undefined>

type Handler = (context: OperationContext, c: Context, body: unknown) => Promise<object>

/**
 * The HTTP face of the server: Cognito Sync's REST routes (spec §2.1) and Cognito Identity's JSON
 * endpoint. Path parameters arrive percent-decoded (`us-east-1%3A...` is `us-east-1:...`), query
 * names are lowerCamel, bodies PascalCase, and every error has Cognito's shape.
 */
export function createApp(deps: AppDependencies): Hono {
  const app = new Hono()

  app.onError((error, c) => errorResponse(c, error, deps.onError))
  if (deps.corsOrigins !== undefined && deps.corsOrigins.length > 0) app.use('*', corsFor(deps.corsOrigins))
  app.notFound(async (c) => {
    // The site only gets what the API leaves: GET and HEAD of paths outside its own. Its failures
    // reach onError like the API's.
    const site = deps.site
    if (site !== undefined && (c.req.method === 'GET' || c.req.method === 'HEAD') && !isApiPath(c.req.path)) {
      const response = await site(c.req.raw)
      if (response !== undefined) return response
    }
    return errorResponse(
      c,
      new CognitoError('UnknownOperationException', `No operation at ${c.req.method} ${c.req.path}`),
    )
  })

  const authenticated = async (c: Context) => {
    const request = await rawRequest(c, deps.bodyLimit)
    const principal = await deps.authenticate(request)
    if (principal.kind === 'identity') await refuseMergedIdentity(deps.store, principal.identityId)
    return { request, principal }
  }

  const operation =
    (handler: Handler) =>
    async (c: Context): Promise<Response> => {
      const { request, principal } = await authenticated(c)
      const context: OperationContext = {
        store: deps.store,
        principal,
        now: deps.now(),
        limits: deps.limits,
        sessions: deps.sessions,
        randomId: deps.randomId,
        ...(deps.syncTriggerFor === undefined ? {} : { syncTriggerFor: deps.syncTriggerFor }),
        ...(deps.changes === undefined ? {} : { changes: deps.changes }),
      }
      const result = await handler(context, c, parseJsonBody(request.body))
      return jsonResponse(c, result)
    }

  const pool = (c: Context) => c.req.param('pool') ?? ''
  const identity = (c: Context) => ({ identityPoolId: pool(c), identityId: c.req.param('identity') ?? '' })
  const dataset = (c: Context) => ({ ...identity(c), datasetName: c.req.param('dataset') ?? '' })
  const query = (c: Context, name: string) => c.req.query(name)

  app.get(VAPID_PUBLIC_KEY_PATH, vapidPublicKeyHandler(deps.vapidPublicKey))

  app.post('/', async (c) => {
    const request = await rawRequest(c, deps.bodyLimit)
    const result = await deps.identity(c.req.header('x-amz-target'), parseJsonBody(request.body), deps.now())
    return c.json(result, 200, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-RequestId': requestId(),
    })
  })

  app.get(
    '/identitypools',
    operation((ctx, c) =>
      listIdentityPoolUsage(ctx, { maxResults: query(c, 'maxResults'), nextToken: query(c, 'nextToken') }),
    ),
  )
  app.get(
    '/identitypools/:pool',
    operation((ctx, c) => describeIdentityPoolUsage(ctx, { identityPoolId: pool(c) })),
  )
  app.get(
    '/identitypools/:pool/identities/:identity',
    operation((ctx, c) => describeIdentityUsage(ctx, identity(c))),
  )
  app.get(
    '/identitypools/:pool/identities/:identity/datasets',
    operation((ctx, c) =>
      listDatasets(ctx, {
        ...identity(c),
        maxResults: query(c, 'maxResults'),
        nextToken: query(c, 'nextToken'),
      }),
    ),
  )
  app.get(
    '/identitypools/:pool/identities/:identity/datasets/:dataset',
    operation((ctx, c) => describeDataset(ctx, dataset(c))),
  )
  app.delete(
    '/identitypools/:pool/identities/:identity/datasets/:dataset',
    operation((ctx, c) => deleteDataset(ctx, dataset(c))),
  )
  app.post(
    '/identitypools/:pool/identities/:identity/datasets/:dataset',
    operation((ctx, c, body) => updateRecords(ctx, { ...dataset(c), body })),
  )
  app.get(
    '/identitypools/:pool/identities/:identity/datasets/:dataset/records',
    operation((ctx, c) =>
      listRecords(ctx, {
        ...dataset(c),
        lastSyncCount: query(c, 'lastSyncCount'),
        maxResults: query(c, 'maxResults'),
        nextToken: query(c, 'nextToken'),
        syncSessionToken: query(c, 'syncSessionToken'),
      }),
    ),
  )
  app.post(
    '/identitypools/:pool/identities/:identity/datasets/:dataset/subscriptions/:device',
    operation((ctx, c) =>
      setSubscription(ctx, { ...dataset(c), deviceId: c.req.param('device') ?? '' }, true),
    ),
  )
  app.delete(
    '/identitypools/:pool/identities/:identity/datasets/:dataset/subscriptions/:device',
    operation((ctx, c) =>
      setSubscription(ctx, { ...dataset(c), deviceId: c.req.param('device') ?? '' }, false),
    ),
  )
  app.post(
    '/identitypools/:pool/identity/:identity/device',
    operation((ctx, c, body) => registerDevice(ctx, { ...identity(c), body })),
  )
  app.get(
    '/identitypools/:pool/events',
    operation((ctx, c) => getCognitoEvents(ctx, { identityPoolId: pool(c) })),
  )
  app.post(
    '/identitypools/:pool/events',
    operation((ctx, c, body) => setCognitoEvents(ctx, { identityPoolId: pool(c), body })),
  )
  app.get(
    '/identitypools/:pool/configuration',
    operation((ctx, c) => getIdentityPoolConfiguration(ctx, { identityPoolId: pool(c) })),
  )
  app.post(
    '/identitypools/:pool/configuration',
    operation((ctx, c, body) => setIdentityPoolConfiguration(ctx, { identityPoolId: pool(c), body })),
  )

  // Our extension, for admins: fold another identity into this one (Cognito merged on linked logins).
  app.post(
    '/identitypools/:pool/identities/:identity/merge',
    operation((ctx, c, body) => mergeIdentities(ctx, { ...identity(c), body })),
  )
  // Our extension: the SSE live channel (see events.ts).
  const hub = deps.events
  if (hub !== undefined) {
    app.get('/identitypools/:pool/identities/:identity/events', async (c) =>
      serveEvents(c, {
        hub,
        store: deps.store,
        principal: (await authenticated(c)).principal,
        ...identity(c),
        deviceId: query(c, 'deviceId'),
      }),
    )
  }
  app.post(
    '/identitypools/:pool/bulkpublish',
    operation((ctx, c) =>
      bulkPublish(ctx, { identityPoolId: pool(c) }, deps.streamSink, deps.now, deps.onError ?? (() => {})),
    ),
  )
  app.post(
    '/identitypools/:pool/getBulkPublishDetails',
    operation((ctx, c) => getBulkPublishDetails(ctx, { identityPoolId: pool(c) })),
  )
  // Our extension, for admins: push delivery counters.
  const pushStats = deps.pushStats
  if (pushStats !== undefined) {
    app.get(
      '/pushsync/stats',
      operation(async (ctx) => {
        authorizeDeveloper(ctx.principal)
        return pushStats()
      }),
    )
  }

  return app
}

/** Paths that belong to the API whether or not a route answers them: Cognito's and pushsync's own. */
function isApiPath(path: string): boolean {
  return path === '/identitypools' || path.startsWith('/identitypools/') || path.startsWith('/pushsync/')
}

/**
 * Credentials are stateless, so ones issued before an identity was merged away would still verify;
 * the identity's row says it no longer owns anything.
 */
async function refuseMergedIdentity(store: SyncStore, identityId: string): Promise<void> {
  const row = await store.transaction((tx) => tx.getIdentity(identityId))
  if (row?.mergedInto != null) {
    throw new CognitoError(
      'NotAuthorizedException',
      `Identity ${identityId} was merged into another identity`,
    )
  }
}

async function rawRequest(c: Context, bodyLimit: number): Promise<RawRequest> {
  // The path and query exactly as sent: SigV4 signs the encoded form, route params are decoded.
  const url = c.req.url
  const pathStart = url.indexOf('/', url.indexOf('//') + 2)
  const queryStart = url.indexOf('?', pathStart)
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  return {
    method: c.req.method,
    rawPath: queryStart < 0 ? url.slice(pathStart) : url.slice(pathStart, queryStart),
    rawQuery: queryStart < 0 ? '' : url.slice(queryStart + 1),
    headers: c.req.raw.headers,
    body:
      incoming === undefined
        ? await readBody(c.req.raw, bodyLimit)
        : await readIncomingBody(incoming, bodyLimit),
    host: c.req.header('host') ?? '',
  }
}

function requestId(): string {
  return crypto.randomUUID()
}

function jsonResponse(c: Context, result: object): Response {
  return c.json(result, 200, { 'x-amzn-RequestId': requestId() })
}

/**
 * Cognito's error shape: the type in `x-amzn-ErrorType` (what iOS reads) and in the body's `__type`
 * (what Android falls back to), with `message`. Anything that is not a CognitoError is a bug or an
 * outage: a 500 InternalErrorException that reveals nothing of it.
 */
function errorResponse(c: Context, error: unknown, onError?: (error: unknown) => void): Response {
  let cognito: CognitoError
  if (error instanceof CognitoError) cognito = error
  else if (error instanceof URIError)
    cognito = new CognitoError('InvalidParameterException', 'Malformed URL encoding')
  else {
    onError?.(error)
    cognito = new CognitoError('InternalErrorException', 'Internal error')
  }
  return c.json({ __type: cognito.type, message: cognito.message }, cognito.status as 400, {
    'x-amzn-ErrorType': cognito.type,
    'x-amzn-RequestId': requestId(),
    // The rest of an oversized body was never read: end the connection rather than parse it as a request.
    ...(cognito.type === 'RequestEntityTooLargeException' ? { connection: 'close' } : {}),
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
