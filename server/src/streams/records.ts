import type { PoolRow, RecordRow } from '../store/contract.js'
import type { StreamTarget } from './sink.js'

/**
 * Cognito Streams records, as the developer guide shows them: one record per synchronization
 * (every record it wrote) or per dataset of a bulk publish (every record the dataset holds,
 * tombstones included), dates in epoch milliseconds. A dataset's deletion is one record with
 * `operation: "remove"` and no records. Every record of an identity has the identity id as its
 * partition key, so one shard receives an identity's changes in the order they were made.
 */
export interface CognitoStreamRecord {
  readonly identityPoolId: string
  readonly identityId: string
  readonly dataSetName: string
  readonly operation: 'replace' | 'remove'
  readonly kinesisSyncRecords: readonly KinesisSyncRecord[]
  readonly lastModifiedDate: number
  readonly kinesisSyncRecordsURL: null
  readonly payloadType: 'Inline'
  readonly syncCount: number
}

export interface KinesisSyncRecord {
  readonly key: string
  readonly value: string | null
  readonly syncCount: number
  readonly lastModifiedDate: number
  readonly deviceLastModifiedDate: number | null
  readonly op: 'replace' | 'remove'
}

/**
 * Largest record written: Kinesis takes at most 1 MiB of data and partition key together. Cognito
 * handed larger updates over as an S3 URL (`payloadType: "S3Url"`); this server has no bucket, so
 * a larger update goes out as several records, each with part of `kinesisSyncRecords` and the
 * same dataset fields, which consumers read like the duplicates bulk publish already brings.
 */
export const MAX_STREAM_RECORD_BYTES = 1_000_000

export interface DatasetState {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  readonly syncCount: number
  readonly lastModifiedDate: number
}

const syncRecord = (record: RecordRow): KinesisSyncRecord => ({
  key: record.key,
  value: record.value,
  syncCount: record.syncCount,
  lastModifiedDate: record.lastModifiedDate,
  deviceLastModifiedDate: record.deviceLastModifiedDate,
  op: record.value === null ? 'remove' : 'replace',
})

const header = (dataset: DatasetState, operation: 'replace' | 'remove') => ({
  identityPoolId: dataset.identityPoolId,
  identityId: dataset.identityId,
  dataSetName: dataset.datasetName,
  operation,
})

const trailer = (dataset: DatasetState) => ({
  lastModifiedDate: dataset.lastModifiedDate,
  kinesisSyncRecordsURL: null,
  payloadType: 'Inline' as const,
  syncCount: dataset.syncCount,
})

/** The JSON text of the records telling that `records` were written, split to fit a Kinesis record. */
export function replaceRecords(dataset: DatasetState, records: readonly RecordRow[]): string[] {
  const prefix = JSON.stringify(header(dataset, 'replace')).slice(0, -1)
  const suffix = JSON.stringify(trailer(dataset)).slice(1)
  const overhead = Buffer.byteLength(prefix) + Buffer.byteLength(suffix) + ',"kinesisSyncRecords":[],'.length
  const texts: string[] = []
  let part: string[] = []
  let bytes = overhead
  const flush = () => {
    texts.push(`${prefix},"kinesisSyncRecords":[${part.join(',')}],${suffix}`)
    part = []
    bytes = overhead
  }
  for (const record of records) {
    const text = JSON.stringify(syncRecord(record))
    const size = Buffer.byteLength(text) + 1
    if (part.length > 0 && bytes + size > MAX_STREAM_RECORD_BYTES) flush()
    part.push(text)
    bytes += size
  }
  flush()
  return texts
}

/** The JSON text of the record telling that a dataset was deleted. */
export function removeRecord(dataset: DatasetState): string {
  return JSON.stringify({ ...header(dataset, 'remove'), kinesisSyncRecords: [], ...trailer(dataset) })
}

/** Where a pool streams to, when its Cognito Streams setting is ENABLED with a stream name. */
export function streamTargetOf(pool: PoolRow | undefined): StreamTarget | undefined {
  if (pool?.cognitoStreams == null) return undefined
  let setting: { StreamName?: unknown; RoleArn?: unknown; StreamingStatus?: unknown }
  try {
    setting = JSON.parse(pool.cognitoStreams) as typeof setting
  } catch {
    return undefined
  }
  if (setting.StreamingStatus !== 'ENABLED' || typeof setting.StreamName !== 'string') return undefined
  return {
    identityPoolId: pool.identityPoolId,
    streamName: setting.StreamName,
    roleArn: typeof setting.RoleArn === 'string' ? setting.RoleArn : undefined,
  }
}
