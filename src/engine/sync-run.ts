import type { StorageWriteTx } from '../contracts/storage.js'
import type { Transport } from '../contracts/transport.js'
import type { DatasetMeta } from '../core/model.js'
import type { DatasetState } from './dataset-state.js'
import type { SyncResult } from './events.js'
import type { SynchronizeOptions } from './sync-decisions.js'

/** One sync's inputs: what to sync, for whom, through what, and the signal that cancels it. */
export interface SyncRun {
  readonly name: string
  readonly identityId: string
  readonly transport: Transport
  readonly signal: AbortSignal
  /** The `synchronize()` call's own options; they win over the manager's handlers. */
  readonly options: SynchronizeOptions | undefined
  /**
   * The device holds no copy of the dataset (a push named it): take it up if the server has it,
   * and leave nothing behind if it does not.
   */
  readonly adopt?: boolean
  /** The dataset's state on this device: where the session token for the next direct push is kept. */
  readonly state: DatasetState
}

/** The result of a sync that changed nothing; the caller adds what it did. */
export const NOTHING: Omit<SyncResult, 'lastSyncCount'> = {
  updatedRecords: 0,
  conflicts: 0,
  pushed: 0,
  deleted: false,
  path: 'full',
}

/** Stores the dataset's metadata with `changes` applied. */
export async function putMeta(
  tx: StorageWriteTx,
  meta: DatasetMeta,
  changes: Partial<DatasetMeta>,
): Promise<void> {
  await tx.putDataset({ ...meta, ...changes })
}
