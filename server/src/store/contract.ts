import type { Platform, RemoteRecord } from 'pushsync/core'

/**
 * The server's store port. Two implementations, memory and SQL (SQLite and PostgreSQL share one
 * through a small dialect), pass one conformance suite, so the operations above it never know which
 * one runs.
 *
 * Everything happens inside `transaction(fn)`: the callback's changes commit when its promise
 * resolves and roll back when it rejects. Transactions that name the same identity in `lock` never
 * overlap (PostgreSQL takes an advisory lock; memory and SQLite run one transaction at a time), so
 * an UpdateRecords can read a dataset's counter and write the next one without a race. Nothing an
 * UpdateRecords does locks more than its identity: transactions of different identities never wait
 * for each other on PostgreSQL.
 *
 * Rows are plain objects; times are epoch milliseconds; `null` means absent on the wire.
 */
export interface SyncStore {
  readonly kind: 'memory' | 'sqlite' | 'postgres'
  transaction<T>(fn: (tx: StoreTx) => Promise<T>, options?: TransactionOptions): Promise<T>
  close(): Promise<void>
  /**
   * Carries messages between the server processes sharing this store (PostgreSQL's LISTEN/NOTIFY),
   * so a change committed through one process reaches the live connections of all. Absent for
   * stores only one process uses.
   */
  readonly bus?: StoreBus
  /**
   * Whether the store can serve requests now, for readiness probes: one cheap look at the database
   * (outside any transaction, taking no lock) that also finds its schema at this code's version,
   * and, for a store with a bus that has subscribers, whether the bus listens. Never throws.
   */
  readiness(): Promise<StoreReadiness>
}

/** What {@link SyncStore.readiness} found: ready, or a short reason fit for a probe's answer. */
export type StoreReadiness = { readonly ready: true } | { readonly ready: false; readonly reason: string }

/** Messages between the processes sharing a store; delivery is best effort, at most once. */
export interface StoreBus {
  /** Sends `message` to every other process's subscribers; never throws. */
  publish(message: string): void
  /** Calls `listener` with each message another process published; returns the function that stops it. */
  subscribe(listener: (message: string) => void): () => void
  /** Settles once the first subscription listens (or its first attempt failed; it keeps retrying). */
  listening(): Promise<void>
}

export interface TransactionOptions {
  /**
   * The identity (or identities) whose data the transaction changes; serialises writers of one
   * identity. A transaction changing two identities (a merge) names both.
   */
  readonly lock?: string | readonly string[]
}

export interface IdentityRow {
  readonly identityId: string
  readonly identityPoolId: string
  readonly createdAt: number
  /** Set when an admin merged this identity into another; it then owns nothing. */
  readonly mergedInto: string | null
}

export interface LoginRow {
  readonly identityPoolId: string
  /** The login provider (a JWT issuer, or a provider name). */
  readonly provider: string
  /** The user at that provider (a JWT `sub`). */
  readonly subject: string
  readonly identityId: string
}

/**
 * A dataset of one identity. The row outlives DeleteDataset (`exists: false`) so that the counter
 * never resets: a re-created dataset continues from its old sync count.
 */
export interface DatasetRow {
  readonly identityPoolId: string
  readonly identityId: string
  readonly name: string
  /** The dataset's sync count: rises by one per accepted UpdateRecords, never falls. */
  readonly syncCount: number
  readonly exists: boolean
  /** The sync count the dataset had when it was last deleted; 0 when never deleted. */
  readonly deletedAtSyncCount: number
  readonly creationDate: number
  readonly lastModifiedDate: number
  readonly lastModifiedBy: string | null
  /** Live (non-tombstone) records. */
  readonly numRecords: number
  /** UTF-8 bytes of the keys and values of the live records. */
  readonly dataStorage: number
  /** For a dataset merged in from another identity (`NAME.OLDID`): `NAME`, the dataset it reports to. */
  readonly mergedInto: string | null
}

