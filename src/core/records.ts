import type { Limits } from './limits.js'
import { type DatasetMeta, DELETE_PENDING, type RemoteRecord, type SyncRecord } from './model.js'
import { ok, type Result } from './result.js'
import {
  limitExceeded,
  utf8ByteLength,
  type ValidationFailure,
  validateDatasetName,
  validateKey,
  validateValue,
} from './validate.js'

/** One local change: a value to put, or `null` to remove the record. */
/** One change of a local write: a value, or `null` to remove the record. */
export interface LocalChange {
  readonly key: string
  readonly value: string | null
}

/** When the write happens and under which limits. */
export interface LocalWriteContext {
  /** Device time of the write (epoch ms), kept as the records' `deviceLastModifiedDate`. */
  readonly now: number
  readonly limits: Limits
}

/** What {@link planLocalWrite} decided to store. */
export interface LocalWritePlan {
  readonly meta: DatasetMeta
  /** The rows to store: only the records the changes really changed. Empty when nothing changed. */
  readonly records: readonly SyncRecord[]
  /** The dataset's usage after the write, for a caller that keeps it between writes. */
  readonly usage: DatasetUsage
  /** Rows that were clean (or absent) and are now dirty: the growth of the pending count. */
  readonly newlyDirty: number
}

/**
 * What a local write needs to know of the dataset: the rows of the keys it touches, and the
 * dataset's usage. Passing every row works too (the usage is then computed from them); a caller
 * that keeps the usage avoids reading the whole dataset on every write.
 */
export interface LocalWriteState {
  /** At least the current rows of the keys the changes touch. */
  readonly rows: readonly SyncRecord[]
  readonly usage: DatasetUsage
}

/** Live records and UTF-8 bytes of keys plus values, as Cognito counts them against its quotas. */
export interface DatasetUsage {
  readonly liveRecords: number
  readonly bytes: number
}

/** The usage of a dataset's records, tombstones left out. */
export function datasetUsage(records: Iterable<SyncRecord>): DatasetUsage {
  let liveRecords = 0
  let bytes = 0
  for (const record of records) {
    if (record.value === null) continue
    liveRecords++
    bytes += utf8ByteLength(record.key) + utf8ByteLength(record.value)
  }
  return { liveRecords, bytes }
}

/** A record as the server holds it, stored as a clean row. */
export function cleanRecord(remote: RemoteRecord): SyncRecord {
  return {
    key: remote.key,
    value: remote.value,
    syncCount: remote.syncCount,
    lastModifiedDate: remote.lastModifiedDate,
    lastModifiedBy: remote.lastModifiedBy,
    deviceLastModifiedDate: remote.deviceLastModifiedDate ?? remote.lastModifiedDate,
    dirty: false,
  }
}

export function indexByKey<TRecord extends { readonly key: string }>(
  records: Iterable<TRecord>,
): Map<string, TRecord> {
  const byKey = new Map<string, TRecord>()
  for (const record of records) byKey.set(record.key, record)
  return byKey
}

/** Metadata of a dataset the device has just opened for the first time. */
export function createDatasetMeta(
  identityId: string,
  name: string,
  existing: readonly DatasetMeta[],
  context: LocalWriteContext,
): Result<DatasetMeta, ValidationFailure> {
  const valid = validateDatasetName(name, context.limits)
  if (!valid.ok) return valid
  // Datasets whose local delete is pending are on their way out and do not count.
  const live = existing.filter((meta) => meta.name !== name && meta.lastSyncCount !== DELETE_PENDING).length
  if (live + 1 > context.limits.maxDatasetsPerIdentity) {
    return limitExceeded(
      'identity',
      'maxDatasetsPerIdentity',
      live + 1,
      context.limits.maxDatasetsPerIdentity,
      `identity would have ${live + 1} datasets; the limit is ${context.limits.maxDatasetsPerIdentity}`,
    )
  }
  return ok({
    identityId,
    name,
    lastSyncCount: 0,
    creationDate: context.now,
    lastModifiedDate: context.now,
    lastModifiedBy: null,
    lastSyncDate: 0,
  })
}

/**
 * Applies puts and removes to a dataset, all or nothing.
 *
 * - Putting the value a record already has is a no-op, so it is not pushed again.
 * - The empty string is a value; only `null` removes.
 * - Removing a record the device does not have, or has already removed, is a no-op. Other removals
 *   leave a dirty tombstone so the removal reaches the server.
 * - A changed record keeps the server sync count it was based on: that is what the push sends.
 * - Quotas are checked on the result, and only growth is refused, so a dataset that is over a
 *   lowered limit can still shrink.
 */
