import { createECDH, randomBytes } from 'node:crypto'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Sha256 } from '../../src/auth/sigv4.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import type { StoreTx, SyncStore, TransactionOptions } from '../../src/store/contract.js'
import { openStore } from '../../src/store/index.js'

/**
 * Hostile input against every route of the HTTP app, in process. Every refusal must be a 4xx in
 * Cognito's error shape that changed nothing in the store; only requests that are in fact valid may
 * succeed. The store is the in-memory SQLite store `db: ':memory:'` opens, wrapped so that every
 * committed write is seen: a refused request that wrote anything fails at once, naming the write.
 */

const ADMIN = { accessKeyId: 'AKIDFUZZADMIN0000001', secretAccessKey: 'fuzz-admin-secret' }
const POOL = 'us-east-1:0c0ffee0-0000-4000-8000-000000000001'
const OTHER_POOL = 'eu-west-1:0c0ffee0-0000-4000-8000-000000000002'
/** Whole seconds: `x-amz-date` has no milliseconds, and the skew cases count seconds from here. */
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0)
const HOST = '127.0.0.1'
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const PLATFORMS = ['APNS', 'APNS_SANDBOX', 'GCM', 'ADM', 'WEBPUSH']

/** The server's clock; the expiry cases move it and put it back. */
let clock = T0

// ---------------------------------------------------------------------------------------------
// The store, counting committed writes

/** StoreTx methods that change data; the rest only read. */
const WRITE_METHOD = /^(put|delete|move|spend)/

interface WriteLog {
  readonly store: SyncStore
  /** Every write of every committed transaction, oldest first. */
  readonly committed: string[]
}

function loggingWrites(inner: SyncStore): WriteLog {
  const committed: string[] = []
  const store: SyncStore = {
    kind: inner.kind,
    close: () => inner.close(),
    readiness: () => inner.readiness(),
    async transaction<T>(fn: (tx: StoreTx) => Promise<T>, options?: TransactionOptions): Promise<T> {
      const writes: string[] = []
      const result = await inner.transaction((tx) => fn(recordingWrites(tx, writes)), options)
      // Only reached once the transaction committed: a rolled-back one changed nothing.
      committed.push(...writes)
      return result
    },
  }
  return { store, committed }
}

function recordingWrites(tx: StoreTx, writes: string[]): StoreTx {
  return new Proxy(tx, {
    get(target, name) {
      const member: unknown = Reflect.get(target, name)
      if (typeof member !== 'function') return member
      return (...args: unknown[]) => {
        if (typeof name === 'string' && WRITE_METHOD.test(name)) {
          writes.push(`${name}(${JSON.stringify(args).slice(0, 160)})`)
        }
        // The SQLite transaction keeps its state in private fields: call it on itself, not the proxy.
        return member.apply(target, args)
      }
    },
  })
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

type Auth =
  | { readonly kind: 'none' }
  /** Headers sent as they are (a garbage Authorization, a lone security token, …). */
  | { readonly kind: 'raw'; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'bearer'; readonly token: string }
  | {
      readonly kind: 'sigv4'
      readonly credentials: Credentials
      readonly service?: string
      readonly region?: string
      /** Signing time; the server's clock when absent. */
      readonly at?: number
    }

interface Call {
  readonly method: string
  /** The path as sent, percent-encoded. */
  readonly path: string
  /** The query as sent, percent-encoded, without `?`. */
  readonly query?: string
  readonly body?: string | Uint8Array<ArrayBuffer>
  readonly headers?: Readonly<Record<string, string>>
  readonly auth: Auth
}

/** A request ready to go, which the tampering cases change after signing. */
interface Wire {
  readonly url: string
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | Uint8Array<ArrayBuffer> | undefined
}

const enc = encodeURIComponent

/** RFC 3986 escaping, as AWS SDKs put query values on the wire. */
const escapeRfc3986 = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** The query map the server's verifier canonicalises, or undefined when it cannot be decoded. */
function decodedQuery(search: string): Record<string, string | string[]> | undefined {
  const query: Record<string, string | string[]> = Object.create(null)
  for (const pair of search.replace(/^\?/, '').split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    try {
      const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq))
      const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1))
      const existing = query[key]
      query[key] =
        existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value]
    } catch {
      return undefined
    }
  }
  return query
}

let server: SyncServer
let writeLog: WriteLog
/** Errors the server reported as unexpected (each one also became a 500). */
const unexpected: unknown[] = []

async function prepare(call: Call): Promise<Wire> {
  const url = new URL(`http://${HOST}${call.path}${call.query === undefined ? '' : `?${call.query}`}`)
  const headers: Record<string, string> = { host: HOST, ...call.headers }
  if (call.body !== undefined) headers['content-type'] ??= 'application/json'
  const auth = call.auth
  if (auth.kind === 'raw') Object.assign(headers, auth.headers)
  else if (auth.kind === 'bearer') headers.authorization = `Bearer ${auth.token}`
  else if (auth.kind === 'sigv4') {
    const signer = new SignatureV4({
      service: auth.service ?? 'cognito-sync',
      region: auth.region ?? 'us-east-1',
      credentials: auth.credentials,
      sha256: Sha256,
      uriEscapePath: true,
    })
    const signed = await signer.sign(
      new HttpRequest({
        method: call.method,
        protocol: 'http:',
        hostname: HOST,
        // What the server sees: the URL parser's normalisation of the path and query.
        path: url.pathname,
        query: decodedQuery(url.search) ?? {},
        headers: { ...headers },
        ...(call.body === undefined ? {} : { body: call.body }),
      }),
      { signingDate: new Date(auth.at ?? clock) },
    )
    Object.assign(headers, signed.headers)
  }
  return { url: url.href, method: call.method, headers, body: call.body }
}

const dispatch = (wire: Wire): Promise<Response> =>
  server.fetch(
    new Request(wire.url, {
      method: wire.method,
      headers: wire.headers,
      ...(wire.body === undefined ? {} : { body: wire.body }),
    }),
  )

const send = async (call: Call): Promise<Response> => dispatch(await prepare(call))

/** The status each Cognito error type must come with. */
const ERROR_STATUS: Readonly<Record<string, number>> = {
  InvalidParameterException: 400,
  LimitExceededException: 400,
  UnknownOperationException: 400,
  NotAuthorizedException: 403,
  ResourceNotFoundException: 404,
  ResourceConflictException: 409,
  RequestEntityTooLargeException: 413,
}

/**
 * A refusal: a 4xx whose `x-amzn-ErrorType` is the body's `__type`, with a string `message`, that
 * committed no write and left the seeded data as it was. `types`, when given, are the only
 * acceptable error types.
 */
async function expectRefused(response: Response, types: readonly string[] = []): Promise<string> {
  const text = await response.text()
  expect(response.status, text.slice(0, 300)).toBeGreaterThanOrEqual(400)
  expect(response.status, text.slice(0, 300)).toBeLessThan(500)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  const body = JSON.parse(text) as { __type?: unknown; message?: unknown }
  expect(typeof body.__type, text.slice(0, 300)).toBe('string')
  const type = String(body.__type)
  expect(response.headers.get('x-amzn-ErrorType')).toBe(type)
  expect(ERROR_STATUS[type], `${type} with status ${response.status}`).toBe(response.status)
  expect(typeof body.message).toBe('string')
  if (types.length > 0) expect(types, text.slice(0, 300)).toContain(type)
  return type
}

/** Runs one request and checks it was refused without a trace in the store. */
async function refused(call: Call, types: readonly string[] = []): Promise<string> {
  const writesBefore = writeLog.committed.length
  const type = await expectRefused(await send(call), types)
  expect(writeLog.committed.slice(writesBefore)).toEqual([])
  expect(await snapshot()).toEqual(seeded)
  return type
}

async function okJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text()
  expect(response.status, text.slice(0, 300)).toBe(200)
  expect(response.headers.get('x-amzn-ErrorType')).toBeNull()
  return JSON.parse(text) as Record<string, unknown>
}

// ---------------------------------------------------------------------------------------------
// Identities and seeded data

interface Who {
  readonly identityPoolId: string
  readonly identityId: string
  readonly credentials: Required<Credentials>
}

let alice: Who
let bob: Who
let carol: Who
let aliceDevice: string
/** Unspent SyncSessionTokens: alice's and bob's and carol's for their datasets, alice's for another. */
let tokens: { alice: string; bob: string; carol: string; aliceElsewhere: string }
/** Alice's seeded records as ListRecords returns them. */
let aliceRecords: unknown
let seeded: unknown

const identityCall = (target: string, body: unknown): Call => ({
  method: 'POST',
  path: '/',
  headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' },
  body: JSON.stringify(body),
  auth: { kind: 'none' },
})

async function newIdentity(identityPoolId: string): Promise<Who> {
  const { IdentityId } = await okJson(
    await send(identityCall('AWSCognitoIdentityService.GetId', { IdentityPoolId: identityPoolId })),
  )
  const { Credentials } = (await okJson(
    await send(identityCall('AWSCognitoIdentityService.GetCredentialsForIdentity', { IdentityId })),
  )) as { Credentials: { AccessKeyId: string; SecretKey: string; SessionToken: string } }
  return {
    identityPoolId,
    identityId: String(IdentityId),
    credentials: {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretKey,
      sessionToken: Credentials.SessionToken,
    },
  }
}

const identityPath = (who: Who) =>
  `/identitypools/${enc(who.identityPoolId)}/identities/${enc(who.identityId)}`
const datasetPath = (who: Who, dataset: string) => `${identityPath(who)}/datasets/${enc(dataset)}`
const signedAs = (who: Who): Auth => ({ kind: 'sigv4', credentials: who.credentials })
const bearerOf = (who: Who): Auth => ({ kind: 'bearer', token: who.credentials.sessionToken })
const asAdmin: Auth = { kind: 'sigv4', credentials: ADMIN }

async function sessionToken(who: Who, dataset: string, auth: Auth = signedAs(who)): Promise<string> {
  const listing = await okJson(
    await send({ method: 'GET', path: `${datasetPath(who, dataset)}/records`, auth }),
  )
  return String(listing.SyncSessionToken)
}

async function write(who: Who, dataset: string, patches: readonly object[], auth: Auth = signedAs(who)) {
  const token = await sessionToken(who, dataset, auth)
  await okJson(
    await send({
      method: 'POST',
      path: datasetPath(who, dataset),
      body: JSON.stringify({ SyncSessionToken: token, RecordPatches: patches }),
      auth,
    }),
  )
}

