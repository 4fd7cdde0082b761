import { createPrivateKey, type KeyObject } from 'node:crypto'
import { DEFAULT_LIMITS } from 'pushsync/core'
import { z } from 'zod'
import { DEFAULT_AWS_TIMEOUT_MS } from '../aws/services.js'
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from '../http/limits.js'
import { LOG_LEVELS } from '../ops/logger.js'
import { DEFAULT_WEB_PUSH_HOSTS } from '../ops/outbound.js'
import { DEFAULT_THROTTLE } from '../ops/throttle.js'
import { DEFAULT_PUSH_TTL_MS } from '../push/outbox.js'
import { DEFAULT_SSE_HEARTBEAT_MS } from '../push/sse-hub.js'
import { decimal, fileContent, flag, integer, keyValues, list, origin, text, url } from './fields.js'

/**
 * Every setting of the command, once: its schema, and where a deployment sets it (a flag, a
 * `PUSHSYNC_*` variable, a field of the `--config` JSON file). The usage text and the documentation's
 * table are generated from here, so neither can miss one.
 */
export interface SettingSource {
  /** The flag without its dashes (`port` is `--port`). */
  readonly flag: string
  /** The flag's value as the usage shows it (`N`, `PATH`); none for a switch. */
  readonly arg?: string
  readonly env: string
  /** The default as the documentation shows it; none when the setting is off or empty by default. */
  readonly default?: string
  /** One line: what the setting does. */
  readonly help: string
  /** The flag may be given several times; the variable separates entries with `separator`. */
  readonly repeatable?: boolean
  /** Default `,`. */
  readonly separator?: string
  /** Where the usage and the documentation group it. */
  readonly group: SettingGroup
}

export type SettingGroup = 'Server' | 'Sign-in' | 'Push delivery' | 'AWS' | 'Operations'

export const sources = z.registry<SettingSource>()

const bucketRate = (what: string) => decimal(0, `a number of ${what} per second, 0 to turn it off`)
/** The PEM's key, or undefined when it holds none. */
const privateKey = (pem: string): KeyObject | undefined => {
  try {
    return createPrivateKey(pem)
  } catch {
    return undefined
  }
}

const apnsKey = (content: string): string | undefined => {
  const key = privateKey(content)
  return key?.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
    ? undefined
    : 'is not an APNs .p8 key (a PKCS#8 PEM of a P-256 key)'
}

const adminKey = z.preprocess(
  (value, ctx) => {
    if (typeof value !== 'string') return value
    const colon = value.indexOf(':')
    if (colon > 0 && colon < value.length - 1)
      return { accessKeyId: value.slice(0, colon), secretAccessKey: value.slice(colon + 1) }
    // The value is not repeated: it may be the secret itself.
    ctx.addIssue({ code: 'custom', message: 'must be AKID:SECRET (a key id, a colon, the secret)' })
    return z.NEVER
  },
  z.strictObject(
    { accessKeyId: text(), secretAccessKey: text() },
    { error: 'must be AKID:SECRET, or an object with accessKeyId and secretAccessKey' },
  ),
)

const login = keyValues(
  z
    .strictObject(
      {
        provider: text().max(128, { error: 'must be at most 128 characters' }),
        secret: text().optional(),
        jwksUrl: url(['https:', 'http:']).optional(),
        issuer: text().optional(),
        audience: text().optional(),
      },
      { error: 'must be an object with provider and secret or jwksUrl' },
    )
    .refine((entry) => entry.secret !== undefined || entry.jwksUrl !== undefined, {
      error: 'needs a secret (HS256) or a jwksUrl',
    }),
  'provider=NAME,jwks-url=URL or secret=SECRET[,issuer=ISS][,audience=AUD]',
)

