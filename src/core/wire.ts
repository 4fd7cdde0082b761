/**
 * Reading Cognito Sync's answers into the transport port's types. The Cognito transport gets the
 * answers parsed by the AWS SDK and the HTTP transport parses the JSON itself, but both read the same
 * members off the same wire, so what makes an answer well formed is decided once, here.
 *
 * Every reader refuses an answer that lacks what the port promises with the port's `protocol`
 * failure, naming the member at fault. Absent optional members are `null`, absent lists empty and
 * absent flags false, as AWS leaves empty members out of its answers.
 *
 * The one thing the transports receive differently is a timestamp: the SDK turns the wire's epoch
 * seconds into a `Date`, JSON keeps the number. Each reader takes the {@link TimestampReader} that
 * fits, {@link readDate} or {@link readEpochSeconds}.
 */
import type { RemoteRecord } from './model.js'
import { fail, ok, type Result } from './result.js'

/**
 * The transport port's `protocol` failure: an answer arrived but does not hold what the port
 * promises. The core imports nothing outside itself, so it spells the member out; a type test keeps
 * it equal to the port's.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export interface ProtocolFailure {
  readonly kind: 'protocol'
  readonly message: string
}

/**
 * Reads one timestamp member into epoch milliseconds. `field` names the member in the failure's
 * message, such as `record "k" LastModifiedDate`.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export type TimestampReader = (value: unknown, field: string) => Result<number, ProtocolFailure>

/** One page of a ListRecords answer: the port's `RecordsPage`, spelled out in the core. */
export interface WireRecordsPage {
  readonly records: RemoteRecord[]
  /** `null` on the last page. */
  readonly nextToken: string | null
  readonly datasetSyncCount: number
  readonly datasetExists: boolean
  readonly datasetDeletedAfterRequestedSyncCount: boolean
  readonly mergedDatasetNames: string[]
  readonly lastModifiedBy: string | null
  /** Never empty: the session the following UpdateRecords must present. */
  readonly syncSessionToken: string
}

/** An UpdateRecords answer: the port's `UpdateRecordsAnswer`. */
export interface WireUpdateRecordsAnswer {
  /** The records the server stored. */
  readonly records: RemoteRecord[]
  /**
   * The next session's token, which pushsync-server adds to its answer (Cognito does not): a device
   * that is current may send its next UpdateRecords with it and no ListRecords first. `null` when
   * the server sent none.
   */
  readonly syncSessionToken: string | null
}

/** A dataset as ListDatasets and DescribeDataset describe it: the port's `RemoteDataset`. */
export interface WireDataset {
  readonly name: string
  readonly creationDate: number
  readonly lastModifiedDate: number
  readonly lastModifiedBy: string | null
  /** UTF-8 bytes of keys and values. */
  readonly dataStorage: number
  readonly numRecords: number
}

/**
 * The datasets of the ListDatasets pages read so far, and where to go on: pass it back to
 * {@link readListDatasetsAnswer} with the answer for `nextToken`.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export interface DatasetsListing {
  readonly datasets: WireDataset[]
  /** The NextToken to ask the following page with; `null` once the last page is read. */
  readonly nextToken: string | null
  /** Every NextToken the server has handed out so far. */
  readonly tokens: readonly string[]
}