/** What the fuzzing must never change, read from the store itself. */
function snapshot(): Promise<unknown> {
  return server.store.transaction(async (tx) => {
    const identities = []
    for (const who of [alice, bob, carol]) {
      const datasets = []
      for (const name of ['settings', 'secrets', 'elsewhere']) {
        datasets.push({
          name,
          row: await tx.getDataset(who.identityId, name),
          records: await tx.listRecords(who.identityId, name, { afterSyncCount: 0 }),
        })
      }
      identities.push({
        identity: await tx.getIdentity(who.identityId),
        live: await tx.listDatasets(who.identityId),
        usage: await tx.identityUsage(who.identityId),
        datasets,
      })
    }
    return {
      identities,
      pools: await tx.listPoolIds({}),
      poolRows: [await tx.getPool(POOL), await tx.getPool(OTHER_POOL)],
      poolUsage: [await tx.poolUsage(POOL), await tx.poolUsage(OTHER_POOL)],
      device: await tx.getDevice(aliceDevice),
      subscribed: await tx.listSubscribedDevices(alice.identityId, 'settings'),
    }
  })
}

beforeAll(async () => {
  writeLog = loggingWrites(await openStore(':memory:'))
  server = await createSyncServer({
    db: writeLog.store,
    allowUnauthenticated: true,
    adminKeys: [ADMIN],
    tokenSecret: 'fuzz',
    now: () => clock,
    onError: (error) => unexpected.push(error),
    streamSink: { put: async () => {} },
  })
  alice = await newIdentity(POOL)
  bob = await newIdentity(POOL)
  carol = await newIdentity(OTHER_POOL)

  // Signed and bearer requests both seed, so both are known to work before the fuzzing relies on them.
  await write(alice, 'settings', [
    { Op: 'replace', Key: 'color', Value: 'teal', SyncCount: 0 },
    { Op: 'replace', Key: 'size', Value: 'L', SyncCount: 0 },
    { Op: 'replace', Key: 'shape', Value: 'circle', SyncCount: 0 },
    { Op: 'replace', Key: 'greeting', Value: 'héllo wörld 👋', SyncCount: 0, DeviceLastModifiedDate: 1.5e9 },
  ])
  await write(alice, 'settings', [{ Op: 'remove', Key: 'shape', SyncCount: 1 }], bearerOf(alice))
  await write(bob, 'secrets', [{ Op: 'replace', Key: 'pin', Value: '0000', SyncCount: 0 }])
  await write(
    carol,
    'settings',
    [{ Op: 'replace', Key: 'color', Value: 'red', SyncCount: 0 }],
    bearerOf(carol),
  )
  const device = await okJson(
    await send({
      method: 'POST',
      path: `/identitypools/${enc(POOL)}/identity/${enc(alice.identityId)}/device`,
      body: JSON.stringify({ Platform: 'GCM', Token: 'fuzz-device-token' }),
      auth: signedAs(alice),
    }),
  )
  aliceDevice = String(device.DeviceId)
  await okJson(
    await send({
      method: 'POST',
      path: `${datasetPath(alice, 'settings')}/subscriptions/${enc(aliceDevice)}`,
      auth: signedAs(alice),
    }),
  )

  tokens = {
    alice: await sessionToken(alice, 'settings'),
    bob: await sessionToken(bob, 'secrets'),
    carol: await sessionToken(carol, 'settings'),
    aliceElsewhere: await sessionToken(alice, 'elsewhere'),
  }
  const listing = await okJson(
    await send({ method: 'GET', path: `${datasetPath(alice, 'settings')}/records`, auth: bearerOf(alice) }),
  )
  aliceRecords = listing.Records
  expect(listing.DatasetSyncCount).toBe(2)
  expect(listing.Records).toHaveLength(4)
  seeded = await snapshot()
})

afterEach(() => {
  clock = T0
  expect(unexpected).toEqual([])
})

afterAll(async () => {
  await server?.close()
})

// ---------------------------------------------------------------------------------------------
// Routes

type Method = 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH'
const METHODS: readonly Method[] = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH']
type Slot = ':pool' | ':identity' | ':dataset' | ':device'

interface Template {
  readonly name: string
  readonly segments: readonly string[]
  /** The methods app.ts routes for this path; the others must be UnknownOperationException. */
  readonly methods: readonly Method[]
}

const IDENTITY = ['identitypools', ':pool', 'identities', ':identity']
const DATASET = [...IDENTITY, 'datasets', ':dataset']

/** Every path template of app.ts except `POST /`, which has its own property. */
const TEMPLATES: readonly Template[] = [
  { name: 'pools', segments: ['identitypools'], methods: ['GET'] },
  { name: 'pool', segments: ['identitypools', ':pool'], methods: ['GET'] },
  { name: 'identity', segments: IDENTITY, methods: ['GET'] },
  { name: 'datasets', segments: [...IDENTITY, 'datasets'], methods: ['GET'] },
  { name: 'dataset', segments: DATASET, methods: ['GET', 'DELETE', 'POST'] },
  { name: 'records', segments: [...DATASET, 'records'], methods: ['GET'] },
  { name: 'subscription', segments: [...DATASET, 'subscriptions', ':device'], methods: ['POST', 'DELETE'] },
  {
    name: 'device',
    segments: ['identitypools', ':pool', 'identity', ':identity', 'device'],
    methods: ['POST'],
  },
  { name: 'events', segments: ['identitypools', ':pool', 'events'], methods: ['GET', 'POST'] },
  { name: 'configuration', segments: ['identitypools', ':pool', 'configuration'], methods: ['GET', 'POST'] },
  { name: 'merge', segments: [...IDENTITY, 'merge'], methods: ['POST'] },
  { name: 'bulkpublish', segments: ['identitypools', ':pool', 'bulkpublish'], methods: ['POST'] },
  {
    name: 'bulkPublishDetails',
    segments: ['identitypools', ':pool', 'getBulkPublishDetails'],
    methods: ['POST'],
  },
]

const templateNamed = (name: string): Template => {
  const found = TEMPLATES.find((t) => t.name === name)
  if (found === undefined) throw new Error(`no template ${name}`)
  return found
}

const isSlot = (segment: string): segment is Slot => segment.startsWith(':')

/** Alice's own path values, already encoded. */
const aliceSlots = (): Record<Slot, string> => ({
  ':pool': enc(POOL),
  ':identity': enc(alice.identityId),
  ':dataset': 'settings',
  ':device': enc(aliceDevice),
})

const fill = (segments: readonly string[], slots: Readonly<Record<Slot, string>>) =>
  `/${segments.map((segment) => (isSlot(segment) ? slots[segment] : segment)).join('/')}`

/**
 * The bodies the properties start from, each accepted as it is on alice's own path (or the admin's,
 * for pool-level routes; the last test checks that), so a property's change is the only fault.
 */
/** A browser's PushSubscription JSON, at Chrome's push service. */
const webPushToken = (endpoint: string) => {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  return JSON.stringify({
    endpoint,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  })
}
const WEBPUSH_TOKEN = webPushToken('https://fcm.googleapis.com/fcm/send/fuzz-new-device')

/**
 * WEBPUSH tokens RegisterDevice refuses: not a subscription, or one whose endpoint would aim the
 * server's requests somewhere other than a public push service.
 */
const BAD_WEBPUSH_TOKENS = [
  '{',
  'fuzz-new-device',
  JSON.stringify({ endpoint: 'https://fcm.googleapis.com/fcm/send/x' }),
  webPushToken('file:///etc/passwd'),
  webPushToken('http://fcm.googleapis.com/fcm/send/x'),
  webPushToken('https://127.0.0.1/push'),
  webPushToken('https://169.254.169.254/latest/meta-data/'),
  webPushToken('https://[::1]/push'),
  webPushToken('https://10.0.0.7/push'),
  webPushToken('https://[::ffff:192.168.1.1]/push'),
  webPushToken('https://localhost/push'),
  webPushToken('https://metadata.google.internal/computeMetadata/v1/'),
  webPushToken('https://evil.example.com/push'),
  webPushToken('https://fcm.googleapis.com:8443/fcm/send/x'),
  webPushToken('https://user:pass@fcm.googleapis.com/fcm/send/x'),
]

const BASES = {
  updateRecords: () => ({
    SyncSessionToken: tokens.alice,
    DeviceId: 'fuzz-device',
    RecordPatches: [
      { Op: 'replace', Key: 'color', Value: 'plum', SyncCount: 1, DeviceLastModifiedDate: T0 / 1000 },
      { Op: 'remove', Key: 'size', SyncCount: 1 },
    ],
  }),
  registerDevice: () => ({ Platform: 'WEBPUSH', Token: WEBPUSH_TOKEN }),
  setCognitoEvents: () => ({ Events: { SyncTrigger: '' } }),
  setIdentityPoolConfiguration: () => ({
    PushSync: {
      ApplicationArns: ['arn:aws:sns:us-east-1:123456789012:app/GCM/fuzz'],
      RoleArn: 'arn:aws:iam::123456789012:role/fuzz',
    },
    CognitoStreams: {
      StreamName: 'fuzz',
      RoleArn: 'arn:aws:iam::123456789012:role/fuzz',
      StreamingStatus: 'DISABLED',
    },
  }),
  mergeIdentities: () => ({ SourceIdentityId: bob.identityId }),
}

/** The base body of a route, for the routes that take one. */
function validBody(template: Template, method: Method): string | undefined {
  if (method !== 'POST') return undefined
  const base = {
    dataset: BASES.updateRecords,
    device: BASES.registerDevice,
    events: BASES.setCognitoEvents,
    configuration: BASES.setIdentityPoolConfiguration,
    merge: BASES.mergeIdentities,
  }[template.name]
  return base === undefined ? undefined : JSON.stringify(base())
}

/** A template with one of its methods, or (less often) with any method. */
const routeArb = () =>
  fc.constantFrom(...TEMPLATES).chain((template) =>
    fc.record({
      template: fc.constant(template),
      method: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...template.methods) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
    }),
  )

/** A template with one of its methods. */
const definedRouteArb = () =>
  fc
    .constantFrom(...TEMPLATES)
    .chain((template) =>
      fc.record({ template: fc.constant(template), method: fc.constantFrom(...template.methods) }),
    )

// ---------------------------------------------------------------------------------------------
// Hostile values