/** A record as the server holds it: the core's `RemoteRecord`; a `null` value is a tombstone. */
export type RecordRow = RemoteRecord

export interface RecordCursor {
  readonly syncCount: number
  readonly key: string
}

export interface ListRecordsQuery {
  /** Only records with a sync count above this one. */
  readonly afterSyncCount: number
  /** Continue after this record (a page's last one), in the (syncCount, key) order. */
  readonly after?: RecordCursor
  readonly limit?: number
}

export interface ListDatasetsQuery {
  /** Continue after this name, in name order. */
  readonly afterName?: string
  readonly limit?: number
}

/** The core's push platforms: Cognito's four and `WEBPUSH`. */
export type DevicePlatform = Platform

export interface DeviceRow {
  readonly deviceId: string
  readonly identityPoolId: string
  readonly identityId: string
  readonly platform: DevicePlatform
  readonly token: string
  readonly createdAt: number
}

export interface PoolRow {
  readonly identityPoolId: string
  /** The PushSync and CognitoStreams settings and the Cognito events, as JSON text. */
  readonly pushSync: string | null
  readonly cognitoStreams: string | null
  readonly events: string | null
  readonly bulkPublishStatus: 'NOT_STARTED' | 'IN_PROGRESS' | 'FAILED' | 'SUCCEEDED'
  readonly bulkPublishStartTime: number | null
  readonly bulkPublishCompleteTime: number | null
  readonly bulkPublishFailureMessage: string | null
}

export interface UsageRow {
  readonly datasetCount: number
  readonly dataStorage: number
  /** Latest lastModifiedDate of the datasets; null when there are none. */
  readonly lastModifiedDate: number | null
}

/**
 * A push waiting to be delivered to one device: the latest change of one dataset. There is at most
 * one row per (deviceId, datasetName), so changes that pile up while a device is unreachable
 * coalesce into one push of the highest sync count.
 */
export interface OutboxRow {
  readonly deviceId: string
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  readonly syncCount: number
  /** Delivery attempts made so far. */
  readonly attempts: number
  /** The row is not due before this time. */
  readonly notBefore: number
  /** Past this time the push is dropped instead of retried. */
  readonly expiresAt: number
  /**
   * When the row's first change was queued. A newer change of the dataset replacing the row keeps
   * the earlier time: the device has been owed a push since then, which is what the outbox's age
   * reports.
   */
  readonly queuedAt: number
}

/**
 * The Amazon SNS platform endpoint made for a device, under the platform application its pool named:
 * made on the first push through SNS and reused after, so a device has one endpoint however many
 * pushes it gets. It goes with the device.
 */
export interface PushEndpointRow {
  readonly deviceId: string
  readonly applicationArn: string
  readonly endpointArn: string
}

/**
 * A Cognito Streams record waiting for its pool's stream, written in the transaction of the change
 * it tells of. Rows of one identity go out one after another, in `id` order: the order their
 * changes committed in.
 */
export interface StreamOutboxRow {
  /** Given by the store, rising with each row. */
  readonly id: number
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  readonly syncCount: number
  /** The record as the stream receives it: JSON text. */
  readonly payload: string
  readonly attempts: number
  readonly notBefore: number
  /** Past this time the record is dropped instead of retried. */
  readonly expiresAt: number
  readonly queuedAt: number
}

export type NewStreamOutboxRow = Omit<StreamOutboxRow, 'id'>

/** How often, at most, a store drops the records of expired session tokens. */
export const SPENT_SESSION_PRUNE_INTERVAL_MS = 10_000

/** How soon a process looks again at outbox rows another live process holds. */
export const OUTBOX_CLAIM_RECHECK_MS = 1000

/** The outbox at a glance, for metrics. */
export interface OutboxSummary {
  readonly rows: number
  /** The earliest `queuedAt` of any row; undefined when the outbox is empty. */
  readonly oldestQueuedAt: number | undefined
}

