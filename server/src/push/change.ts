import type { RecordRow, StoreTx } from '../store/contract.js'

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
  /**
   * For an UpdateRecords: the dataset's sync count before it and the records it stored. The live
   * channel sends small ones along, so a device at `after` applies them without pulling.
   */
  readonly written?: { readonly after: number; readonly records: readonly RecordRow[] }
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

/**
 * One listener that tells each of `listeners` in order (undefined ones are skipped, so optional
 * listeners can be passed as they are). `inTransaction` stops at the first failure: the change
 * rolls back, so later listeners must not record it. `afterCommit` tells every listener even when
 * one throws, because the change is durable whatever a listener does; the first error is then
 * rethrown so it is still reported.
 */
export function combineChangeListeners(
  ...listeners: ReadonlyArray<ChangeListener | undefined>
): ChangeListener {
  const present = listeners.filter((listener): listener is ChangeListener => listener !== undefined)
  return {
    async inTransaction(tx, change) {
      for (const listener of present) await listener.inTransaction?.(tx, change)
    },
    afterCommit(change) {
      const errors: unknown[] = []
      for (const listener of present) {
        try {
          listener.afterCommit?.(change)
        } catch (error) {
          errors.push(error)
        }
      }
      if (errors.length > 0) throw errors[0]
    },
  }
}
