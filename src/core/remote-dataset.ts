import type { PullResult, SyncRecord } from './model.js'

/**
 * Whether a pull reports that the dataset was deleted on the server since this device last synced.
 *
 * Cognito's clients test `(lastSyncCount != 0 && !DatasetExists) || DatasetDeletedAfterRequestedSyncCount`.
 * A device that never synced had no server data to lose, so for it a deletion is not news: it just
 * syncs with whatever the dataset holds now, which keeps its own records.
 *
 * A `lastSyncCount` of 0 does not always mean that, though: a push acknowledged after another
 * writer got in leaves it at 0 while the device holds records the server stored (rows with a sync
 * count above 0). A pull from 0 lists every record the server has, tombstones included, and the
 * server cannot say "deleted after 0"; so for such a device a deletion shows as a dataset that no
 * longer exists, or as a row of its that the server no longer lists. Pass the local rows (`local`)
 * for a pull from 0 to tell; without them a pull from 0 is never a deletion.
 */
export function isRemoteDeletion(
  lastSyncCount: number,
  pull: PullResult,
  local: readonly SyncRecord[] = [],
): boolean {
  if (lastSyncCount > 0) return !pull.datasetExists || pull.datasetDeletedAfterRequestedSyncCount
  const fromServer = local.filter((row) => row.syncCount > 0)
  if (fromServer.length === 0) return false
  if (!pull.datasetExists) return true
  const listed = new Set(pull.records.map((record) => record.key))
  return fromServer.some((row) => !listed.has(row.key))
}

/**
 * What to do with the local copy of a dataset deleted on the server:
 * `keep` re-creates it on the server from the local records; `delete` follows the deletion.
 */
export type RemoteDeletionChoice = 'keep' | 'delete'

/** The choice that loses nothing: keep the dataset while it holds changes the server never saw. */
export function defaultRemoteDeletionChoice(records: readonly SyncRecord[]): RemoteDeletionChoice {
  return records.some((record) => record.dirty) ? 'keep' : 'delete'
}

/** What {@link planRemoteDeletion} decided to store, remove, and whether the dataset goes. */
export interface RemoteDeletionPlan {
  /** Rows to store. */
  readonly records: readonly SyncRecord[]
  /** Rows to remove outright. */
  readonly deleteKeys: readonly string[]
  /**
   * Remove the dataset's metadata too and end the sync: nothing is left locally or remotely.
   * Otherwise the sync starts over from `lastSyncCount` 0.
   */
  readonly dropDataset: boolean
  readonly lastSyncCount: number
}

/**
 * Carries out the choice.
 *
 * `keep`: every live record becomes a new record (dirty, sync count 0), so the push re-creates the
 * dataset; tombstones go, since there is nothing left on the server to remove. If another device
 * has re-created the dataset meanwhile, the pull from 0 turns differing keys into conflicts.
 *
 * `delete`: the local records go. If the server has a new incarnation of the dataset, the device
 * starts over and pulls it; otherwise the dataset is gone on both sides.
 */
export function planRemoteDeletion(
  records: readonly SyncRecord[],
  choice: RemoteDeletionChoice,
  pull: PullResult,
): RemoteDeletionPlan {
  if (choice === 'keep') {
    const live = records.filter((record) => record.value !== null)
    return {
      records: live.map((record) => ({
        ...record,
        syncCount: 0,
        lastModifiedDate: 0,
        lastModifiedBy: null,
        dirty: true,
      })),
      deleteKeys: records.filter((record) => record.value === null).map((record) => record.key),
      dropDataset: false,
      lastSyncCount: 0,
    }
  }
  return {
    records: [],
    deleteKeys: records.map((record) => record.key),
    dropDataset: !pull.datasetExists,
    lastSyncCount: 0,
  }
}

/**
 * Datasets merged into `datasetName` by an identity merge: the names the server reported and the
 * local datasets named `<datasetName>.<oldIdentityId>`. They are reported, never deleted here:
 * the app decides how to fold them in, and the sync of `datasetName` goes on meanwhile.
 */
export function findMergedDatasets(
  datasetName: string,
  remoteNames: readonly string[],
  localNames: readonly string[],
): string[] {
  const prefix = `${datasetName}.`
  const merged = new Set(remoteNames)
  for (const name of localNames) if (name.startsWith(prefix)) merged.add(name)
  merged.delete(datasetName)
  return [...merged].sort()
}