/** Reads of rows shared by many identities, made to be written back. */
export interface ForUpdate {
  /**
   * Hold the row's name until the transaction ends (PostgreSQL: an advisory lock), so that a
   * read-modify-write of it by another transaction waits rather than being lost. Default false: a
   * plain read, which waits for nobody.
   */
  readonly forUpdate?: boolean
}

export interface StoreTx {
  getSetting(name: string, options?: ForUpdate): Promise<string | undefined>
  putSetting(name: string, value: string): Promise<void>

  getIdentity(identityId: string): Promise<IdentityRow | undefined>
  putIdentity(row: IdentityRow): Promise<void>
  findLogin(identityPoolId: string, provider: string, subject: string): Promise<LoginRow | undefined>
  putLogin(row: LoginRow): Promise<void>
  /** Whether any identity belongs to the pool. */
  poolHasIdentities(identityPoolId: string): Promise<boolean>
  /** Pool ids with at least one identity, in order, for ListIdentityPoolUsage. */
  listPoolIds(query: { readonly afterPoolId?: string; readonly limit?: number }): Promise<string[]>

  getDataset(identityId: string, name: string): Promise<DatasetRow | undefined>
  /** Existing datasets of the identity (`exists: true`), in name order. */
  listDatasets(identityId: string, query?: ListDatasetsQuery): Promise<DatasetRow[]>
  /** Creates or replaces the row of (`identityId`, `name`). */
  putDataset(row: DatasetRow): Promise<void>
  /** Existing datasets of every identity of a pool, in (identityId, name) order, for bulk publish. */
  listPoolDatasets(
    identityPoolId: string,
    query: {
      readonly after?: { readonly identityId: string; readonly name: string }
      readonly limit?: number
    },
  ): Promise<DatasetRow[]>
  /** Existing datasets with `mergedInto` equal to `name`, in name order. */
  listMergedDatasetNames(identityId: string, name: string): Promise<string[]>
  /** Sums over the existing datasets of one identity, or of every identity of a pool. */
  identityUsage(identityId: string): Promise<UsageRow>
  poolUsage(identityPoolId: string): Promise<UsageRow>

  /** The rows of these keys that exist (tombstones included), in no particular order. */
  getRecords(identityId: string, dataset: string, keys: readonly string[]): Promise<RecordRow[]>
  /** Records (tombstones included) in (syncCount, key) order. */
  listRecords(identityId: string, dataset: string, query: ListRecordsQuery): Promise<RecordRow[]>
  /** Creates or replaces records. */
  putRecords(identityId: string, dataset: string, rows: readonly RecordRow[]): Promise<void>
  /** Removes every record of the dataset, tombstones included. */
  deleteAllRecords(identityId: string, dataset: string): Promise<void>
  /** Moves a dataset's records to another identity and name (identity merge). */
  moveRecords(
    from: { identityId: string; dataset: string },
    to: { identityId: string; dataset: string },
  ): Promise<void>

  getDevice(deviceId: string): Promise<DeviceRow | undefined>
  findDevice(identityId: string, platform: DevicePlatform, token: string): Promise<DeviceRow | undefined>
  putDevice(row: DeviceRow): Promise<void>
  /** Removes the device and its subscriptions. */
  deleteDevice(deviceId: string): Promise<void>
  putSubscription(identityId: string, dataset: string, deviceId: string): Promise<void>
  /** Returns whether there was such a subscription. */
  deleteSubscription(identityId: string, dataset: string, deviceId: string): Promise<boolean>
  /** Devices subscribed to the dataset, in deviceId order. */
  listSubscribedDevices(identityId: string, dataset: string): Promise<DeviceRow[]>

  /** Whether a SyncSessionToken (by its id) was spent by a successful UpdateRecords. */
  isSessionSpent(tokenId: string): Promise<boolean>
  /** Marks a token spent until it would have expired anyway. */
  spendSession(tokenId: string, expiresAt: number): Promise<void>
  /**
   * Drops the records of tokens that expired before `now` (one expiring exactly at `now` is kept),
   * which no check needs any more; resolves with how many went. Run apart from the writes, now and
   * then (see {@link SPENT_SESSION_PRUNE_INTERVAL_MS}): never inside an UpdateRecords.
   */
  pruneSpentSessions(now: number): Promise<number>