const serviceAccount = (content: string): string | undefined => {
  let account: unknown
  try {
    account = JSON.parse(content)
  } catch {
    return 'is not JSON'
  }
  const fields = account as Record<string, unknown> | null
  for (const field of ['project_id', 'client_email', 'private_key'])
    if (typeof fields?.[field] !== 'string') return `has no ${field}: not a service account key`
  if (privateKey(String(fields?.private_key))?.asymmetricKeyType !== 'rsa')
    return 'has a private_key that is not an RSA key'
  return undefined
}

export const settingsSchema = z.strictObject({
  port: integer(0, 65535).default(8787).register(sources, {
    flag: 'port',
    arg: 'N',
    env: 'PUSHSYNC_PORT',
    default: '8787',
    help: 'port to listen on; 0 picks a free one',
    group: 'Server',
  }),
  host: text().default('127.0.0.1').register(sources, {
    flag: 'host',
    arg: 'H',
    env: 'PUSHSYNC_HOST',
    default: '127.0.0.1',
    help: 'address to bind',
    group: 'Server',
  }),
  db: text().default('./pushsync.db').register(sources, {
    flag: 'db',
    arg: 'PATH|:memory:|URL',
    env: 'PUSHSYNC_DB',
    default: './pushsync.db',
    help: 'SQLite database file, :memory:, or a postgres:// URL for PostgreSQL',
    group: 'Server',
  }),
  allowUnauthenticated: flag().default(false).register(sources, {
    flag: 'allow-unauthenticated',
    env: 'PUSHSYNC_ALLOW_UNAUTHENTICATED',
    default: 'off',
    help: 'pools accept identities without logins (guests)',
    group: 'Server',
  }),
  adminKeys: list(adminKey).default([]).register(sources, {
    flag: 'admin-key',
    arg: 'AKID:SECRET',
    env: 'PUSHSYNC_ADMIN_KEYS',
    default: 'none',
    help: 'developer credentials for admin operations',
    repeatable: true,
    group: 'Server',
  }),
  tokenSecret: text().optional().register(sources, {
    flag: 'token-secret',
    arg: 'SECRET',
    env: 'PUSHSYNC_TOKEN_SECRET',
    default: 'generated once, kept in the database',
    help: 'key for session tokens and issued credentials',
    group: 'Server',
  }),
  corsOrigins: list(origin()).default([]).register(sources, {
    flag: 'cors-origin',
    arg: 'ORIGIN',
    env: 'PUSHSYNC_CORS_ORIGINS',
    default: 'none',
    help: 'let pages of ORIGIN (https://app.example.com, or * for any) call the API from the browser',
    repeatable: true,
    group: 'Server',
  }),
  bodyLimit: integer(1024, 1024 ** 3, '1024 to 1073741824')
    .default(8 * 1024 * 1024)
    .register(sources, {
      flag: 'body-limit',
      arg: 'BYTES',
      env: 'PUSHSYNC_BODY_LIMIT',
      default: '8388608',
      help: 'largest request body; larger ones get 413',
      group: 'Server',
    }),
  maxBufferedBytes: integer(1024 * 1024, 1024 ** 4, '1048576 to 1099511627776')
    .default(DEFAULT_MAX_BUFFERED_BYTES)
    .register(sources, {
      flag: 'max-buffered-bytes',
      arg: 'BYTES',
      env: 'PUSHSYNC_MAX_BUFFERED_BYTES',
      default: String(DEFAULT_MAX_BUFFERED_BYTES),
      help: 'request body bytes held at once across all requests; a body that does not fit gets 429',
      group: 'Server',
    }),
  maxConnections: integer(1, 10_000_000)
    .default(DEFAULT_MAX_CONNECTIONS)
    .register(sources, {
      flag: 'max-connections',
      arg: 'N',
      env: 'PUSHSYNC_MAX_CONNECTIONS',
      default: String(DEFAULT_MAX_CONNECTIONS),
      help: 'connections open at once, event streams included; more are closed on arrival',
      group: 'Server',
    }),
  headersTimeoutMs: integer(1000, 600_000, '1000 to 600000')
    .default(DEFAULT_HEADERS_TIMEOUT_MS)
    .register(sources, {
      flag: 'headers-timeout-ms',
      arg: 'MS',
      env: 'PUSHSYNC_HEADERS_TIMEOUT_MS',
      default: String(DEFAULT_HEADERS_TIMEOUT_MS),
      help: "time a client has to send a request's headers (at most --request-timeout-ms)",
      group: 'Server',
    }),
  requestTimeoutMs: integer(1000, 3_600_000, '1000 to 3600000')
    .default(DEFAULT_REQUEST_TIMEOUT_MS)
    .register(sources, {
      flag: 'request-timeout-ms',
      arg: 'MS',
      env: 'PUSHSYNC_REQUEST_TIMEOUT_MS',
      default: String(DEFAULT_REQUEST_TIMEOUT_MS),
      help: 'time a client has to send a whole request, body included; then 408',
      group: 'Server',
    }),
  sseHeartbeatMs: integer(1000, 3_600_000, '1000 to 3600000')
    .default(DEFAULT_SSE_HEARTBEAT_MS)
    .register(sources, {
      flag: 'sse-heartbeat-ms',
      arg: 'MS',
      env: 'PUSHSYNC_SSE_HEARTBEAT_MS',
      default: String(DEFAULT_SSE_HEARTBEAT_MS),
      help: 'interval of the keep-alive comments on idle event streams',
      group: 'Server',
    }),

  limits: z
    .strictObject({
      maxDatasetsPerIdentity: integer(1, 1_000_000)
        .default(DEFAULT_LIMITS.maxDatasetsPerIdentity)
        .register(sources, {
          flag: 'max-datasets-per-identity',
          arg: 'N',
          env: 'PUSHSYNC_MAX_DATASETS_PER_IDENTITY',
          default: String(DEFAULT_LIMITS.maxDatasetsPerIdentity),
          help: "datasets an identity may have (Cognito's quota; raise the clients' limits to match)",
          group: 'Server',
        }),
      maxRecordsPerDataset: integer(1, 1_000_000)
        .default(DEFAULT_LIMITS.maxRecordsPerDataset)
        .register(sources, {
          flag: 'max-records-per-dataset',
          arg: 'N',
          env: 'PUSHSYNC_MAX_RECORDS_PER_DATASET',
          default: String(DEFAULT_LIMITS.maxRecordsPerDataset),
          help: "live records a dataset may hold (Cognito's quota)",
          group: 'Server',
        }),
      maxDatasetBytes: integer(1024, 1024 ** 3, '1024 to 1073741824')
        .default(DEFAULT_LIMITS.maxDatasetBytes)
        .register(sources, {
          flag: 'max-dataset-bytes',
          arg: 'BYTES',
          env: 'PUSHSYNC_MAX_DATASET_BYTES',
          default: String(DEFAULT_LIMITS.maxDatasetBytes),
          help: "UTF-8 bytes of a dataset's keys and values (Cognito's quota)",
          group: 'Server',
        }),
    })
    .default({
      maxDatasetsPerIdentity: DEFAULT_LIMITS.maxDatasetsPerIdentity,
      maxRecordsPerDataset: DEFAULT_LIMITS.maxRecordsPerDataset,
      maxDatasetBytes: DEFAULT_LIMITS.maxDatasetBytes,
    }),

  logins: list(login)
    .default([])
    .refine((entries) => new Set(entries.map((entry) => entry.provider)).size === entries.length, {
      error: 'names a provider twice',
    })
    .register(sources, {
      flag: 'login',
      arg: 'SPEC',
      env: 'PUSHSYNC_LOGINS',
      default: 'none',
      help: 'a login provider whose JWTs GetId accepts in Logins: provider=NAME,jwks-url=URL or secret=SECRET[,issuer=ISS][,audience=AUD]',
      repeatable: true,
      separator: ';',
      group: 'Sign-in',
    }),
  bearerJwt: z
    .strictObject({
      issuer: text().optional().register(sources, {
        flag: 'bearer-jwt-issuer',
        arg: 'ISS',
        env: 'PUSHSYNC_BEARER_JWT_ISSUER',
        help: 'accept JWTs of this issuer as Authorization: Bearer (with identityPoolId and identityId claims)',
        group: 'Sign-in',
      }),
      audience: text().optional().register(sources, {
        flag: 'bearer-jwt-audience',
        arg: 'AUD',
        env: 'PUSHSYNC_BEARER_JWT_AUDIENCE',
        help: 'required aud claim of bearer JWTs',
        group: 'Sign-in',
      }),
      secret: text().optional().register(sources, {
        flag: 'bearer-jwt-secret',
        arg: 'SECRET',
        env: 'PUSHSYNC_BEARER_JWT_SECRET',
        help: 'HS256 secret of bearer JWTs',
        group: 'Sign-in',
      }),
      jwksUrl: url(['https:', 'http:']).optional().register(sources, {
        flag: 'bearer-jwt-jwks-url',
        arg: 'URL',
        env: 'PUSHSYNC_BEARER_JWT_JWKS_URL',
        help: 'JWKS of bearer JWTs signed with asymmetric keys',
        group: 'Sign-in',
      }),
    })
    .default({}),

  vapid: z
    .strictObject({
      subject: text().optional().register(sources, {
        flag: 'vapid-subject',
        arg: 'URL',
        env: 'PUSHSYNC_VAPID_SUBJECT',
        help: 'Web Push: the mailto: or https: contact push services see',
        group: 'Push delivery',
      }),
      publicKey: text().optional().register(sources, {
        flag: 'vapid-public-key',
        arg: 'KEY',
        env: 'PUSHSYNC_VAPID_PUBLIC_KEY',
        help: 'Web Push: the VAPID public key (base64url)',
        group: 'Push delivery',
      }),
      privateKey: text().optional().register(sources, {
        flag: 'vapid-private-key',
        arg: 'KEY',
        env: 'PUSHSYNC_VAPID_PRIVATE_KEY',
        help: 'Web Push: the VAPID private key (base64url)',
        group: 'Push delivery',
      }),
    })
    .default({}),
  apns: z
    .strictObject({
      keyFile: fileContent(apnsKey).optional().register(sources, {
        flag: 'apns-key-file',
        arg: 'PATH',
        env: 'PUSHSYNC_APNS_KEY_FILE',
        help: 'APNs: the auth key (.p8)',
        group: 'Push delivery',
      }),
      keyId: text().optional().register(sources, {
        flag: 'apns-key-id',
        arg: 'ID',
        env: 'PUSHSYNC_APNS_KEY_ID',
        help: "APNs: the key's id",
        group: 'Push delivery',
      }),
      teamId: text().optional().register(sources, {
        flag: 'apns-team-id',
        arg: 'ID',
        env: 'PUSHSYNC_APNS_TEAM_ID',
        help: 'APNs: the Apple Developer team id',
        group: 'Push delivery',
      }),
      bundleId: text().optional().register(sources, {
        flag: 'apns-bundle-id',
        arg: 'ID',
        env: 'PUSHSYNC_APNS_BUNDLE_ID',
        help: "APNs: the app's bundle id",
        group: 'Push delivery',
      }),
    })
    .default({}),
  fcm: z
    .strictObject({
      serviceAccountFile: fileContent(serviceAccount).optional().register(sources, {
        flag: 'fcm-service-account-file',
        arg: 'PATH',
        env: 'PUSHSYNC_FCM_SERVICE_ACCOUNT_FILE',
        help: "FCM: the service account's JSON key",
        group: 'Push delivery',
      }),
    })
    .default({}),
  outbound: z
    .strictObject({
      webPushHosts: list(text())
        .default([...DEFAULT_WEB_PUSH_HOSTS])
        .register(sources, {
          flag: 'webpush-host',
          arg: 'HOST',
          env: 'PUSHSYNC_WEBPUSH_HOSTS',
          default: DEFAULT_WEB_PUSH_HOSTS.join(', '),
          help: 'Web Push: a push service host endpoints may name (*.example.com for any name under it; * for any public host)',
          repeatable: true,
          group: 'Push delivery',
        }),
      allowPrivateNetworks: flag().default(false).register(sources, {
        flag: 'allow-private-outbound',
        env: 'PUSHSYNC_ALLOW_PRIVATE_OUTBOUND',
        default: 'off',
        help: 'development only: Web Push endpoints and sync trigger URLs may be http:, on any host, at local and private addresses',
        group: 'Push delivery',
      }),
    })
    .default({ webPushHosts: [...DEFAULT_WEB_PUSH_HOSTS], allowPrivateNetworks: false }),
  push: z
    .strictObject({
      ttlMs: integer(1000, 28 * 24 * 3_600_000, '1000 to 2419200000')
        .default(DEFAULT_PUSH_TTL_MS)
        .register(sources, {
          flag: 'push-ttl-ms',
          arg: 'MS',
          env: 'PUSHSYNC_PUSH_TTL_MS',
          default: `${DEFAULT_PUSH_TTL_MS} (24 h)`,
          help: 'how long an undelivered push is retried before it is dropped',
          group: 'Push delivery',
        }),
    })
    .default({ ttlMs: DEFAULT_PUSH_TTL_MS }),

  aws: z
    .strictObject({
      disabled: flag().default(false).register(sources, {
        flag: 'disable-aws',
        env: 'PUSHSYNC_DISABLE_AWS',
        default: 'off',
        help: "never call AWS: pools' SNS push, Kinesis stream and Lambda trigger settings are kept but unused",
        group: 'AWS',
      }),
      streamsDir: text().optional().register(sources, {
        flag: 'streams-dir',
        arg: 'DIR',
        env: 'PUSHSYNC_STREAMS_DIR',
        default: "the pool's Kinesis stream (./pushsync-streams with --disable-aws)",
        help: 'write Cognito Streams records as NDJSON files under DIR instead of Kinesis',
        group: 'AWS',
      }),
      requestTimeoutMs: integer(1000, 600_000, '1000 to 600000')
        .default(DEFAULT_AWS_TIMEOUT_MS)
        .register(sources, {
          flag: 'aws-request-timeout-ms',
          arg: 'MS',
          env: 'PUSHSYNC_AWS_REQUEST_TIMEOUT_MS',
          default: String(DEFAULT_AWS_TIMEOUT_MS),
          help: 'how long one SNS, STS or Kinesis call may take before it is retried later',
          group: 'AWS',
        }),
    })
    .default({ disabled: false, requestTimeoutMs: DEFAULT_AWS_TIMEOUT_MS }),

  logLevel: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info')
    .register(sources, {
      flag: 'log-level',
      arg: 'LEVEL',
      env: 'PUSHSYNC_LOG_LEVEL',
      default: 'info',
      help: `JSON logs on stderr: ${LOG_LEVELS.join(', ')}`,
      group: 'Operations',
    }),
  metrics: z
    .strictObject({
      port: integer(0, 65535).optional().register(sources, {
        flag: 'metrics-port',
        arg: 'N',
        env: 'PUSHSYNC_METRICS_PORT',
        default: 'off',
        help: 'serve Prometheus metrics at /metrics on this port (never on the API port)',
        group: 'Operations',
      }),
      host: text().optional().register(sources, {
        flag: 'metrics-host',
        arg: 'H',
        env: 'PUSHSYNC_METRICS_HOST',
        default: 'the --host address',
        help: 'address the metrics port binds',
        group: 'Operations',
      }),
    })
    .default({}),
  throttle: z
    .strictObject({
      guestRate: bucketRate('guest identities')
        .default(DEFAULT_THROTTLE.guestGetId.rate)
        .register(sources, {
          flag: 'throttle-guest-rate',
          arg: 'R',
          env: 'PUSHSYNC_THROTTLE_GUEST_RATE',
          default: String(DEFAULT_THROTTLE.guestGetId.rate),
          help: 'GetId without logins per client address, per second; 0 turns it off',
          group: 'Operations',
        }),
      guestBurst: integer(1, 1_000_000)
        .default(DEFAULT_THROTTLE.guestGetId.burst)
        .register(sources, {
          flag: 'throttle-guest-burst',
          arg: 'N',
          env: 'PUSHSYNC_THROTTLE_GUEST_BURST',
          default: String(DEFAULT_THROTTLE.guestGetId.burst),
          help: 'guest GetId calls an address may make at once',
          group: 'Operations',
        }),
      identityRate: bucketRate('requests')
        .default(DEFAULT_THROTTLE.identity.rate)
        .register(sources, {
          flag: 'throttle-identity-rate',
          arg: 'R',
          env: 'PUSHSYNC_THROTTLE_IDENTITY_RATE',
          default: String(DEFAULT_THROTTLE.identity.rate),
          help: 'requests per identity, per second; 0 turns it off',
          group: 'Operations',
        }),
      identityBurst: integer(1, 1_000_000)
        .default(DEFAULT_THROTTLE.identity.burst)
        .register(sources, {
          flag: 'throttle-identity-burst',
          arg: 'N',
          env: 'PUSHSYNC_THROTTLE_IDENTITY_BURST',
          default: String(DEFAULT_THROTTLE.identity.burst),
          help: 'requests an identity may make at once',
          group: 'Operations',
        }),
      maxKeys: integer(1, 100_000_000)
        .default(DEFAULT_THROTTLE.maxKeys)
        .register(sources, {
          flag: 'throttle-max-keys',
          arg: 'N',
          env: 'PUSHSYNC_THROTTLE_MAX_KEYS',
          default: String(DEFAULT_THROTTLE.maxKeys),
          help: 'addresses (and identities) remembered; the least recently seen is forgotten beyond',
          group: 'Operations',
        }),
    })
    .default({
      guestRate: DEFAULT_THROTTLE.guestGetId.rate,
      guestBurst: DEFAULT_THROTTLE.guestGetId.burst,
      identityRate: DEFAULT_THROTTLE.identity.rate,
      identityBurst: DEFAULT_THROTTLE.identity.burst,
      maxKeys: DEFAULT_THROTTLE.maxKeys,
    }),
  trustProxy: flag().default(false).register(sources, {
    flag: 'trust-proxy',
    env: 'PUSHSYNC_TRUST_PROXY',
    default: 'off',
    help: 'behind one reverse proxy: throttle by the last X-Forwarded-For address',
    group: 'Operations',
  }),
})

export type Settings = z.output<typeof settingsSchema>

/** One setting: its path in the config file (`throttle.guestRate`) and its sources. */
export interface Setting extends SettingSource {
  readonly path: readonly string[]
}

/** Every setting of the schema, in its order. */
export function settings(): Setting[] {
  const found: Setting[] = []
  const walk = (shape: Record<string, z.ZodType>, path: readonly string[]) => {
    for (const [key, schema] of Object.entries(shape)) {
      const source = sources.get(schema)
      if (source !== undefined) {
        found.push({ ...source, path: [...path, key] })
        continue
      }
      const inner = unwrapObject(schema)
      if (inner === undefined) throw new Error(`setting ${[...path, key].join('.')} has no sources`)
      walk(inner.shape, [...path, key])
    }
  }
  walk(settingsSchema.shape, [])
  return found
}

/** The object inside `.default(...)`, or undefined for a leaf. */
function unwrapObject(schema: z.ZodType): z.ZodObject | undefined {
  let current: z.ZodType = schema
  while (current instanceof z.ZodDefault || current instanceof z.ZodOptional)
    current = current.unwrap() as z.ZodType
  return current instanceof z.ZodObject ? current : undefined
}
