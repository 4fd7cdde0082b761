import { utf8ByteLength } from 'pushsync/core'
import type { DatasetRow, RecordRow, StoreTx, SyncStore } from '../store/contract.js'
import type { ImportedChange } from './stream-records.js'

/** What an import did, added up. */
export interface ImportCounts {
  /** Stream records read. */
  streamRecords: number
  /** Dataset records stored (new, or newer than the stored ones). */
  records: number
  /** Dataset records left alone: the store had them at that sync count or later. */
  skipped: number
  datasets: number
  identities: number
}

export const emptyCounts = (): ImportCounts => ({
  streamRecords: 0,
  records: 0,
  skipped: 0,
  datasets: 0,
  identities: 0,
})

/**
 * Stores a batch of stream records in one transaction (which `extra`, such as a stream checkpoint,
 * joins), holding the identities they touch. Applying is idempotent and order-free, so a re-run or
 * overlapping records (bulk publish repeats what updates already said) change nothing:
 * - a record is stored only when its sync count is above the stored one's: an older record never wins;
 * - a dataset's sync count is the highest seen, so a device that synced with Cognito finds it as it
 *   left it and pulls only what is newer;
 * - a deletion (`remove`) at sync count N empties the dataset unless it was written after N, and
 *   records from before N are not brought back by a later import;
 * - identities keep their ids.
 */
export async function applyStreamRecords(
  store: SyncStore,
  changes: readonly ImportedChange[],
  now: number,
  extra?: (tx: StoreTx) => Promise<void>,
): Promise<ImportCounts> {
  const counts = emptyCounts()
  const identities = [...new Set(changes.map((change) => change.identityId))].sort()
  await store.transaction(
    async (tx) => {
      const seen = new Set<string>()
      for (const change of changes) {
        counts.streamRecords++
        if (!seen.has(change.identityId)) {
          seen.add(change.identityId)
          if (await ensureIdentity(tx, change, now)) counts.identities++
        }
        await applyChange(tx, change, counts)
      }
      await extra?.(tx)
    },
    { lock: identities },
  )
  return counts
}

async function ensureIdentity(tx: StoreTx, change: ImportedChange, now: number): Promise<boolean> {
  const identity = await tx.getIdentity(change.identityId)
  if (identity !== undefined) {
    if (identity.identityPoolId !== change.identityPoolId)
      throw new Error(
        `Identity ${change.identityId} belongs to pool ${identity.identityPoolId}, not ${change.identityPoolId}`,
      )
    return false
  }
  await tx.putIdentity({
    identityId: change.identityId,
    identityPoolId: change.identityPoolId,
    createdAt: now,
    mergedInto: null,
  })
  return true
}

const recordBytes = (row: Pick<RecordRow, 'key' | 'value'>) =>
  row.value === null ? 0 : utf8ByteLength(row.key) + utf8ByteLength(row.value)

async function applyChange(tx: StoreTx, change: ImportedChange, counts: ImportCounts): Promise<void> {
  const dataset = await tx.getDataset(change.identityId, change.datasetName)
  if (dataset === undefined) counts.datasets++

  if (change.operation === 'remove') {
    if (dataset !== undefined && dataset.syncCount >= change.syncCount) return
    await tx.deleteAllRecords(change.identityId, change.datasetName)
    await tx.putDataset({
      ...baseDataset(dataset, change),
      syncCount: change.syncCount,
      exists: false,
      deletedAtSyncCount: change.syncCount,
      lastModifiedDate: Math.max(dataset?.lastModifiedDate ?? 0, change.lastModifiedDate),
      numRecords: 0,
      dataStorage: 0,
    })
    return
  }

  const deletedAt = dataset?.deletedAtSyncCount ?? 0
  // Written before the dataset's deletion: that incarnation is gone.
  const candidates = change.records.filter((record) => record.syncCount > deletedAt)
  counts.skipped += change.records.length - candidates.length
  if (change.syncCount <= deletedAt && dataset?.exists !== true) return

  const stored = new Map(
    (
      await tx.getRecords(
        change.identityId,
        change.datasetName,
        candidates.map((record) => record.key),
      )
    ).map((row) => [row.key, row]),
  )
  let numRecords = dataset?.exists === true ? dataset.numRecords : 0
  let dataStorage = dataset?.exists === true ? dataset.dataStorage : 0
  const rows: RecordRow[] = []
  for (const record of candidates) {
    const old = stored.get(record.key)
    if (old !== undefined && old.syncCount >= record.syncCount) {
      counts.skipped++
      continue
    }
    const row: RecordRow = {
      key: record.key,
      value: record.value,
      syncCount: record.syncCount,
      lastModifiedDate: record.lastModifiedDate,
      lastModifiedBy: null,
      deviceLastModifiedDate: record.deviceLastModifiedDate,
    }
    numRecords += (row.value === null ? 0 : 1) - (old === undefined || old.value === null ? 0 : 1)
    dataStorage += recordBytes(row) - (old === undefined ? 0 : recordBytes(old))
    rows.push(row)
  }
  counts.records += rows.length
  const syncCount = Math.max(dataset?.syncCount ?? 0, change.syncCount)
  if (rows.length === 0 && dataset?.exists === true && dataset.syncCount === syncCount) return
  await tx.putRecords(change.identityId, change.datasetName, rows)
  await tx.putDataset({
    ...baseDataset(dataset, change),
    syncCount,
    exists: true,
    deletedAtSyncCount: deletedAt,
    lastModifiedDate: Math.max(dataset?.lastModifiedDate ?? 0, change.lastModifiedDate),
    numRecords,
    dataStorage,
  })
}

function baseDataset(dataset: DatasetRow | undefined, change: ImportedChange): DatasetRow {
  const earliest = Math.min(
    change.lastModifiedDate,
    ...change.records.map((record) => record.lastModifiedDate),
  )
  return {
    identityPoolId: change.identityPoolId,
    identityId: change.identityId,
    name: change.datasetName,
    syncCount: dataset?.syncCount ?? 0,
    exists: dataset?.exists ?? false,
    deletedAtSyncCount: dataset?.deletedAtSyncCount ?? 0,
    // The stream does not carry a creation date: the earliest change it shows stands in for it.
    creationDate: dataset?.exists === true ? Math.min(dataset.creationDate, earliest) : earliest,
    lastModifiedDate: dataset?.lastModifiedDate ?? change.lastModifiedDate,
    // Nor who wrote: Cognito's LastModifiedBy is not in its stream records.
    lastModifiedBy: dataset?.lastModifiedBy ?? null,
    numRecords: dataset?.numRecords ?? 0,
    dataStorage: dataset?.dataStorage ?? 0,
    mergedInto: dataset?.mergedInto ?? null,
  }
}