/** Path segments and query values no route should make sense of, as they go on the wire. */
const HOSTILE_RAW = [
  '',
  '%',
  '%Z',
  '%ZZ',
  '%0',
  '%00',
  'a%00b',
  '%FF',
  '%C0%80',
  '%E0%A4',
  '%ED%A0%80',
  '%F8%88%80%80%80',
  '.',
  '..',
  '%2e',
  '%2E%2e',
  '%2F',
  'a%2Fb',
  '%5C',
  '%3F',
  '%23',
  '%20',
  '%0A',
  '+',
  '*',
  '~',
  "'",
  '%25',
  '%2525',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  '%7B%7D',
  '%5B%5D',
]

/** How the router reads a segment: percent-decoded, or as it is when that fails. */
const decodedSegment = (raw: string) => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

const longText = (min: number, max: number, unit = 'a') => fc.integer({ min, max }).map((n) => unit.repeat(n))

/** Shapes a Cognito id must not have: no colon, bad hex, too long, … */
const malformedIds = () =>
  fc.oneof(
    fc.constantFrom(
      'us-east-1',
      'us-east-1:',
      ':0c0ffee0-0000-4000-8000-000000000001',
      '0c0ffee0-0000-4000-8000-000000000001',
      'us-east-1:0c0ffee0-0000-4000-8000-00000000000g',
      'us-east-1::0c0ffee0',
      'us east 1:0c0ffee0',
      'us-east-1:0c0ffee0 ',
      `us-east-1:${'0'.repeat(46)}`,
      'ü-east-1:0c0ffee0',
    ),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    longText(56, 5000, 'f').map((text) => `us-east-1:${text}`),
  )

/** A valid-looking id of nobody, or of somebody else. */
const strangerIds = (region: string) => fc.uuid().map((uuid) => `${region}:${uuid}`)

const VALID_ID = /^[\w-]+:[0-9a-fA-F-]+$/
const isValidId = (text: string) => text.length <= 55 && VALID_ID.test(text)
const isValidDatasetName = (text: string) => /^[a-zA-Z0-9_.:-]{1,128}$/.test(text)

/**
 * A raw path segment for `slot` that alice may not use: malformed, or naming something that is not
 * hers. Alternative encodings of her own values are left out: they are the same request.
 */
function hostileSlot(slot: Slot): fc.Arbitrary<string> {
  const raw = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_RAW) },
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map(enc),
    longText(129, 20_000).map(enc),
    malformedIds().map(enc),
  )
  switch (slot) {
    case ':pool':
      return fc
        .oneof(
          raw,
          fc.constantFrom(enc(OTHER_POOL), enc(POOL.toUpperCase())),
          strangerIds('us-east-1').map(enc),
        )
        .filter((segment) => decodedSegment(segment) !== POOL)
    case ':identity':
      return fc
        .oneof(
          raw,
          fc.constantFrom(
            enc(bob.identityId),
            enc(carol.identityId),
            enc(alice.identityId.toUpperCase()),
            enc(alice.identityId.replace('us-east-1', 'eu-west-1')),
          ),
          strangerIds('us-east-1').map(enc),
        )
        .filter((segment) => decodedSegment(segment) !== alice.identityId)
    case ':dataset':
      // Any valid name is alice's to use (a missing dataset lists empty), so only invalid ones.
      return raw.filter((segment) => !isValidDatasetName(decodedSegment(segment)))
    case ':device':
      return fc.oneof(raw, fc.uuid().map(enc)).filter((segment) => decodedSegment(segment) !== aliceDevice)
  }
}

/** A path literal that is not the route's: no other route's literal, no alternate encoding of it. */
const hostileLiteral = (literal: string) =>
  fc
    .oneof(
      fc.constantFrom(...HOSTILE_RAW),
      fc.constantFrom(
        literal.toUpperCase(),
        `${literal}s`,
        literal.slice(1),
        `${literal}%00`,
        `${literal}%2F`,
      ),
    )
    .filter((segment) => {
      try {
        return decodeURI(segment) !== literal
      } catch {
        return segment !== literal
      }
    })

