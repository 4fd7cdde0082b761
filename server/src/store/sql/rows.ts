import type {
  DatasetRow,
  DevicePlatform,
  DeviceRow,
  IdentityRow,
  LoginRow,
  NewStreamOutboxRow,
  OutboxRow,
  PoolRow,
  PushEndpointRow,
  RecordRow,
  StreamOutboxRow,
  UsageRow,
} from '../contract.js'

/**
 * Rows as SQL returns them, and their mapping to the contract's rows, for both dialects. Integers
 * are numbers in SQLite and, past 32 bits, strings in PostgreSQL (`pg` hands BIGINT, COUNT and SUM
 * over as text); every value here is a safe integer, so `Number` reads both. The flag is 1/0 in
 * SQLite and true/false in PostgreSQL.
 */
type Int = number | string

const int = (value: Int): number => (typeof value === 'number' ? value : Number(value))
const intOrNull = (value: Int | null): number | null => (value === null ? null : int(value))
const flag = (value: number | boolean): boolean => value === true || value === 1

export interface IdentitySql {
  identity_id: string
  identity_pool_id: string
  created_at: Int
  merged_into: string | null
}

export interface LoginSql {
  identity_pool_id: string
  provider: string
  subject: string
  identity_id: string
}

export interface DatasetSql {
  identity_id: string
  name: string
  identity_pool_id: string
  sync_count: Int
  dataset_exists: number | boolean
  deleted_at_sync_count: Int
  creation_date: Int
  last_modified_date: Int
  last_modified_by: string | null
  num_records: Int
  data_storage: Int
  merged_into: string | null
}

export interface RecordSql {
  key: string
  value: string | null
  sync_count: Int
  last_modified_date: Int
  last_modified_by: string | null
  device_last_modified_date: Int | null
}

export interface DeviceSql {
  device_id: string
  identity_pool_id: string
  identity_id: string
  platform: string
  token: string
  created_at: Int
}

export interface PoolSql {
  identity_pool_id: string
  push_sync: string | null
  cognito_streams: string | null
  events: string | null
  bulk_publish_status: string
  bulk_publish_start_time: Int | null
  bulk_publish_complete_time: Int | null
  bulk_publish_failure_message: string | null
}

export interface OutboxSql {
  device_id: string
  dataset: string
  identity_pool_id: string
  identity_id: string
  sync_count: Int
  attempts: Int
  not_before: Int
  expires_at: Int
  queued_at: Int
}

export interface UsageSql {
  dataset_count: Int
  data_storage: Int
  last_modified_date: Int | null
}

export const toIdentity = (row: IdentitySql): IdentityRow => ({
  identityId: row.identity_id,
  identityPoolId: row.identity_pool_id,
  createdAt: int(row.created_at),
  mergedInto: row.merged_into,
})

export const identityParams = (row: IdentityRow) => [
  row.identityId,
  row.identityPoolId,
  row.createdAt,
  row.mergedInto,
]

export const toLogin = (row: LoginSql): LoginRow => ({
  identityPoolId: row.identity_pool_id,
  provider: row.provider,
  subject: row.subject,
  identityId: row.identity_id,
})

export const loginParams = (row: LoginRow) => [row.identityPoolId, row.provider, row.subject, row.identityId]

export const toDataset = (row: DatasetSql): DatasetRow => ({
  identityPoolId: row.identity_pool_id,
  identityId: row.identity_id,
  name: row.name,
  syncCount: int(row.sync_count),
  exists: flag(row.dataset_exists),
  deletedAtSyncCount: int(row.deleted_at_sync_count),
  creationDate: int(row.creation_date),
  lastModifiedDate: int(row.last_modified_date),
  lastModifiedBy: row.last_modified_by,
  numRecords: int(row.num_records),
  dataStorage: int(row.data_storage),
  mergedInto: row.merged_into,
})

export const datasetParams = (row: DatasetRow) => [
  row.identityId,
  row.name,
  row.identityPoolId,
  row.syncCount,
  row.exists ? 1 : 0,
  row.deletedAtSyncCount,
  row.creationDate,
  row.lastModifiedDate,
  row.lastModifiedBy,
  row.numRecords,
  row.dataStorage,
  row.mergedInto,
]