/**
 * A timestamp as the AWS SDK hands it over: a valid `Date`, which it parsed from the wire's epoch
 * seconds.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readDate(value: unknown, field: string): Result<number, ProtocolFailure> {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    return fail(protocol(`${field} is not a date: ${show(value)}`))
  }
  return ok(value.getTime())
}

/**
 * A timestamp as the wire's JSON carries it: epoch seconds, possibly fractional, rounded to the
 * millisecond.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readEpochSeconds(value: unknown, field: string): Result<number, ProtocolFailure> {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return fail(protocol(`${field} is not a timestamp: ${show(value)}`))
  }
  return ok(Math.round(value * 1000))
}

/**
 * A ListRecords answer. A missing or empty `SyncSessionToken` is refused: without it the device
 * could not push what it pulled.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readListRecordsAnswer(
  answer: unknown,
  timestamp: TimestampReader,
): Result<WireRecordsPage, ProtocolFailure> {
  return reading(() => {
    const page = object(answer, 'the ListRecords answer')
    const token = optionalString(page.SyncSessionToken, 'SyncSessionToken')
    if (token === null || token === '') throw new ShapeError('ListRecords returned no SyncSessionToken')
    return {
      records: list(page.Records, 'Records').map((record) => readRecord(record, timestamp)),
      nextToken: optionalString(page.NextToken, 'NextToken'),
      datasetSyncCount: count(page.DatasetSyncCount, 'DatasetSyncCount'),
      datasetExists: flag(page.DatasetExists, 'DatasetExists'),
      datasetDeletedAfterRequestedSyncCount: flag(
        page.DatasetDeletedAfterRequestedSyncCount,
        'DatasetDeletedAfterRequestedSyncCount',
      ),
      mergedDatasetNames: list(page.MergedDatasetNames, 'MergedDatasetNames').map((name) => {
        if (typeof name !== 'string') throw new ShapeError('MergedDatasetNames holds a non-string')
        return name
      }),
      lastModifiedBy: optionalString(page.LastModifiedBy, 'LastModifiedBy'),
      syncSessionToken: token,
    }
  })
}

/**
 * An UpdateRecords answer: the records as the server stored them.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readUpdateRecordsAnswer(
  answer: unknown,
  timestamp: TimestampReader,
): Result<RemoteRecord[], ProtocolFailure> {
  return reading(() =>
    list(object(answer, 'the UpdateRecords answer').Records, 'Records').map((record) =>
      readRecord(record, timestamp),
    ),
  )
}

/**
 * An UpdateRecords answer with the next session's token, when the server sent one.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readUpdateRecordsResult(
  answer: unknown,
  timestamp: TimestampReader,
): Result<WireUpdateRecordsAnswer, ProtocolFailure> {
  return reading(() => {
    const fields = object(answer, 'the UpdateRecords answer')
    const token = optionalString(fields.SyncSessionToken, 'SyncSessionToken')
    return {
      records: list(fields.Records, 'Records').map((record) => readRecord(record, timestamp)),
      syncSessionToken: token === '' ? null : token,
    }
  })
}

/**
 * A ListDatasets answer, added to the listing of the pages before it (`undefined` for the first
 * page). A NextToken handed out before is refused: following it would page forever.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readListDatasetsAnswer(
  answer: unknown,
  timestamp: TimestampReader,
  before?: DatasetsListing,
): Result<DatasetsListing, ProtocolFailure> {
  return reading(() => {
    const page = object(answer, 'the ListDatasets answer')
    const datasets = list(page.Datasets, 'Datasets').map((dataset) => readDataset(dataset, timestamp))
    const nextToken = optionalString(page.NextToken, 'NextToken')
    const tokens = before?.tokens ?? []
    if (nextToken !== null && tokens.includes(nextToken)) {
      throw new ShapeError('ListDatasets returned the same NextToken twice')
    }
    return {
      datasets: [...(before?.datasets ?? []), ...datasets],
      nextToken,
      tokens: nextToken === null ? tokens : [...tokens, nextToken],
    }
  })
}

/**
 * A DescribeDataset answer: its `Dataset`, which must be there.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readDescribeDatasetAnswer(
  answer: unknown,
  timestamp: TimestampReader,
): Result<WireDataset, ProtocolFailure> {
  return reading(() => {
    const dataset = object(answer, 'the DescribeDataset answer').Dataset
    if (dataset === undefined || dataset === null) throw new ShapeError('DescribeDataset returned no Dataset')
    return readDataset(dataset, timestamp)
  })
}

/**
 * A RegisterDevice answer: the device id the server gave the token, which must not be empty.
 *
 * @internal The two transports' reading of the wire; apps and adapters use the `Transport` port.
 */