/** A path with at least one segment replaced by a hostile one. */
const hostilePath = (template: Template) => {
  const indices = template.segments.map((_, index) => index)
  const slots = indices.filter((index) => isSlot(template.segments[index] ?? ''))
  const anyPositions = fc.uniqueArray(fc.constantFrom(...indices), { minLength: 1, maxLength: 2 })
  // Mostly path values, which reach the operations; sometimes literals, which miss every route.
  const positions =
    slots.length === 0
      ? anyPositions
      : fc.oneof(
          { weight: 3, arbitrary: fc.uniqueArray(fc.constantFrom(...slots), { minLength: 1, maxLength: 2 }) },
          { weight: 1, arbitrary: anyPositions },
        )
  return positions
    .chain((positions) =>
      fc.tuple(
        ...template.segments.map((segment, index) => {
          const own = isSlot(segment) ? aliceSlots()[segment] : segment
          if (!positions.includes(index)) return fc.constant(own)
          return isSlot(segment) ? hostileSlot(segment) : hostileLiteral(segment)
        }),
      ),
    )
    .map((segments) => `/${segments.join('/')}`)
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The token with one character replaced by another base64url character. */
const flipped = (token: string) =>
  fc.tuple(fc.nat(token.length - 1), fc.integer({ min: 1, max: 63 })).map(([at, shift]) => {
    const current = BASE64URL.indexOf(token[at] ?? 'A')
    return `${token.slice(0, at)}${BASE64URL[(current + shift) % 64]}${token.slice(at + 1)}`
  })

/** A token shaped like the server's (payload + 32-byte MAC, base64url) but sealed with another key. */
const forgedToken = () =>
  fc
    .uint8Array({ minLength: 32, maxLength: 32 })
    .map((mac) =>
      Buffer.concat([
        Buffer.from(
          JSON.stringify(['pushsync-credentials-1', POOL, bob.identityId, T0 + HOUR, 'ASIAFORGED']),
        ),
        Buffer.from(mac),
      ]).toString('base64url'),
    )

const amzDate = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z')

/** Authorization that identifies nobody: absent, garbage, tampered or borrowed. */
function badAuth(): fc.Arbitrary<Auth> {
  const raw = (authorization: fc.Arbitrary<string>) =>
    authorization.map((value): Auth => ({ kind: 'raw', headers: { authorization: value } }))
  const token = alice.credentials.sessionToken
  const date = amzDate(clock)
  const sigv4Shaped = fc
    .tuple(
      fc.constantFrom(ADMIN.accessKeyId, alice.credentials.accessKeyId, 'AKIDNOBODY0000000000'),
      fc.stringMatching(/^[0-9a-f]{64}$/),
      fc.boolean(),
    )
    .map(
      ([keyId, signature, withToken]): Auth => ({
        kind: 'raw',
        headers: {
          authorization: `AWS4-HMAC-SHA256 Credential=${keyId}/${date.slice(0, 8)}/us-east-1/cognito-sync/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
          'x-amz-date': date,
          ...(withToken ? { 'x-amz-security-token': token } : {}),
        },
      }),
    )
  return fc.oneof(
    fc.constant<Auth>({ kind: 'none' }),
    fc.constant<Auth>({ kind: 'raw', headers: { 'x-amz-security-token': token, 'x-amz-date': date } }),
    raw(
      fc.constantFrom(
        '',
        'Bearer',
        'Bearer ',
        'Bearer a b',
        'Bearer ===',
        'Basic YWxpY2U6c2VjcmV0',
        'Negotiate abc',
        'AWS4-HMAC-SHA256',
        'AWS4-HMAC-SHA256 Credential=',
        `Bearer ${token}x`,
        `Bearer ${token}=`,
        `Bearer ${token} ${token}`,
        `Bearer ${token},${token}`,
        `Bearer ${alice.credentials.accessKeyId}`,
        `Bearer ${alice.credentials.secretAccessKey}`,
        `Bearer ${tokens.alice}`,
        `Bearer ${ADMIN.secretAccessKey}`,
        `Token ${token}`,
        token,
      ),
    ),
    raw(flipped(token).map((bad) => `Bearer ${bad}`)),
    raw(fc.nat(token.length - 1).map((length) => `Bearer ${token.slice(0, length)}`)),
    raw(forgedToken().map((forged) => `Bearer ${forged}`)),
    raw(fc.string({ maxLength: 200 })),
    raw(fc.string({ maxLength: 200 }).map((text) => `Bearer ${text}`)),
    sigv4Shaped,
  )
}

// ---------------------------------------------------------------------------------------------
// Bodies

type Kind = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object'

const KINDS: Readonly<Record<Kind, fc.Arbitrary<unknown>>> = {
  string: fc.string({ maxLength: 20 }),
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
}

/** A JSON value of any type but the ones a field accepts. */
const anyBut = (...accepted: Kind[]) =>
  fc.oneof(
    ...(Object.keys(KINDS) as Kind[]).filter((kind) => !accepted.includes(kind)).map((kind) => KINDS[kind]),
  )

/** Marks a field to delete rather than set. */
const REMOVE = Symbol('remove')

interface Field {
  readonly path: readonly (string | number)[]
  /** Values that make the request invalid at this field (REMOVE: leave it out). */
  readonly bad: fc.Arbitrary<unknown>
}

/** `base` with one field set to `value` (or removed). */
function mutate(base: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(base)
  let parent = copy as Record<string | number, unknown>
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>
  const last = path[path.length - 1] as string | number
  if (value === REMOVE) delete parent[last]
  else parent[last] = value
  return copy
}

const wrongField = (base: unknown, fields: readonly Field[]) =>
  fc
    .constantFrom(...fields)
    .chain((field) => field.bad.map((value) => JSON.stringify(mutate(base, field.path, value))))

/** Byte sequences a strict UTF-8 decoder refuses, wherever they appear. */
const INVALID_UTF8 = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
]

const bytesWithInvalidUtf8 = (text: string) =>
  fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.nat(text.length)).map(([bad, at]) => {
    const bytes = new TextEncoder().encode(text)
    const out = new Uint8Array(bytes.length + bad.length)
    out.set(bytes.subarray(0, at), 0)
    out.set(bad, at)
    out.set(bytes.subarray(at), at + bad.length)
    return out
  })

const nested = (depth: number, open: string, inner: string, close: string) =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`

/**
 * Bodies that are wrong in form, whatever the route: broken, truncated or non-UTF-8 renderings of
 * `base`, other JSON where an object belongs, and deep nesting, at the top or in place of the string
 * member at `deepPath`.
 */
function malformedBody(
  base: object,
  deepPath: readonly (string | number)[],
): fc.Arbitrary<string | Uint8Array<ArrayBuffer>> {
  const json = JSON.stringify(base)
  const marked = JSON.stringify(mutate(base, deepPath, '@@deep@@'))
  const fields = (inner: string) => marked.replace('"@@deep@@"', inner)
  return fc.oneof(
    // Every strict prefix of an object's JSON lacks its closing brace.
    fc.nat(json.length - 1).map((length) => json.slice(0, length)),
    fc.constantFrom(
      '',
      ' ',
      '\r\n\t ',
      'null',
      'true',
      '0',
      '-1e999',
      '"text"',
      '[]',
      `[${json}]`,
      `${json}x`,
      `${json},`,
      `${json}}`,
      `${json}${json}`,
      `/*c*/${json}`,
      `${json.slice(0, -1)},}`,
      json.replaceAll('"', "'"),
      `{${json}}`,
      '{"__proto__":{"SyncSessionToken":1}}',
      '{"a":NaN}',
      '{"a":undefined}',
      "{'a':1}",
      '\u0000',
    ),
    fc.string({ maxLength: 100 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    bytesWithInvalidUtf8(json),
    fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .filter((bytes) => {
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes)
          return false
        } catch {
          return true
        }
      })
      .map((bytes) => new Uint8Array(bytes)),
    fc
      .integer({ min: 1, max: 20_000 })
      .chain((depth) =>
        fc.constantFrom(
          nested(depth, '[', '', ']'),
          nested(depth, '{"a":', '1', '}'),
          fields(nested(depth, '[', '', ']')),
          fields(nested(depth, '{"a":', 'null', '}')),
        ),
      ),
  )
}

// ---------------------------------------------------------------------------------------------
// Properties

describe('requests without valid credentials', () => {
  it('are refused on every route and method, whatever the path, query and body', async () => {
    const slots = fc.record({
      ':pool': fc.constantFrom(enc(POOL), enc(OTHER_POOL)),
      ':identity': fc.constantFrom(alice, bob, carol).map((who) => enc(who.identityId)),
      ':dataset': fc.constantFrom('settings', 'secrets', 'new-one'),
      ':device': fc.constantFrom(enc(aliceDevice), 'no-such-device'),
    })
    await fc.assert(
      fc.asyncProperty(
        routeArb(),
        slots,
        badAuth(),
        fc.option(fc.constantFrom('lastSyncCount=0', 'maxResults=1', `syncSessionToken=${tokens.alice}`), {
          nil: undefined,
        }),
        fc.boolean(),
        async ({ template, method }, values, auth, query, withBody) => {
          const body = withBody && method !== 'GET' ? (validBody(template, method) ?? '{}') : undefined
          // Routing comes first, then authentication, before any path value, query or body is checked.
          const expected = template.methods.includes(method)
            ? 'NotAuthorizedException'
            : 'UnknownOperationException'
          await refused(
            {
              method,
              path: fill(template.segments, values),
              ...(query === undefined ? {} : { query }),
              ...(body === undefined ? {} : { body }),
              auth,
            },
            [expected],
          )
        },
      ),
    )
  })
})

describe('an identity', () => {
  const ownAuth = () => fc.constantFrom<Auth>(bearerOf(alice), signedAs(alice))

  it('is refused hostile or foreign path segments on every route and method', async () => {
    await fc.assert(
      fc.asyncProperty(
        routeArb().chain(({ template, method }) =>
          fc.record({
            template: fc.constant(template),
            method: fc.constant(method),
            path: hostilePath(template),
          }),
        ),
        ownAuth(),
        async ({ template, method, path }, auth) => {
          const body = validBody(template, method)
          await refused({ method, path, ...(body === undefined ? {} : { body }), auth })
        },
      ),
    )
  })

  it('may not reach pool-level operations or other identities even with well-formed requests', async () => {
    const foreign = fc.constantFrom(bob, carol)
    await fc.assert(
      fc.asyncProperty(definedRouteArb(), foreign, ownAuth(), async ({ template, method }, other, auth) => {
        const slots = {
          ':pool': enc(other.identityPoolId),
          ':identity': enc(other.identityId),
          ':dataset': other === bob ? 'secrets' : 'settings',
          ':device': enc(aliceDevice),
        }
        // Identity routes name the other identity; pool-level ones need developer credentials anyway.
        const identityScoped = template.segments.includes(':identity') && template.name !== 'merge'
        const path = fill(template.segments, identityScoped ? slots : aliceSlots())
        const body =
          template.name === 'dataset' && method === 'POST'
            ? JSON.stringify({
                SyncSessionToken: other === bob ? tokens.bob : tokens.carol,
                RecordPatches: [{ Op: 'replace', Key: 'pin', Value: '9999', SyncCount: 1 }],
              })
            : validBody(template, method)
        await refused({ method, path, ...(body === undefined ? {} : { body }), auth }, [
          'NotAuthorizedException',
        ])
      }),
    )
  })

  describe('listing with query parameters', () => {
    type Param = { readonly name: string; readonly raw: string; readonly bad: boolean }

    /** A parameter that is absent, valid, or bad; `raw` is the query text as sent. */
    const param = (name: string, good: fc.Arbitrary<string>, bad: fc.Arbitrary<string>) =>
      fc.oneof(
        fc.constant(undefined),
        good.map((value): Param => ({ name, raw: `${name}=${escapeRfc3986(value)}`, bad: false })),
        bad.map((value): Param => ({ name, raw: `${name}=${escapeRfc3986(value)}`, bad: true })),
      )

    const goodCount = fc.oneof(
      fc.constant(''),
      fc.nat().map(String),
      fc.nat(999).map((n) => `00${n}`),
      fc.constant(String(Number.MAX_SAFE_INTEGER)),
    )
    const badNumber = fc.oneof(
      fc.bigInt({ min: -(10n ** 20n), max: -1n }).map(String),
      fc
        .double()
        .filter((x) => !Number.isInteger(x))
        .map(String),
      fc.bigInt({ min: 2n ** 53n, max: 10n ** 40n }).map(String),
      fc.constantFrom(
        'abc',
        'NaN',
        'Infinity',
        '0x10',
        '1e3',
        '+1',
        ' 1',
        '1 ',
        '1_000',
        '١',
        'true',
        '[]',
        '--1',
        '-',
      ),
      fc.string({ minLength: 1, maxLength: 12 }).filter((text) => !/^-?\d+$/.test(text)),
    )
    const rawMalformed = fc.constantFrom('%ZZ', '%', '%00', '%FF', '1%00', '%E0%A4')
    const pageToken = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const badNextToken = fc.oneof(
      fc.string({ minLength: 1, maxLength: 60 }),
      fc.jsonValue({ maxDepth: 2 }).map(pageToken),
      fc.constantFrom(
        pageToken({ since: 0, after: { syncCount: '1', key: 'a' } }),
        pageToken({ since: 0, after: { syncCount: 1 } }),
        pageToken({ since: 0.5, after: { syncCount: 1, key: 'a' } }),
        pageToken({ since: 0, after: { syncCount: 1e300, key: 'a' } }),
        pageToken({ after: 5 }),
        pageToken({ after: null }),
        pageToken([]),
        pageToken(null),
      ),
    )
    /** ListDatasets and ListIdentityPoolUsage accept any `{after: string}`: those are valid tokens. */
    const isNotNameToken = (token: string) => {
      try {
        const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
          after?: unknown
        } | null
        return typeof value?.after !== 'string'
      } catch {
        return true
      }
    }
    const flippedToken = () => flipped(tokens.alice)
    const badSessionToken = () =>
      fc.oneof(
        fc.constantFrom(tokens.bob, tokens.carol, tokens.aliceElsewhere, alice.credentials.sessionToken),
        flippedToken(),
        fc.string({ minLength: 1, maxLength: 60 }),
      )

    /** Unknown names, and known ones in the wrong case, are ignored however bad their values. */
    const noise = fc.option(
      fc.constantFrom('MaxResults=-1', 'LASTSYNCCOUNT=x', 'foo=bar', 'nexttoken=%25%25', '=', '&&'),
      { nil: undefined },
    )

    const assemble = (params: readonly (Param | undefined)[], extra: string | undefined) => {
      const present = params.filter((p): p is Param => p !== undefined)
      const parts = [...present.map((p) => p.raw), ...(extra === undefined ? [] : [extra])]
      return { query: parts.join('&'), bad: present.some((p) => p.bad) }
    }

    it('ListRecords succeeds exactly when every parameter is valid', async () => {
      await fc.assert(
        fc.asyncProperty(
          param('lastSyncCount', goodCount, badNumber),
          param(
            'maxResults',
            goodCount.filter((text) => text === '' || Number(text) >= 1),
            fc.oneof(badNumber, fc.constantFrom('0', '-0', '000')),
          ),
          param('nextToken', fc.constant(''), badNextToken),
          param('syncSessionToken', fc.constantFrom('', tokens.alice), badSessionToken()),
          fc.option(rawMalformed, { nil: undefined }),
          noise,
          fc.constantFrom('bearer', 'sigv4'),
          async (lastSyncCount, maxResults, nextToken, syncSessionToken, malformed, extra, kind) => {
            // Malformed percent-encoding goes alone, as the one lastSyncCount.
            const params =
              malformed === undefined
                ? [lastSyncCount, maxResults, nextToken, syncSessionToken]
                : [{ name: 'lastSyncCount', raw: `lastSyncCount=${malformed}`, bad: true }]
            const { query, bad } = assemble(params, extra)
            // A query that cannot be decoded cannot be verified: it is refused before it is validated.
            const undecodable = kind === 'sigv4' && decodedQuery(query) === undefined
            const call: Call = {
              method: 'GET',
              path: `${datasetPath(alice, 'settings')}/records`,
              query,
              auth: kind === 'bearer' ? bearerOf(alice) : signedAs(alice),
            }
            if (!bad) {
              const writesBefore = writeLog.committed.length
              const listing = await okJson(await send(call))
              expect(listing.DatasetSyncCount).toBe(2)
              expect(writeLog.committed.length).toBe(writesBefore)
              return
            }
            await refused(call, [undecodable ? 'NotAuthorizedException' : 'InvalidParameterException'])
          },
        ),
      )
    })

    it('ListDatasets succeeds exactly when every parameter is valid', async () => {
      await fc.assert(
        fc.asyncProperty(
          param(
            'maxResults',
            goodCount.filter((text) => text === '' || Number(text) >= 1),
            fc.oneof(badNumber, fc.constantFrom('0', '-0')),
          ),
          param(
            'nextToken',
            fc.constantFrom('', pageToken({ after: 'm' }), pageToken({ after: '' })),
            badNextToken.filter(isNotNameToken),
          ),
          noise,
          fc.constantFrom('bearer', 'sigv4'),
          async (maxResults, nextToken, extra, kind) => {
            const { query, bad } = assemble([maxResults, nextToken], extra)
            const call: Call = {
              method: 'GET',
              path: `${identityPath(alice)}/datasets`,
              query,
              auth: kind === 'bearer' ? bearerOf(alice) : signedAs(alice),
            }
            if (!bad) {
              await okJson(await send(call))
              return
            }
            await refused(call, ['InvalidParameterException'])
          },
        ),
      )
    })

    it('ListIdentityPoolUsage (admin) succeeds exactly when every parameter is valid', async () => {
      await fc.assert(
        fc.asyncProperty(
          param(
            'maxResults',
            fc.oneof(fc.constant(''), fc.integer({ min: 1, max: 60 }).map(String)),
            fc.oneof(badNumber, fc.integer({ min: 61, max: 1e9 }).map(String), fc.constantFrom('0', '-0')),
          ),
          param(
            'nextToken',
            fc.constantFrom('', pageToken({ after: POOL })),
            badNextToken.filter(isNotNameToken),
          ),
          noise,
          async (maxResults, nextToken, extra) => {
            const { query, bad } = assemble([maxResults, nextToken], extra)
            const call: Call = { method: 'GET', path: '/identitypools', query, auth: asAdmin }
            if (!bad) {
              await okJson(await send(call))
              return
            }
            await refused(call, ['InvalidParameterException'])
          },
        ),
      )
    })
  })

  describe('writing bodies', () => {
    const updateBase = BASES.updateRecords

    const nonInteger = fc.double().filter((x) => !Number.isInteger(x))
    const badKey = fc.oneof(
      anyBut('string'),
      fc.constantFrom('', '\ud800', 'a\udc00b', 'k'.repeat(129), '€'.repeat(43)),
    )
    const updateFields = (): Field[] => [
      {
        path: ['SyncSessionToken'],
        bad: fc.oneof(
          fc.constantFrom(
            REMOVE,
            null,
            '',
            tokens.bob,
            tokens.aliceElsewhere,
            alice.credentials.sessionToken,
          ),
          anyBut('string', 'null'),
          flipped(tokens.alice),
          fc.string({ minLength: 1, maxLength: 40 }),
        ),
      },
      { path: ['DeviceId'], bad: fc.oneof(anyBut('string', 'null'), longText(257, 5000)) },
      { path: ['RecordPatches'], bad: anyBut('array', 'null') },
      { path: ['RecordPatches', 0], bad: anyBut('object') },
      {
        path: ['RecordPatches', 0, 'Op'],
        bad: fc.oneof(
          fc.constantFrom(REMOVE, 'REPLACE', 'Remove', 'add', 'replace ', '', 'update'),
          fc.jsonValue({ maxDepth: 1 }).filter((op) => op !== 'replace' && op !== 'remove'),
        ),
      },
      { path: ['RecordPatches', 0, 'Key'], bad: fc.oneof(fc.constant(REMOVE), badKey) },
      {
        path: ['RecordPatches', 0, 'Value'],
        bad: fc.oneof(fc.constantFrom(REMOVE, '\ud800', 'x\udbff'), anyBut('string')),
      },
      {
        path: ['RecordPatches', 0, 'SyncCount'],
        bad: fc.oneof(
          fc.constant(REMOVE),
          anyBut('number'),
          fc.integer({ max: -1 }),
          nonInteger,
          fc.constantFrom(2 ** 53, 1e300, -0.5),
          // Stale counts are conflicts.
          fc.constantFrom(0, 2, 3, Number.MAX_SAFE_INTEGER),
        ),
      },
      { path: ['RecordPatches', 0, 'DeviceLastModifiedDate'], bad: anyBut('number', 'null') },
      { path: ['RecordPatches', 1, 'Key'], bad: fc.oneof(fc.constant('color'), badKey) },
      { path: ['RecordPatches', 1, 'SyncCount'], bad: fc.oneof(fc.constantFrom(0, 2, -1, '1'), nonInteger) },
      {
        path: ['RecordPatches', 1, 'Op'],
        bad: fc.jsonValue({ maxDepth: 1 }).filter((op) => op !== 'replace' && op !== 'remove'),
      },
    ]

    it('UpdateRecords refuses every malformed or mistyped body and spends nothing', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { weight: 3, arbitrary: wrongField(updateBase(), updateFields()) },
            malformedBody(updateBase(), ['RecordPatches', 0, 'Key']),
          ),
          ownAuth(),
          async (body, auth) => {
            await refused({ method: 'POST', path: datasetPath(alice, 'settings'), body, auth }, [
              'InvalidParameterException',
              'LimitExceededException',
              'ResourceConflictException',
            ])
          },
        ),
      )
    })

    it('RegisterDevice refuses every malformed or mistyped body', async () => {
      const base = BASES.registerDevice()
      const fields: Field[] = [
        {
          path: ['Platform'],
          bad: fc.oneof(
            fc.constantFrom(REMOVE, 'gcm', 'APNS ', 'FCM', '', 'webpush'),
            anyBut('string'),
            fc.string({ maxLength: 12 }).filter((text) => !PLATFORMS.includes(text)),
          ),
        },
        {
          path: ['Token'],
          bad: fc.oneof(
            fc.constantFrom(REMOVE, '', ...BAD_WEBPUSH_TOKENS),
            anyBut('string'),
            longText(8193, 20_000),
          ),
        },
      ]
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(wrongField(base, fields), malformedBody(base, ['Token'])),
          ownAuth(),
          async (body, auth) => {
            await refused(
              {
                method: 'POST',
                path: `/identitypools/${enc(POOL)}/identity/${enc(alice.identityId)}/device`,
                body,
                auth,
              },
              ['InvalidParameterException'],
            )
          },
        ),
      )
    })
  })

  it('finds its data under any percent-encoding of its own path', async () => {
    /** Each character as it is, or percent-encoded in upper or lower case. */
    const encodings = (text: string) =>
      fc
        .tuple(
          ...[...text].map((char) =>
            fc.constantFrom(
              /[A-Za-z0-9._~-]/.test(char) ? char : enc(char),
              enc(char).length > 1 ? enc(char) : `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
              `%${char.charCodeAt(0).toString(16).toLowerCase()}`,
            ),
          ),
        )
        .map((chars) => chars.join(''))
    await fc.assert(
      fc.asyncProperty(
        encodings(POOL),
        encodings(alice.identityId),
        encodings('settings'),
        fc.constantFrom('bearer', 'sigv4'),
        async (pool, identity, dataset, kind) => {
          const writesBefore = writeLog.committed.length
          const listing = await okJson(
            await send({
              method: 'GET',
              path: `/identitypools/${pool}/identities/${identity}/datasets/${dataset}/records`,
              auth: kind === 'bearer' ? bearerOf(alice) : signedAs(alice),
            }),
          )
          expect(listing.Records).toEqual(aliceRecords)
          expect(writeLog.committed.length).toBe(writesBefore)
        },
      ),
    )
  })
})

describe('the admin', () => {
  it('is refused malformed ids, unknown pools and bad bodies', async () => {
    const invalidPool = fc.oneof(fc.constantFrom(...HOSTILE_RAW), malformedIds().map(enc)).filter((raw) => {
      const decoded = decodedSegment(raw)
      return !isValidId(decoded) && !['.', '..'].includes(decoded)
    })
    const unknownPool = strangerIds('us-west-2').map(enc)
    const pool = (template: string) => `/identitypools/${enc(POOL)}/${template}`

    const eventsBody = fc.oneof(
      fc.constantFrom('', '[]', 'null', '"x"', '{}', '{"Events":null}', '{"Events":[]}'),
      anyBut('object').map((events) => JSON.stringify({ Events: events })),
      fc
        .dictionary(fc.constantFrom('SyncTrigger', 'Other', 'syncTrigger'), fc.constant(''), { minKeys: 2 })
        .map((events) => JSON.stringify({ Events: events })),
      fc
        .string({ maxLength: 20 })
        .filter((type) => type !== 'SyncTrigger')
        .map((type) => JSON.stringify({ Events: { [type]: '' } })),
      anyBut('string').map((target) => JSON.stringify({ Events: { SyncTrigger: target } })),
      fc
        .string({ minLength: 1, maxLength: 40 })
        .filter((target) => !/^https?:\/\//.test(target))
        .map((target) => JSON.stringify({ Events: { SyncTrigger: target } })),
      malformedBody(BASES.setCognitoEvents(), ['Events', 'SyncTrigger']),
    )

    const roleArn = fc.oneof(anyBut('string'), fc.string({ maxLength: 19 }), longText(2049, 5000))
    const configurationField: Field[] = [
      { path: ['PushSync'], bad: anyBut('object') },
      {
        path: ['PushSync', 'ApplicationArns'],
        bad: fc.oneof(anyBut('array'), fc.array(anyBut('string'), { minLength: 1, maxLength: 3 })),
      },
      { path: ['PushSync', 'RoleArn'], bad: roleArn },
      { path: ['CognitoStreams'], bad: anyBut('object') },
      {
        path: ['CognitoStreams', 'StreamName'],
        bad: fc.oneof(anyBut('string'), fc.constant(''), longText(129, 1000)),
      },
      { path: ['CognitoStreams', 'RoleArn'], bad: roleArn },
      {
        path: ['CognitoStreams', 'StreamingStatus'],
        bad: fc.oneof(
          anyBut('string'),
          fc.string().filter((s) => s !== 'ENABLED' && s !== 'DISABLED'),
        ),
      },
    ]
    const configurationBase = BASES.setIdentityPoolConfiguration()
    const configurationBody = fc.oneof(
      wrongField(configurationBase, configurationField),
      malformedBody(configurationBase, ['PushSync', 'RoleArn']).filter((body) => {
        if (typeof body !== 'string') return true
        if (body.trim() === '') return false
        try {
          const value = JSON.parse(body) as { PushSync?: { RoleArn?: unknown } } | null
          // Parsed JSON stays only where it nests in place of RoleArn. No body, and objects without
          // the two members, are an empty change, which is valid. JSON that is not an object is
          // accepted as an empty change too, which it should not be: left out here, not asserted.
          return (
            typeof value === 'object' &&
            value !== null &&
            value.PushSync !== undefined &&
            typeof value.PushSync?.RoleArn !== 'string'
          )
        } catch {
          return true
        }
      }),
    )

    const mergeSource = fc.oneof(
      fc.constantFrom(REMOVE, alice.identityId, carol.identityId),
      anyBut('string'),
      malformedIds(),
      strangerIds('us-east-1'),
    )
    const mergeTarget = fc.oneof(
      fc.constantFrom(enc(alice.identityId), enc(carol.identityId)),
      invalidPool,
      strangerIds('us-east-1').map(enc),
    )
    const mergeCall = fc
      .tuple(mergeTarget, fc.oneof(mergeSource, fc.constant(bob.identityId)))
      .filter(([target, source]) => !(target === enc(alice.identityId) && source === bob.identityId))
      .filter(([target, source]) => decodedSegment(target) !== source)
      .map(
        ([target, source]): Call => ({
          method: 'POST',
          path: `/identitypools/${enc(POOL)}/identities/${target}/merge`,
          body: JSON.stringify(mutate({ SourceIdentityId: bob.identityId }, ['SourceIdentityId'], source)),
          auth: asAdmin,
        }),
      )

    const identityRoutes = fc
      .constantFrom(...TEMPLATES.filter((t) => t.segments.includes(':identity') && t.name !== 'merge'))
      .chain((template) =>
        fc.tuple(fc.constant(template), fc.constantFrom(...template.segments.filter(isSlot))),
      )
      .chain(([template, slot]) =>
        fc.record({
          template: fc.constant(template),
          method: fc.constantFrom(...template.methods),
          // The admin reaches every identity, so only malformed ids (and devices of nobody) are refused.
          raw: slot === ':dataset' || slot === ':device' ? hostileSlot(slot) : invalidPool,
          slot: fc.constant(slot),
        }),
      )
      .map(({ template, method, raw, slot }): Call => {
        const body = validBody(template, method)
        return {
          method,
          path: fill(template.segments, { ...aliceSlots(), [slot]: raw }),
          ...(body === undefined ? {} : { body }),
          auth: asAdmin,
        }
      })

    const call: fc.Arbitrary<Call> = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('', '/events', '/configuration', '/bulkpublish', '/getBulkPublishDetails'),
          invalidPool,
        )
        .map(([suffix, raw]) => ({
          method: suffix === '' || suffix === '/events' || suffix === '/configuration' ? 'GET' : 'POST',
          path: `/identitypools/${raw}${suffix}`,
          auth: asAdmin,
        })),
      // GetCognitoEvents answers an unknown pool with no events, so it is not among these.
      fc
        .tuple(fc.constantFrom('', '/configuration', '/bulkpublish', '/getBulkPublishDetails'), unknownPool)
        .map(([suffix, raw]) => ({
          method: suffix === '' || suffix === '/configuration' ? 'GET' : 'POST',
          path: `/identitypools/${raw}${suffix}`,
          auth: asAdmin,
        })),
      // Streams are not configured, so bulk publish of a known pool is refused.
      fc.constant<Call>({ method: 'POST', path: pool('bulkpublish'), auth: asAdmin }),
      eventsBody.map((body): Call => ({ method: 'POST', path: pool('events'), body, auth: asAdmin })),
      configurationBody.map(
        (body): Call => ({ method: 'POST', path: pool('configuration'), body, auth: asAdmin }),
      ),
      mergeCall,
      identityRoutes,
    )
    await fc.assert(
      fc.asyncProperty(call, async (request) => {
        await refused(request)
      }),
    )
  })
})

describe('signed requests that were tampered with', () => {
  interface Base {
    readonly name: string
    readonly call: Call
    readonly who: Who | 'admin'
  }

  const bases = (): Base[] => [
    {
      name: 'ListRecords',
      who: alice,
      call: {
        method: 'GET',
        path: `${datasetPath(alice, 'settings')}/records`,
        query: 'lastSyncCount=0',
        auth: signedAs(alice),
      },
    },
    {
      name: 'DeleteDataset',
      who: alice,
      call: { method: 'DELETE', path: datasetPath(alice, 'settings'), auth: signedAs(alice) },
    },
    {
      name: 'UpdateRecords',
      who: alice,
      call: {
        method: 'POST',
        path: datasetPath(alice, 'settings'),
        body: JSON.stringify(BASES.updateRecords()),
        auth: signedAs(alice),
      },
    },
    {
      name: 'RegisterDevice',
      who: alice,
      call: {
        method: 'POST',
        path: `/identitypools/${enc(POOL)}/identity/${enc(alice.identityId)}/device`,
        body: JSON.stringify(BASES.registerDevice()),
        auth: signedAs(alice),
      },
    },
    {
      name: 'MergeIdentities',
      who: 'admin',
      call: {
        method: 'POST',
        path: `${identityPath(alice)}/merge`,
        body: JSON.stringify(BASES.mergeIdentities()),
        auth: asAdmin,
      },
    },
    {
      name: 'SetIdentityPoolConfiguration',
      who: 'admin',
      call: {
        method: 'POST',
        path: `/identitypools/${enc(POOL)}/configuration`,
        body: JSON.stringify(BASES.setIdentityPoolConfiguration()),
        auth: asAdmin,
      },
    },
  ]

  it('are accepted untampered (read-only base)', async () => {
    const base = bases()[0] as Base
    await okJson(await send(base.call))
  })

  type Tamper =
    | { readonly kind: 'signature'; readonly at: number; readonly shift: number }
    | { readonly kind: 'service'; readonly service: string }
    | { readonly kind: 'region'; readonly region: string }
    | { readonly kind: 'skew'; readonly seconds: number }
    | { readonly kind: 'expired'; readonly ahead: number; readonly bearer: boolean }
    | { readonly kind: 'borrowedToken'; readonly from: 'bob' | 'carol' | 'alice' }
    | { readonly kind: 'wrongSecret'; readonly secret: string }
    | { readonly kind: 'dropHeader'; readonly header: string }
    | { readonly kind: 'headerValue'; readonly header: string }
    | { readonly kind: 'body'; readonly at: number; readonly xor: number; readonly dropHash: boolean }
    | { readonly kind: 'path'; readonly to: string }
    | { readonly kind: 'query'; readonly query: string }
    | { readonly kind: 'method'; readonly method: Method }
    | { readonly kind: 'authorization'; readonly variant: number }

  const editSignedHeaders = (header: string, edit: (names: string[]) => string[]) =>
    header.replace(
      /SignedHeaders=([^,]*)/,
      (_, list: string) => `SignedHeaders=${edit(list.split(';')).join(';')}`,
    )
  const dropName = (name: string) => (names: string[]) => names.filter((n) => n !== name)

  /** Changes to a correct Authorization header, each of which must fail verification. */
  const AUTHORIZATION_VARIANTS: ReadonlyArray<(header: string) => string> = [
    (h) => h.replace('AWS4-HMAC-SHA256', 'aws4-hmac-sha256'),
    (h) => h.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512'),
    (h) => editSignedHeaders(h, dropName('host')),
    (h) => editSignedHeaders(h, dropName('x-amz-date')),
    (h) => editSignedHeaders(h, dropName('x-amz-content-sha256')),
    (h) => editSignedHeaders(h, (names) => [...names].reverse()),
    (h) => editSignedHeaders(h, (names) => [...names, 'x-not-sent']),
    (h) => h.replace(/Signature=([0-9a-f]+)/, (_, sig: string) => `Signature=${sig.toUpperCase()}`),
    (h) => h.replace(/Signature=([0-9a-f]+)/, (_, sig: string) => `Signature=${sig.slice(1)}`),
    (h) => `${h}, Signature=${'0'.repeat(64)}`,
    (h) => h.replace('/aws4_request', '/aws4_request/x'),
    (h) => h.replace('/aws4_request', '/aws4_requests'),
    (h) => h.replace(/Credential=[^/]+/, `Credential=${ADMIN.accessKeyId}`),
    (h) =>
      h.replace(
        /Credential=([^/]+)\/(\d{8})/,
        (_, key: string, day: string) => `Credential=${key}/${Number(day) + 1}`,
      ),
    (h) => h.replace(', ', ',Foo=bar, '),
  ]

  function tamperArb(base: Base): fc.Arbitrary<Tamper> {
    const identity = base.who !== 'admin'
    const signed: fc.Arbitrary<Tamper>[] = [
      fc.record({
        kind: fc.constant('signature' as const),
        at: fc.nat(63),
        shift: fc.integer({ min: 1, max: 15 }),
      }),
      fc.record({
        kind: fc.constant('service' as const),
        service: fc.constantFrom(
          'cognito-identity',
          's3',
          'sts',
          'execute-api',
          'cognito-sync2',
          'Cognito-Sync',
          'cognito_sync',
          '',
        ),
      }),
      fc.record({
        kind: fc.constant('region' as const),
        region: fc.constantFrom('US-EAST-1', 'us_east_1', 'us-east-1 ', '', 'a'.repeat(65), 'üs-east-1'),
      }),
      fc.record({
        kind: fc.constant('skew' as const),
        seconds: fc.oneof(
          fc.integer({ min: 901, max: 30 * 86_400 }),
          fc.integer({ min: -30 * 86_400, max: -901 }),
        ),
      }),
      fc.record({
        kind: fc.constant('wrongSecret' as const),
        secret: fc.string({ minLength: 1, maxLength: 40 }),
      }),
      fc.record({
        kind: fc.constant('dropHeader' as const),
        header: fc.constantFrom(
          'x-amz-date',
          'authorization',
          'x-amz-content-sha256',
          ...(identity ? ['x-amz-security-token'] : []),
        ),
      }),
      fc.record({
        kind: fc.constant('headerValue' as const),
        header: fc.constantFrom(
          'x-amz-date',
          'host',
          'content-type',
          ...(identity ? ['x-amz-security-token'] : []),
        ),
      }),
      fc.record({
        kind: fc.constant('query' as const),
        query: fc.constantFrom('lastSyncCount=1', 'x=1', 'lastSyncCount=0&lastSyncCount=0'),
      }),
      fc.record({
        kind: fc.constant('authorization' as const),
        variant: fc.nat(AUTHORIZATION_VARIANTS.length - 1),
      }),
      fc.record({
        kind: fc.constant('path' as const),
        to: fc.constantFrom(
          base.call.path.replace('settings', 'settingz'),
          base.call.path.replace(enc(alice.identityId), enc(bob.identityId)),
          base.call.path.replace(enc(POOL), enc(POOL).toLowerCase()),
        ),
      }),
      fc.record({
        kind: fc.constant('borrowedToken' as const),
        from: fc.constantFrom<'bob' | 'carol' | 'alice'>(
          ...(identity ? (['bob', 'carol'] as const) : (['alice'] as const)),
        ),
      }),
    ]
    if (identity) {
      signed.push(
        fc.record({
          kind: fc.constant('expired' as const),
          ahead: fc.integer({ min: HOUR, max: 90 * 24 * HOUR }),
          bearer: fc.boolean(),
        }),
      )
    }
    if (base.call.body !== undefined) {
      signed.push(
        fc.record({
          kind: fc.constant('body' as const),
          at: fc.nat(),
          xor: fc.integer({ min: 1, max: 255 }),
          dropHash: fc.boolean(),
        }),
      )
    }
    if (base.name === 'DeleteDataset' || base.name === 'UpdateRecords') {
      signed.push(
        fc.record({
          kind: fc.constant('method' as const),
          method: fc.constantFrom<Method>('GET', 'DELETE', 'POST'),
        }),
      )
    }
    return fc.oneof(...signed)
  }

  async function tampered(base: Base, tamper: Tamper): Promise<Wire> {
    const credentials = base.who === 'admin' ? ADMIN : base.who.credentials
    const sign = (auth: Partial<Extract<Auth, { kind: 'sigv4' }>>) =>
      prepare({ ...base.call, auth: { kind: 'sigv4', credentials, ...auth } })
    switch (tamper.kind) {
      case 'service':
        return sign({ service: tamper.service })
      case 'region':
        return sign({ region: tamper.region })
      case 'skew':
        return sign({ at: clock + tamper.seconds * 1000 })
      case 'expired':
        // Credentials are good for an hour: sign at the server's (later) time with ones from before.
        clock = T0 + tamper.ahead
        return tamper.bearer ? prepare({ ...base.call, auth: bearerOf(alice) }) : sign({})
      case 'wrongSecret':
        fc.pre(tamper.secret !== credentials.secretAccessKey)
        return sign({ credentials: { ...credentials, secretAccessKey: tamper.secret } })
      case 'borrowedToken': {
        const lender = tamper.from === 'bob' ? bob : tamper.from === 'carol' ? carol : alice
        return sign({ credentials: { ...credentials, sessionToken: lender.credentials.sessionToken } })
      }
      default:
        break
    }
    const wire = await sign({})
    const headers: Record<string, string> = { ...wire.headers }
    switch (tamper.kind) {
      case 'signature': {
        const auth = headers.authorization ?? ''
        const start = auth.indexOf('Signature=') + 'Signature='.length + tamper.at
        const digit = Number.parseInt(auth[start] ?? '0', 16)
        headers.authorization = `${auth.slice(0, start)}${((digit + tamper.shift) % 16).toString(16)}${auth.slice(start + 1)}`
        return { ...wire, headers }
      }
      case 'dropHeader':
        fc.pre(tamper.header in headers)
        delete headers[tamper.header]
        return { ...wire, headers }
      case 'headerValue': {
        fc.pre(tamper.header in headers)
        const changed: Record<string, string> = {
          'x-amz-date': amzDate(clock + 1000),
          host: `${HOST}:8080`,
          'content-type': 'text/plain',
          'x-amz-security-token': bob.credentials.sessionToken,
        }
        headers[tamper.header] = changed[tamper.header] ?? ''
        return { ...wire, headers }
      }
      case 'body': {
        const bytes = new TextEncoder().encode(String(wire.body))
        const at = tamper.at % bytes.length
        bytes[at] = (bytes[at] ?? 0) ^ tamper.xor
        if (tamper.dropHash) delete headers['x-amz-content-sha256']
        return { ...wire, headers, body: bytes }
      }
      case 'path': {
        const url = new URL(wire.url)
        fc.pre(tamper.to !== base.call.path)
        return { ...wire, url: `${url.origin}${tamper.to}${url.search}` }
      }
      case 'query': {
        const url = new URL(wire.url)
        return { ...wire, url: `${url.origin}${url.pathname}?${tamper.query}` }
      }
      case 'method':
        fc.pre(tamper.method !== base.call.method)
        return { ...wire, method: tamper.method, body: tamper.method === 'GET' ? undefined : wire.body }
      case 'authorization':
        headers.authorization = (AUTHORIZATION_VARIANTS[tamper.variant] ?? ((h) => h))(
          headers.authorization ?? '',
        )
        fc.pre(headers.authorization !== wire.headers.authorization)
        return { ...wire, headers }
      default:
        throw new Error('unhandled tamper')
    }
  }

  it('are refused as NotAuthorizedException and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bases()).chain((base) => fc.tuple(fc.constant(base), tamperArb(base))),
        async ([base, tamper]) => {
          try {
            const writesBefore = writeLog.committed.length
            await expectRefused(await dispatch(await tampered(base, tamper)), ['NotAuthorizedException'])
            expect(writeLog.committed.slice(writesBefore)).toEqual([])
          } finally {
            clock = T0
          }
          expect(await snapshot()).toEqual(seeded)
        },
      ),
    )
  })
})

describe('huge bodies under the body limit', () => {
  it('are refused when a field is over its limit', async () => {
    const datasetUrl = () => datasetPath(alice, 'settings')
    const update = (patches: readonly object[], extra: object = {}) =>
      JSON.stringify({ SyncSessionToken: tokens.alice, RecordPatches: patches, ...extra })
    const patch = (key: string, value = 'v', syncCount = 0) => ({
      Op: 'replace',
      Key: key,
      Value: value,
      SyncCount: syncCount,
    })
    const many = (count: number) => Array.from({ length: count }, (_, i) => patch(`k${i}`))
    /** Each case by name and size, so that a failure prints a line rather than megabytes. */
    const CASES: Readonly<
      Record<string, { readonly min: number; readonly max: number; readonly call: (n: number) => Call }>
    > = {
      value: {
        min: 1_048_576,
        max: 3_000_000,
        call: (n) => ({
          method: 'POST',
          path: datasetUrl(),
          body: update([patch('color', 'x'.repeat(n), 1)]),
          auth: bearerOf(alice),
        }),
      },
      key: {
        min: 129,
        max: 3_000_000,
        call: (n) => ({
          method: 'POST',
          path: datasetUrl(),
          body: update([patch('k'.repeat(n))]),
          auth: signedAs(alice),
        }),
      },
      sessionToken: {
        min: 4097,
        max: 3_000_000,
        call: (n) => ({
          method: 'POST',
          path: datasetUrl(),
          body: JSON.stringify({ SyncSessionToken: 'x'.repeat(n), RecordPatches: [] }),
          auth: bearerOf(alice),
        }),
      },
      deviceId: {
        min: 257,
        max: 3_000_000,
        call: (n) => ({
          method: 'POST',
          path: datasetUrl(),
          body: update([patch('color', 'v', 1)], { DeviceId: 'x'.repeat(n) }),
          auth: bearerOf(alice),
        }),
      },
      // More new records than a dataset may hold.
      records: {
        min: 1025,
        max: 40_000,
        call: (n) => ({ method: 'POST', path: datasetUrl(), body: update(many(n)), auth: signedAs(alice) }),
      },
      // One broken patch at the end of a long list.
      lastPatch: {
        min: 1,
        max: 40_000,
        call: (n) => ({
          method: 'POST',
          path: datasetUrl(),
          body: update([...many(n), { Op: 'add' }]),
          auth: bearerOf(alice),
        }),
      },
      deviceToken: {
        min: 8193,
        max: 3_000_000,
        call: (n) => ({
          method: 'POST',
          path: `/identitypools/${enc(POOL)}/identity/${enc(alice.identityId)}/device`,
          body: JSON.stringify({ Platform: 'GCM', Token: 'x'.repeat(n) }),
          auth: bearerOf(alice),
        }),
      },
      identityPoolId: {
        min: 56,
        max: 3_000_000,
        call: (n) =>
          identityCall('AWSCognitoIdentityService.GetId', { IdentityPoolId: `us-east-1:${'a'.repeat(n)}` }),
      },
      loginToken: {
        min: 50_001,
        max: 3_000_000,
        call: (n) =>
          identityCall('AWSCognitoIdentityService.GetId', {
            IdentityPoolId: POOL,
            Logins: { 'accounts.example.com': 'x'.repeat(n) },
          }),
      },
      loginProvider: {
        min: 129,
        max: 3_000_000,
        call: (n) =>
          identityCall('AWSCognitoIdentityService.GetId', {
            IdentityPoolId: POOL,
            Logins: { ['p'.repeat(n)]: 'token' },
          }),
      },
      roleArn: {
        min: 2049,
        max: 3_000_000,
        call: (n) => ({
          method: 'POST',
          path: `/identitypools/${enc(POOL)}/configuration`,
          body: JSON.stringify({ PushSync: { RoleArn: 'x'.repeat(n) } }),
          auth: asAdmin,
        }),
      },
      unterminated: {
        min: 1_000_000,
        max: 4_000_000,
        call: (n) => ({
          method: 'POST',
          path: datasetUrl(),
          body: `{"SyncSessionToken":"${'x'.repeat(n)}`,
          auth: signedAs(alice),
        }),
      },
    }
    const cases = fc
      .constantFrom(...Object.keys(CASES))
      .chain((name) =>
        fc.tuple(fc.constant(name), fc.integer({ min: CASES[name]?.min ?? 0, max: CASES[name]?.max ?? 0 })),
      )
    // Each case builds and parses megabytes; two dozen runs reach every field within a few seconds.
    await fc.assert(
      fc.asyncProperty(cases, async ([name, size]) => {
        const build = CASES[name]
        if (build === undefined) throw new Error(`no case ${name}`)
        await refused(build.call(size))
      }),
      { numRuns: 24 },
    )
  })
})

