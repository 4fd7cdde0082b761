import type { LogLevel } from '../ops/logger.js'
import type { ThrottleOptions } from '../ops/throttle.js'
import type { FcmSenderOptions } from '../push/senders/fcm.js'
import type { SyncServerOptions } from '../server.js'
import { createNdjsonStreamSink } from '../streams/sink.js'
import type { Settings } from './schema.js'

/** What the command starts from checked settings: the server's options, where it listens, how it logs. */
export interface ServerPlan {
  /** Everything `createSyncServer` takes from the settings (the logger is the command's to make). */
  readonly options: SyncServerOptions
  readonly port: number
  readonly host: string
  readonly logLevel: LogLevel
  /** The metrics listener, when `--metrics-port` is set. */
  readonly metrics: { readonly port: number; readonly host: string } | undefined
}

export function planServer(settings: Settings): ServerPlan {
  const { vapid, apns, fcm, bearerJwt, throttle } = settings
  const webPush =
    vapid.subject !== undefined && vapid.publicKey !== undefined && vapid.privateKey !== undefined
      ? { vapid: { subject: vapid.subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey } }
      : undefined
  const apnsOptions =
    apns.keyFile !== undefined &&
    apns.keyId !== undefined &&
    apns.teamId !== undefined &&
    apns.bundleId !== undefined
      ? { privateKey: apns.keyFile, keyId: apns.keyId, teamId: apns.teamId, bundleId: apns.bundleId }
      : undefined
  const fcmOptions =
    fcm.serviceAccountFile === undefined
      ? undefined
      : { serviceAccount: JSON.parse(fcm.serviceAccountFile) as FcmSenderOptions['serviceAccount'] }
  const jwt =
    bearerJwt.issuer === undefined
      ? undefined
      : {
          issuer: bearerJwt.issuer,
          ...(bearerJwt.audience === undefined ? {} : { audience: bearerJwt.audience }),
          ...(bearerJwt.secret === undefined ? {} : { secret: bearerJwt.secret }),
          ...(bearerJwt.jwksUrl === undefined ? {} : { jwksUrl: bearerJwt.jwksUrl }),
        }
  const throttleOptions: ThrottleOptions = {
    guestGetId: throttle.guestRate === 0 ? false : { rate: throttle.guestRate, burst: throttle.guestBurst },
    identity:
      throttle.identityRate === 0 ? false : { rate: throttle.identityRate, burst: throttle.identityBurst },
    maxKeys: throttle.maxKeys,
  }
  const options: SyncServerOptions = {
    db: settings.db,
    allowUnauthenticated: settings.allowUnauthenticated,
    adminKeys: settings.adminKeys,
    ...(settings.tokenSecret === undefined ? {} : { tokenSecret: settings.tokenSecret }),
    ...(settings.corsOrigins.length === 0 ? {} : { corsOrigins: settings.corsOrigins }),
    ...(settings.logins.length === 0 ? {} : { logins: settings.logins.map(withoutUndefined) }),
    ...(jwt === undefined ? {} : { bearerJwt: jwt }),
    limits: settings.limits,
    bodyLimit: settings.bodyLimit,
    maxBufferedBytes: settings.maxBufferedBytes,
    maxConnections: settings.maxConnections,
    headersTimeoutMs: settings.headersTimeoutMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    outbound: settings.outbound,
    sseHeartbeatMs: settings.sseHeartbeatMs,
    ...(webPush === undefined ? {} : { webPush }),
    ...(apnsOptions === undefined ? {} : { apns: apnsOptions }),
    ...(fcmOptions === undefined ? {} : { fcm: fcmOptions }),
    push: { ttlMs: settings.push.ttlMs },
    throttle: throttleOptions,
    trustProxy: settings.trustProxy,
    metrics: settings.metrics.port !== undefined,
    ...(settings.aws.disabled ? {} : { aws: { requestTimeoutMs: settings.aws.requestTimeoutMs } }),
    ...(settings.aws.streamsDir === undefined
      ? {}
      : { streamSink: createNdjsonStreamSink(settings.aws.streamsDir) }),
  }
  return {
    options,
    port: settings.port,
    host: settings.host,
    logLevel: settings.logLevel,
    metrics:
      settings.metrics.port === undefined
        ? undefined
        : { port: settings.metrics.port, host: settings.metrics.host ?? settings.host },
  }
}

/** The object without its undefined fields: zod's optional output has them, the options must not. */
function withoutUndefined<T extends object>(object: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>
  }
}