export const toRecord = (row: RecordSql): RecordRow => ({
  key: row.key,
  value: row.value,
  syncCount: int(row.sync_count),
  lastModifiedDate: int(row.last_modified_date),
  lastModifiedBy: row.last_modified_by,
  deviceLastModifiedDate: intOrNull(row.device_last_modified_date),
})

export const recordParams = (identityId: string, dataset: string, row: RecordRow) => [
  identityId,
  dataset,
  row.key,
  row.value,
  row.syncCount,
  row.lastModifiedDate,
  row.lastModifiedBy,
  row.deviceLastModifiedDate,
]

export const toDevice = (row: DeviceSql): DeviceRow => ({
  deviceId: row.device_id,
  identityPoolId: row.identity_pool_id,
  identityId: row.identity_id,
  platform: row.platform as DevicePlatform,
  token: row.token,
  createdAt: int(row.created_at),
})

export const deviceParams = (row: DeviceRow) => [
  row.deviceId,
  row.identityPoolId,
  row.identityId,
  row.platform,
  row.token,
  row.createdAt,
]

export const toPool = (row: PoolSql): PoolRow => ({
  identityPoolId: row.identity_pool_id,
  pushSync: row.push_sync,
  cognitoStreams: row.cognito_streams,
  events: row.events,
  bulkPublishStatus: row.bulk_publish_status as PoolRow['bulkPublishStatus'],
  bulkPublishStartTime: intOrNull(row.bulk_publish_start_time),
  bulkPublishCompleteTime: intOrNull(row.bulk_publish_complete_time),
  bulkPublishFailureMessage: row.bulk_publish_failure_message,
})

export const poolParams = (row: PoolRow) => [
  row.identityPoolId,
  row.pushSync,
  row.cognitoStreams,
  row.events,
  row.bulkPublishStatus,
  row.bulkPublishStartTime,
  row.bulkPublishCompleteTime,
  row.bulkPublishFailureMessage,
]

export const toOutbox = (row: OutboxSql): OutboxRow => ({
  deviceId: row.device_id,
  identityPoolId: row.identity_pool_id,
  identityId: row.identity_id,
  datasetName: row.dataset,
  syncCount: int(row.sync_count),
  attempts: int(row.attempts),
  notBefore: int(row.not_before),
  expiresAt: int(row.expires_at),
  queuedAt: int(row.queued_at),
})

export const outboxParams = (row: OutboxRow) => [
  row.deviceId,
  row.datasetName,
  row.identityPoolId,
  row.identityId,
  row.syncCount,
  row.attempts,
  row.notBefore,
  row.expiresAt,
  row.queuedAt,
]

export interface PushEndpointSql {
  device_id: string
  application_arn: string
  endpoint_arn: string
}

export const toPushEndpoint = (row: PushEndpointSql): PushEndpointRow => ({
  deviceId: row.device_id,
  applicationArn: row.application_arn,
  endpointArn: row.endpoint_arn,
})

export const pushEndpointParams = (row: PushEndpointRow) => [
  row.deviceId,
  row.applicationArn,
  row.endpointArn,
]

export interface StreamOutboxSql {
  id: Int
  identity_pool_id: string
  identity_id: string
  dataset: string
  sync_count: Int
  payload: string
  attempts: Int
  not_before: Int
  expires_at: Int
  queued_at: Int
}

export const toStreamOutbox = (row: StreamOutboxSql): StreamOutboxRow => ({
  id: int(row.id),
  identityPoolId: row.identity_pool_id,
  identityId: row.identity_id,
  datasetName: row.dataset,
  syncCount: int(row.sync_count),
  payload: row.payload,
  attempts: int(row.attempts),
  notBefore: int(row.not_before),
  expiresAt: int(row.expires_at),
  queuedAt: int(row.queued_at),
})

export const streamOutboxParams = (row: NewStreamOutboxRow) => [
  row.identityPoolId,
  row.identityId,
  row.datasetName,
  row.syncCount,
  row.payload,
  row.attempts,
  row.notBefore,
  row.expiresAt,
  row.queuedAt,
]

// An aggregate always yields one row; the fallback only satisfies the types.
export const toUsage = (row: UsageSql | undefined): UsageRow => ({
  datasetCount: row === undefined ? 0 : int(row.dataset_count),
  dataStorage: row === undefined ? 0 : int(row.data_storage),
  lastModifiedDate: row === undefined ? null : intOrNull(row.last_modified_date),
})

export { int, intOrNull }