describe('a body over the body limit', () => {
  const LIMIT = 64 * 1024
  const SIZE = 1024 * 1024
  const CHUNK = 8 * 1024
  let limited: SyncServer

  beforeAll(async () => {
    limited = await createSyncServer({
      db: ':memory:',
      allowUnauthenticated: true,
      adminKeys: [ADMIN],
      tokenSecret: 'fuzz',
      bodyLimit: LIMIT,
      onError: (error) => unexpected.push(error),
      streamSink: { put: async () => {} },
    })
    // An identity of this server, whose bearer token every route below is sent with: the body
    // limit applies once the headers have authenticated the request.
    const call = async (target: string, body: object) =>
      (await (
        await limited.fetch(
          new Request(`http://${HOST}/`, {
            method: 'POST',
            headers: { 'x-amz-target': `AWSCognitoIdentityService.${target}` },
            body: JSON.stringify(body),
          }),
        )
      ).json()) as Record<string, unknown>
    const { IdentityId } = await call('GetId', { IdentityPoolId: POOL })
    const { Credentials } = (await call('GetCredentialsForIdentity', { IdentityId })) as {
      Credentials: { SessionToken: string }
    }
    owner = { identityId: String(IdentityId), bearer: `Bearer ${Credentials.SessionToken}` }
  })
  afterAll(async () => {
    await limited?.close()
  })
  let owner: { identityId: string; bearer: string }

  /** A body of `size` bytes that counts what the server pulls and whether it let go. */
  function countingBody(size: number) {
    const seen = { pulled: 0, cancelled: false }
    // No high-water mark: nothing is pulled before the server reads.
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (seen.pulled >= size) {
            controller.close()
            return
          }
          const length = Math.min(CHUNK, size - seen.pulled)
          seen.pulled += length
          controller.enqueue(new Uint8Array(length).fill(0x20))
        },
        cancel() {
          seen.cancelled = true
        },
      },
      { highWaterMark: 0 },
    )
    return { stream, seen }
  }

  function streamed(method: string, path: string, size: number, headers: Record<string, string>) {
    const { stream, seen } = countingBody(size)
    // `duplex` is required for a stream body but missing from the DOM typings.
    const init: RequestInit & { duplex: 'half' } = {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: stream,
      duplex: 'half',
    }
    return { request: new Request(`http://${HOST}${path}`, init), seen }
  }

  /** Every route of the API that reads a body, on the owner's path, with its bearer token. */
  const apiBodyRoutes = () => {
    const slots: Record<Slot, string> = {
      ':pool': enc(POOL),
      ':identity': enc(owner.identityId),
      ':dataset': 'settings',
      ':device': 'device',
    }
    return TEMPLATES.flatMap((template) =>
      template.methods
        .filter((method) => method !== 'GET')
        .map((method) => ({
          method,
          path: fill(template.segments, slots),
          headers: { authorization: owner.bearer } as Record<string, string>,
        })),
    )
  }
  /** Those, and Cognito Identity's unauthenticated `POST /`. */
  const bodyRoutes = () => [
    { method: 'POST', path: '/', headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' } },
    ...apiBodyRoutes(),
  ]

  it('is refused with 403 before a byte of it is read when the headers do not authenticate the request', async () => {
    const unauthenticated: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer not-a-token' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request' },
      {
        authorization: `AWS4-HMAC-SHA256 Credential=${ADMIN.accessKeyId}/20000101/us-east-1/cognito-sync/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
        'x-amz-date': '20000101T000000Z',
      },
    ]
    for (const route of apiBodyRoutes()) {
      for (const headers of unauthenticated) {
        for (const declared of [String(SIZE), undefined]) {
          const { request, seen } = streamed(route.method, route.path, SIZE, {
            ...headers,
            ...(declared === undefined ? {} : { 'content-length': declared }),
          })
          await expectRefused(await limited.fetch(request), ['NotAuthorizedException'])
          expect(seen.pulled, `${route.method} ${route.path} ${JSON.stringify(headers)}`).toBe(0)
        }
      }
    }
  })

  it('is refused with 413 before it is read when its length is declared', async () => {
    for (const route of bodyRoutes()) {
      const { request, seen } = streamed(route.method, route.path, SIZE, {
        ...route.headers,
        'content-length': String(SIZE),
      })
      await expectRefused(await limited.fetch(request), ['RequestEntityTooLargeException'])
      expect(seen.pulled, `${route.method} ${route.path}`).toBe(0)
    }
  })

  it('is refused with 413 once it passes the limit when its length is not declared or understated', async () => {
    for (const route of bodyRoutes()) {
      for (const declared of [undefined, '100', String(LIMIT)]) {
        const { request, seen } = streamed(route.method, route.path, SIZE, {
          ...route.headers,
          ...(declared === undefined ? {} : { 'content-length': declared }),
        })
        await expectRefused(await limited.fetch(request), ['RequestEntityTooLargeException'])
        // The server stops at the first chunk past the limit and lets the stream go.
        expect(seen.pulled, `${route.method} ${route.path}`).toBeLessThanOrEqual(LIMIT + CHUNK)
        expect(seen.cancelled).toBe(true)
      }
    }
  })

  it('is read in full up to exactly the limit', async () => {
    const atLimit = streamed('POST', '/', LIMIT, { 'x-amz-target': 'AWSCognitoIdentityService.GetId' })
    // All blanks: read whole, parsed as no body, refused for what it lacks rather than its size.
    await expectRefused(await limited.fetch(atLimit.request), ['InvalidParameterException'])
    expect(atLimit.seen.pulled).toBe(LIMIT)
    const over = streamed('POST', '/', LIMIT + 1, { 'x-amz-target': 'AWSCognitoIdentityService.GetId' })
    await expectRefused(await limited.fetch(over.request), ['RequestEntityTooLargeException'])
  })
})

describe('Cognito Identity (POST /)', () => {
  it('refuses unknown targets, malformed bodies and bad members without creating identities', async () => {
    const TARGETS = ['AWSCognitoIdentityService.GetId', 'AWSCognitoIdentityService.GetCredentialsForIdentity']
    const badTarget = fc.oneof(
      fc.constantFrom(
        undefined,
        '',
        'AWSCognitoIdentityService.',
        'AWSCognitoIdentityService.getid',
        'AWSCognitoIdentityService.GetOpenIdToken',
        'AWSCognitoIdentityService.GetIdX',
        'AWSCognitoIdentityService.GetId.GetId',
        'AWSCognitoSyncService.ListRecords',
        'GetId',
        'awscognitoidentityservice.GetId',
        'AWSCognitoIdentityService GetId',
      ),
      fc.string({ maxLength: 60 }).filter((target) => !TARGETS.includes(target.trim())),
    )
    const getIdBase = { IdentityPoolId: POOL }
    const logins = fc.oneof(
      anyBut('object', 'null'),
      fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 12 }),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.constant('token'), { minKeys: 11, maxKeys: 20 }),
    )
    const getIdFields: Field[] = [
      {
        path: ['IdentityPoolId'],
        bad: fc.oneof(
          fc.constantFrom(REMOVE, ''),
          anyBut('string'),
          malformedIds().filter((id) => !isValidId(id)),
        ),
      },
      {
        path: ['AccountId'],
        bad: fc.oneof(
          anyBut('string'),
          fc.string({ maxLength: 20 }).filter((id) => !/^\d{1,15}$/.test(id)),
          fc.constant('1'.repeat(16)),
        ),
      },
      { path: ['Logins'], bad: logins },
    ]
    const credentialsFields: Field[] = [
      {
        path: ['IdentityId'],
        bad: fc.oneof(
          fc.constantFrom(REMOVE, ''),
          anyBut('string'),
          malformedIds().filter((id) => !isValidId(id)),
          strangerIds('us-east-1'),
        ),
      },
      { path: ['CustomRoleArn'], bad: anyBut('string') },
      { path: ['Logins'], bad: logins },
    ]
    const request = fc.oneof(
      fc.tuple(
        badTarget,
        fc.oneof(fc.constant(JSON.stringify(getIdBase)), malformedBody(getIdBase, ['IdentityPoolId'])),
      ),
      fc.tuple(
        fc.constant(TARGETS[0]),
        fc.oneof(wrongField(getIdBase, getIdFields), malformedBody(getIdBase, ['IdentityPoolId'])),
      ),
      fc.tuple(
        fc.constant(TARGETS[1]),
        fc.oneof(
          wrongField({ IdentityId: alice.identityId }, credentialsFields),
          malformedBody({ IdentityId: alice.identityId }, ['IdentityId']),
        ),
      ),
    )
    await fc.assert(
      fc.asyncProperty(request, fc.option(badAuth(), { nil: undefined }), async ([target, body], auth) => {
        await refused({
          method: 'POST',
          path: '/',
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            ...(target === undefined ? {} : { 'x-amz-target': target }),
          },
          body,
          auth: auth ?? { kind: 'none' },
        })
      }),
    )
  })

  it('has no other method', async () => {
    for (const method of ['GET', 'DELETE', 'PUT', 'PATCH']) {
      await refused(
        {
          method,
          path: '/',
          headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
          ...(method === 'GET' ? {} : { body: JSON.stringify({ IdentityPoolId: POOL }) }),
          auth: { kind: 'none' },
        },
        ['UnknownOperationException'],
      )
    }
  })
})

/**
 * Last, because it changes the data the rest relies on: the requests the properties start from are
 * valid as they are, so the refusals above were caused by what the properties changed.
 */
describe('the unaltered requests the properties start from', () => {
  it('are accepted, and their writes are seen', async () => {
    const accepted = async (call: Call) => {
      const writesBefore = writeLog.committed.length
      const body = await okJson(await send(call))
      expect(writeLog.committed.length).toBeGreaterThan(writesBefore)
      return body
    }
    const post = (name: string, auth: Auth) => ({
      method: 'POST',
      path: fill(templateNamed(name).segments, aliceSlots()),
      body: validBody(templateNamed(name), 'POST') ?? '',
      auth,
    })

    expect((await accepted(post('device', signedAs(alice)))).DeviceId).toEqual(expect.any(String))
    await accepted(post('events', asAdmin))
    expect(await accepted(post('configuration', asAdmin))).toEqual({
      IdentityPoolId: POOL,
      ...BASES.setIdentityPoolConfiguration(),
    })
    const update = await accepted(post('dataset', bearerOf(alice)))
    expect(update.Records).toEqual([
      expect.objectContaining({ Key: 'color', Value: 'plum', SyncCount: 3 }),
      expect.objectContaining({ Key: 'size', SyncCount: 3 }),
    ])
    expect((update.Records as object[])[1]).not.toHaveProperty('Value')
    const merged = await accepted(post('merge', asAdmin))
    expect(merged.MergedDatasetNames).toEqual([`secrets.${bob.identityId}`])
    await accepted({ method: 'DELETE', path: datasetPath(alice, 'settings'), auth: signedAs(alice) })
  })
})
