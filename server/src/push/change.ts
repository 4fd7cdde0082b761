import type { StoreTx } from '../store/contract.js'

/** A committed change of a dataset, as push delivery needs it. */
export interface DatasetChange {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  /** The dataset's sync count after the change. */
  readonly syncCount: number
  /** The DeviceId the writer sent with UpdateRecords, so the change is not pushed back to it. */
  readonly originDeviceId: string | null
  readonly kind: 'updated' | 'deleted'
}

/**
 * Where the operations report changes. `inTransaction` runs inside the transaction that makes the
 * change (an outbox row commits or rolls back with it); `afterCommit` runs once it is durable (live
 * channels are told only of what will not be rolled back).
 */
export interface ChangeListener {
  inTransaction?(tx: StoreTx, change: DatasetChange): Promise<void>
  afterCommit?(change: DatasetChange): void
}
