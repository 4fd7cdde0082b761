/**
 * A self-hostable server that speaks the Cognito Sync API (and Cognito Identity's GetId and
 * GetCredentialsForIdentity), so apps built on Cognito Sync work against it by changing the endpoint.
 *
 * @module @pushsync/server
 */
export type { Principal } from './auth/principal.js'
export { CognitoError, type CognitoErrorType } from './errors.js'
export type { SiteHandler } from './http/app.js'
export { createLogger, type LogLevel, type ServerLogger } from './ops/logger.js'
export { DEFAULT_THROTTLE, type ThrottleOptions, type TokenBucketSettings } from './ops/throttle.js'
export type { DatasetChange } from './push/change.js'
export type { PushMessage, PushSender, SendOutcome } from './push/sender.js'
export { type ApnsSenderOptions, createApnsSender } from './push/senders/apns.js'
export { createFcmSender, type FcmSenderOptions } from './push/senders/fcm.js'
export { createWebPushSender, generateVapidKeys, type VapidKeys } from './push/senders/webpush.js'
export { createSyncServer, type ListeningAddress, type SyncServer, type SyncServerOptions } from './server.js'
export type { StoreReadiness, SyncStore } from './store/contract.js'
export { createMemoryStore } from './store/memory.js'
export { openPostgresStore, type PostgresStoreOptions } from './store/postgres.js'
export { openSqliteStore } from './store/sqlite.js'
