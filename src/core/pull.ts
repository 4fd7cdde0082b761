import type { PullResult, RemoteRecord, SyncRecord } from './model.js'
import { cleanRecord, indexByKey } from './records.js'

/** A record both sides changed: the local row is dirty and the server has a different, newer value. */
export interface Conflict {
  readonly key: string
  readonly local: SyncRecord
  readonly remote: RemoteRecord
}

/** What {@link planPull} decided: the records to store, the conflicts to resolve, the new `lastSyncCount`. */
export interface PullPlan {
  /** Server records to store as clean rows, each replacing the local row of its key. */
  readonly apply: readonly SyncRecord[]
  /** Records to resolve before storing; they are not in `apply`. */
  readonly conflicts: readonly Conflict[]
  /**
   * The `lastSyncCount` to store together with `apply` and the resolved conflicts (in one
   * transaction): every server change up to it is then on the device.
   */
  readonly lastSyncCount: number
}

/**
 * Decides what a pull changes locally. For each remote record:
 *
 * - no local row, or a clean one: the remote record applies;
 * - a dirty local row with the same value: the remote record applies, so the row takes the server's
 *   sync count and is clean (the write reached the server already, for example through an
 *   acknowledgement that was lost; other clients raised a conflict here and looped on 409s);
 * - a dirty local row whose base sync count is at least the remote one: the server has not changed
 *   the record since the device's edit was based on it, so the edit stays and is pushed (Android
 *   let the remote value overwrite such an edit);
 * - otherwise both sides changed the record: a conflict.
 *
 * `lastSyncCount` is the device's count before the pull; the plan never lowers it.
 */
export function planPull(local: readonly SyncRecord[], pull: PullResult, lastSyncCount: number): PullPlan {
  const localByKey = indexByKey(local)
  const apply: SyncRecord[] = []
  const conflicts: Conflict[] = []
  // A pull can list a key twice across pages; the highest sync count is the server's current row.
  for (const remote of latestByKey(pull.records)) {
    const row = localByKey.get(remote.key)
    if (row === undefined || !row.dirty || row.value === remote.value) {
      apply.push(cleanRecord(remote))
    } else if (remote.syncCount > row.syncCount) {
      conflicts.push({ key: remote.key, local: row, remote })
    }
  }
  return { apply, conflicts, lastSyncCount: Math.max(lastSyncCount, pull.datasetSyncCount) }
}

function latestByKey(records: readonly RemoteRecord[]): Iterable<RemoteRecord> {
  const latest = new Map<string, RemoteRecord>()
  for (const record of records) {
    const seen = latest.get(record.key)
    if (seen === undefined || record.syncCount >= seen.syncCount) latest.set(record.key, record)
  }
  return latest.values()
}