export function readRegisterDeviceAnswer(answer: unknown): Result<string, ProtocolFailure> {
  return reading(() => {
    const deviceId = optionalString(object(answer, 'the RegisterDevice answer').DeviceId, 'DeviceId')
    if (deviceId === null || deviceId === '') throw new ShapeError('RegisterDevice returned no DeviceId')
    return deviceId
  })
}

/**
 * Thrown by the helpers below and turned into a failure value by {@link reading}; it never leaves
 * this module. An answer has a dozen members and the first malformed one decides: throwing keeps each
 * reader a plain list of its members instead of a chain of early returns.
 */
class ShapeError extends Error {}

function reading<TValue>(read: () => TValue): Result<TValue, ProtocolFailure> {
  try {
    return ok(read())
  } catch (error) {
    if (error instanceof ShapeError) return fail(protocol(error.message))
    throw error
  }
}

function protocol(message: string): ProtocolFailure {
  return { kind: 'protocol', message }
}

function readRecord(value: unknown, timestamp: TimestampReader): RemoteRecord {
  const record = object(value, 'a record')
  if (typeof record.Key !== 'string') throw new ShapeError('a record has no Key')
  const field = `record ${JSON.stringify(record.Key)}`
  return {
    key: record.Key,
    // A missing value is a tombstone; an empty string is a value.
    value: optionalString(record.Value, `${field} Value`),
    syncCount: count(record.SyncCount, `${field} SyncCount`),
    lastModifiedDate: time(timestamp, record.LastModifiedDate, `${field} LastModifiedDate`),
    lastModifiedBy: optionalString(record.LastModifiedBy, `${field} LastModifiedBy`),
    // Only the writer's device sends this one; a record written without it has none.
    deviceLastModifiedDate:
      record.DeviceLastModifiedDate === undefined || record.DeviceLastModifiedDate === null
        ? null
        : time(timestamp, record.DeviceLastModifiedDate, `${field} DeviceLastModifiedDate`),
  }
}

function readDataset(value: unknown, timestamp: TimestampReader): WireDataset {
  const dataset = object(value, 'a dataset')
  if (typeof dataset.DatasetName !== 'string') throw new ShapeError('a dataset has no DatasetName')
  const field = `dataset ${JSON.stringify(dataset.DatasetName)}`
  return {
    name: dataset.DatasetName,
    creationDate: time(timestamp, dataset.CreationDate, `${field} CreationDate`),
    lastModifiedDate: time(timestamp, dataset.LastModifiedDate, `${field} LastModifiedDate`),
    lastModifiedBy: optionalString(dataset.LastModifiedBy, `${field} LastModifiedBy`),
    dataStorage: count(dataset.DataStorage, `${field} DataStorage`),
    numRecords: count(dataset.NumRecords, `${field} NumRecords`),
  }
}

function time(timestamp: TimestampReader, value: unknown, field: string): number {
  const ms = timestamp(value, field)
  if (!ms.ok) throw new ShapeError(ms.failure.message)
  return ms.value
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShapeError(`${field} is not an object`)
  }
  return value as Record<string, unknown>
}

function list(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new ShapeError(`${field} is not a list`)
  return value
}

/**
 * Absent is false, but anything else that is not a boolean is refused rather than read as false: a
 * `DatasetExists` misread as false would tell the device its dataset was deleted.
 */
function flag(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean') throw new ShapeError(`${field} is not a boolean`)
  return value
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new ShapeError(`${field} is not a string`)
  return value
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ShapeError(`${field} is not a count: ${show(value)}`)
  }
  return value
}

/**
 * A refused value as a message shows it: strings quoted and objects as JSON, so `"3"` and `3` differ;
 * a date in ISO form, whatever the time zone; anything JSON cannot spell (`undefined`, `NaN`, a
 * bigint, a cycle, an invalid date) by its string form.
 */
function show(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString()
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value)
    } catch {
      return String(value)
    }
  }
  return String(value)
}