  getPool(identityPoolId: string, options?: ForUpdate): Promise<PoolRow | undefined>
  /** Creates or replaces a pool's configuration and bulk publish state (its session count is apart). */
  putPool(row: PoolRow): Promise<void>
  /**
   * Counts one accepted UpdateRecords of the identity. The count is kept per identity, so writers
   * of different identities never touch one row: no lock wider than the identity.
   */
  countSyncSession(identityPoolId: string, identityId: string): Promise<void>
  /** The pool's SyncSessionsCount: the accepted UpdateRecords of all its identities. */
  syncSessionsCount(identityPoolId: string): Promise<number>

  /**
   * Adds rows to the outbox. A row replaces the pending one of its (deviceId, datasetName) only when
   * its sync count is higher, so an old change never overwrites a newer one; the replacement keeps
   * the earlier of the two `queuedAt`.
   */
  putOutbox(rows: readonly OutboxRow[]): Promise<void>
  /**
   * Rows with `notBefore <= now`, in (notBefore, deviceId, datasetName) order. A store shared by
   * several processes (PostgreSQL) claims the rows it hands out for this process, and leaves out the
   * rows another live process has claimed until that one deletes or reschedules them, so that one
   * push is not sent twice. A claim lives as long as its process's connection: the rows of a process
   * that died are handed out again at once.
   */
  dueOutbox(now: number, limit: number): Promise<OutboxRow[]>
  /**
   * When to look at the outbox again: the earliest `notBefore` of the rows no other live process
   * holds, or, while another process holds rows, `now` plus {@link OUTBOX_CLAIM_RECHECK_MS} at the
   * latest (a process that dies lets go of its rows at once, and nothing announces it); undefined
   * when the outbox is empty.
   */
  nextOutboxTime(now: number): Promise<number | undefined>
  /** Deletes the row if it still holds `syncCount` (a newer change may have replaced it); returns whether it did. */
  deleteOutbox(deviceId: string, datasetName: string, syncCount: number): Promise<boolean>
  /** Sets attempts and notBefore if the row still holds `syncCount`; returns whether it did. */
  rescheduleOutbox(
    deviceId: string,
    datasetName: string,
    syncCount: number,
    attempts: number,
    notBefore: number,
  ): Promise<boolean>
  countOutbox(): Promise<number>
  /** Row count and oldest `queuedAt` in one read: what a metrics scrape asks for. */
  outboxSummary(): Promise<OutboxSummary>

  getPushEndpoint(deviceId: string): Promise<PushEndpointRow | undefined>
  /** Creates or replaces the device's endpoint. */
  putPushEndpoint(row: PushEndpointRow): Promise<void>
  /** Forgets the device's endpoint if it is still `endpointArn`; returns whether it did. */
  deletePushEndpoint(deviceId: string, endpointArn: string): Promise<boolean>

  /** Appends stream records, in the order given. */
  putStreamOutbox(rows: readonly NewStreamOutboxRow[]): Promise<void>
  /**
   * The oldest row of each identity, when it is due (`notBefore <= now`), in `id` order: a later row
   * of an identity waits for the ones before it, so a stream receives an identity's changes in the
   * order they committed. Claimed for this process like {@link StoreTx.dueOutbox}.
   */
  dueStreamOutbox(now: number, limit: number): Promise<StreamOutboxRow[]>
  /** When to look again: the earliest `notBefore` of the rows {@link dueStreamOutbox} could hand out. */
  nextStreamOutboxTime(now: number): Promise<number | undefined>
  deleteStreamOutbox(id: number): Promise<boolean>
  rescheduleStreamOutbox(id: number, attempts: number, notBefore: number): Promise<boolean>
  countStreamOutbox(): Promise<number>
}
