import type { RecordPatch, RemoteRecord, SyncRecord } from './model.js'
import { cleanRecord, indexByKey, sameLocalRow } from './records.js'

/** What {@link planPush} made of the dirty records: the patches and the rows they were made from. */
export interface PushPlan {
  /** One patch per dirty record, ordered by key. Empty when there is nothing to push. */
  readonly patches: readonly RecordPatch[]
  /** The dirty rows as they were when the patches were made; `applyPushResult` compares against them. */
  readonly snapshot: readonly SyncRecord[]
}

/** Turns the dirty records into UpdateRecords patches, each based on the record's server sync count. */
export function planPush(records: readonly SyncRecord[]): PushPlan {
  const snapshot = records.filter((record) => record.dirty)
  const patches = snapshot.map(
    (record): RecordPatch => ({
      op: record.value === null ? 'remove' : 'replace',
      key: record.key,
      value: record.value,
      syncCount: record.syncCount,
      deviceLastModifiedDate: record.deviceLastModifiedDate,
    }),
  )
  return { patches, snapshot }
}

/** What {@link applyPushResult} needs: what was sent, what is stored now, what the server answered. */
export interface PushResultInput {
  /** `PushPlan.snapshot` of the push that succeeded. */
  readonly snapshot: readonly SyncRecord[]
  /** The local rows now, read in the transaction that will store the result. */
  readonly current: readonly SyncRecord[]
  /** The records UpdateRecords returned. */
  readonly returned: readonly RemoteRecord[]
  /** The dataset sync count of the pull this push followed. */
  readonly seenDatasetSyncCount: number
  /** The device's `lastSyncCount` now. */
  readonly lastSyncCount: number
}

/** What {@link applyPushResult} decided to store. */
export interface PushResultPlan {
  /** Rows to store. */
  readonly records: readonly SyncRecord[]
  readonly lastSyncCount: number
}

/**
 * Stores what the server acknowledged without losing what changed meanwhile.
 *
 * - A row unchanged since the snapshot takes the server's record and is clean. The server's value
 *   wins even when it differs from the one sent: a sync trigger may have rewritten it.
 * - A row written again during the push keeps its new value and stays dirty, but is now based on
 *   the server's new sync count: the server holds the earlier value of this device, so the next
 *   push is not a conflict.
 * - A record the server returned without being sent (a sync trigger added it) applies unless the
 *   row is dirty; a dirty one keeps its old base, so its push conflicts and the pull surfaces both.
 * - `lastSyncCount` advances to the new dataset count only when the push was the one change since
 *   the pull (the "+1 rule"); otherwise another writer got in between, and the next pull must
 *   fetch its changes.
 */
export function applyPushResult(input: PushResultInput): PushResultPlan {
  const sent = indexByKey(input.snapshot)
  const current = indexByKey(input.current)
  const records: SyncRecord[] = []
  let highest = Number.NEGATIVE_INFINITY
  for (const remote of input.returned) {
    highest = Math.max(highest, remote.syncCount)
    const before = sent.get(remote.key)
    const now = current.get(remote.key)
    if (before !== undefined) {
      if (now === undefined) continue
      if (sameLocalRow(before, now)) records.push(cleanRecord(remote))
      else if (now.dirty && now.syncCount === before.syncCount) {
        records.push({
          ...now,
          syncCount: remote.syncCount,
          lastModifiedDate: remote.lastModifiedDate,
          lastModifiedBy: remote.lastModifiedBy,
        })
      }
    } else if (now === undefined || !now.dirty) {
      records.push(cleanRecord(remote))
    }
  }
  const lastSyncCount =
    highest === input.seenDatasetSyncCount + 1 ? Math.max(input.lastSyncCount, highest) : input.lastSyncCount
  return { records, lastSyncCount }
}

/**
 * The `lastSyncCount` to retry with after UpdateRecords answered `ResourceConflictException`: no
 * higher than the highest sync count the patches were based on, so the next pull fetches again every
 * record the server changed after the device's view of it and raises the conflicts.
 */
export function lastSyncCountAfterPushConflict(
  lastSyncCount: number,
  patches: readonly RecordPatch[],
): number {
  let highestBase = 0
  for (const patch of patches) highestBase = Math.max(highestBase, patch.syncCount)
  return Math.min(lastSyncCount, highestBase)
}