export function planLocalWrite(
  meta: DatasetMeta,
  state: LocalWriteState | readonly SyncRecord[],
  input: readonly LocalChange[] | ValidChanges,
  context: LocalWriteContext,
): Result<LocalWritePlan, ValidationFailure> {
  const valid = input instanceof ValidChanges ? ok(input) : validateChanges(input, context.limits)
  if (!valid.ok) return valid
  const changes = valid.value.changes

  const rows = isRowList(state) ? state : state.rows
  const before = isRowList(state) ? datasetUsage(state) : state.usage
  const current = indexByKey(rows)
  const original = new Map<string, SyncRecord | undefined>()
  const written = new Map<string, SyncRecord>()
  for (const { key, value } of changes) {
    const existing = current.get(key)
    if (value === null ? existing === undefined || existing.value === null : existing?.value === value)
      continue
    const next: SyncRecord = {
      key,
      value,
      syncCount: existing?.syncCount ?? 0,
      lastModifiedDate: existing?.lastModifiedDate ?? 0,
      lastModifiedBy: existing?.lastModifiedBy ?? null,
      deviceLastModifiedDate: context.now,
      dirty: true,
    }
    if (!original.has(key)) original.set(key, existing)
    current.set(key, next)
    written.set(key, next)
  }
  if (written.size === 0) return ok({ meta, records: [], usage: before, newlyDirty: 0 })

  // Only the touched rows change the usage: subtract what they held, add what they hold now.
  let liveRecords = before.liveRecords
  let bytes = before.bytes
  let newlyDirty = 0
  for (const [key, was] of original) {
    const now = written.get(key)
    if (was !== undefined && was.value !== null) {
      liveRecords--
      bytes -= utf8ByteLength(was.key) + utf8ByteLength(was.value)
    }
    if (now !== undefined && now.value !== null) {
      liveRecords++
      bytes += utf8ByteLength(now.key) + utf8ByteLength(now.value)
    }
    if (was === undefined || !was.dirty) newlyDirty++
  }
  const after: DatasetUsage = { liveRecords, bytes }
  const { maxRecordsPerDataset, maxDatasetBytes } = context.limits
  if (after.liveRecords > maxRecordsPerDataset && after.liveRecords > before.liveRecords) {
    return limitExceeded(
      'dataset',
      'maxRecordsPerDataset',
      after.liveRecords,
      maxRecordsPerDataset,
      `dataset "${meta.name}" would hold ${after.liveRecords} records; the limit is ${maxRecordsPerDataset}`,
    )
  }
  if (after.bytes > maxDatasetBytes && after.bytes > before.bytes) {
    return limitExceeded(
      'dataset',
      'maxDatasetBytes',
      after.bytes,
      maxDatasetBytes,
      `dataset "${meta.name}" would hold ${after.bytes} bytes of keys and values; the limit is ${maxDatasetBytes}`,
    )
  }
  return ok({
    meta: { ...meta, lastModifiedDate: context.now },
    records: [...written.values()],
    usage: after,
    newlyDirty,
  })
}

function isRowList(state: LocalWriteState | readonly SyncRecord[]): state is readonly SyncRecord[] {
  return Array.isArray(state)
}

/** What {@link planLocalDelete} decided: the metadata marking the delete as pending, the rows to remove. */
export interface LocalDeletePlan {
  readonly meta: DatasetMeta
  /** Every row of the dataset: the local copy goes now, the server copy on the next synchronize. */
  readonly deleteKeys: readonly string[]
}

/** Deletes a dataset locally and marks the deletion as pending for the next synchronize. */
export function planLocalDelete(
  meta: DatasetMeta,
  records: readonly SyncRecord[],
  now: number,
): LocalDeletePlan {
  return {
    meta: { ...meta, lastSyncCount: DELETE_PENDING, lastModifiedDate: now },
    deleteKeys: records.map((record) => record.key),
  }
}

/**
 * Changes that passed {@link validateChanges}. A caller that must check its input before reading
 * storage (a key that is not a string would fail the read itself) hands these to
 * {@link planLocalWrite}, which then does not check them a second time.
 */
export class ValidChanges {
  readonly changes: readonly LocalChange[]

  /** Made only by {@link validateChanges}. */
  private constructor(changes: readonly LocalChange[]) {
    this.changes = Object.freeze([...changes])
  }

  /** @internal */
  static of(changes: readonly LocalChange[]): ValidChanges {
    return new ValidChanges(changes)
  }
}

/** Rejects a change list that holds something other than valid keys and string-or-null values. */
export function validateChanges(
  changes: readonly LocalChange[],
  limits: Limits,
): Result<ValidChanges, ValidationFailure> {
  for (const change of changes) {
    const key = validateKey(change.key, limits)
    if (!key.ok) return key
    if (change.value !== null) {
      const value = validateValue(change.value, limits)
      if (!value.ok) return value
    }
  }
  return ok(ValidChanges.of(changes))
}

/**
 * Whether two rows hold the same local state: what a later transaction checks before it overwrites one.
 *
 * @internal The engine's check; apps have no use for it.
 */
export function sameLocalRow(a: SyncRecord, b: SyncRecord): boolean {
  return (
    a.value === b.value &&
    a.dirty === b.dirty &&
    a.syncCount === b.syncCount &&
    a.deviceLastModifiedDate === b.deviceLastModifiedDate
  )
}
