/**
 * Cognito Streams records, read back: what Cognito wrote to a pool's Kinesis stream for every
 * synchronization and every dataset of a bulk publish (and what this server writes the same way).
 * Each is checked whole before anything is stored: a record that is not one is an
 * {@link ImportRecordError} naming where it was and what is wrong.
 */

export interface ImportedRecord {
  readonly key: string
  /** `null` for a removed record (a tombstone). */
  readonly value: string | null
  readonly syncCount: number
  readonly lastModifiedDate: number
  readonly deviceLastModifiedDate: number | null
}

export interface ImportedChange {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  /** `remove`: the dataset was deleted at `syncCount`. */
  readonly operation: 'replace' | 'remove'
  readonly records: readonly ImportedRecord[]
  readonly syncCount: number
  readonly lastModifiedDate: number
}

/** A stream record that cannot be imported; `at` says where it was (a file line, a sequence number). */
export class ImportRecordError extends Error {
  readonly at: string

  constructor(at: string, reason: string) {
    super(`${at}: ${reason}`)
    this.name = 'ImportRecordError'
    this.at = at
  }
}

const ID = /^[\w-]+:[0-9a-f-]+$/
const DATASET_NAME = /^[a-zA-Z0-9_.:-]{1,128}$/

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const count = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

const time = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0

/** Reads one record's JSON text; throws an ImportRecordError. */
export function parseStreamRecord(text: string, at: string): ImportedChange {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new ImportRecordError(at, 'not JSON')
  }
  const fail = (why: string): never => {
    throw new ImportRecordError(at, why)
  }
  if (!isObject(value)) return fail('not a JSON object')
  const { identityPoolId, identityId, dataSetName, operation, kinesisSyncRecords, syncCount } = value
  if (typeof identityPoolId !== 'string' || identityPoolId.length > 55 || !ID.test(identityPoolId))
    fail('identityPoolId is not an identity pool id')
  if (typeof identityId !== 'string' || identityId.length > 55 || !ID.test(identityId))
    fail('identityId is not an identity id')
  if (typeof dataSetName !== 'string' || !DATASET_NAME.test(dataSetName))
    fail('dataSetName is not a dataset name')
  if (operation !== 'replace' && operation !== 'remove') fail('operation is neither replace nor remove')
  if (!count(syncCount)) fail('syncCount is not a non-negative integer')
  if (value.payloadType === 'S3Url')
    fail('its records are behind an S3 URL (an update over the Kinesis size limit): download them first')
  if (!Array.isArray(kinesisSyncRecords)) return fail('kinesisSyncRecords is not a list')
  const records = kinesisSyncRecords.map((record, index): ImportedRecord => {
    const where = `kinesisSyncRecords[${index}]`
    if (!isObject(record)) return fail(`${where} is not an object`)
    const { key, op } = record
    if (typeof key !== 'string' || key === '') fail(`${where}.key is not a non-empty string`)
    if (op !== 'replace' && op !== 'remove') fail(`${where}.op is neither replace nor remove`)
    if (op === 'replace' && typeof record.value !== 'string') fail(`${where}.value is not a string`)
    if (!count(record.syncCount) || record.syncCount > (syncCount as number))
      fail(`${where}.syncCount is not an integer between 0 and the dataset's syncCount`)
    if (!time(record.lastModifiedDate)) fail(`${where}.lastModifiedDate is not epoch milliseconds`)
    const device = record.deviceLastModifiedDate
    if (device !== null && device !== undefined && !time(device))
      fail(`${where}.deviceLastModifiedDate is not epoch milliseconds`)
    return {
      key: key as string,
      value: op === 'remove' ? null : (record.value as string),
      syncCount: record.syncCount as number,
      lastModifiedDate: Math.round(record.lastModifiedDate as number),
      deviceLastModifiedDate: typeof device === 'number' ? Math.round(device) : null,
    }
  })
  const keys = new Set(records.map((record) => record.key))
  if (keys.size !== records.length) fail('kinesisSyncRecords names a key twice')
  const lastModifiedDate = time(value.lastModifiedDate)
    ? Math.round(value.lastModifiedDate)
    : Math.max(0, ...records.map((record) => record.lastModifiedDate))
  return {
    identityPoolId: identityPoolId as string,
    identityId: identityId as string,
    datasetName: dataSetName as string,
    operation: operation as 'replace' | 'remove',
    records,
    syncCount: syncCount as number,
    lastModifiedDate,
  }
}
