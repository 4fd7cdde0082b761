import type { PoolRow, StoreTx } from '../store/contract.js'

/** A pool's row, or the defaults of a pool nobody configured yet. */
export async function readPool(tx: StoreTx, identityPoolId: string): Promise<PoolRow> {
  return (
    (await tx.getPool(identityPoolId)) ?? {
      identityPoolId,
      pushSync: null,
      cognitoStreams: null,
      events: null,
      syncSessionsCount: 0,
      bulkPublishStatus: 'NOT_STARTED',
      bulkPublishStartTime: null,
      bulkPublishCompleteTime: null,
      bulkPublishFailureMessage: null,
    }
  )
}

/** Pools are implicit: one is known once it has an identity or a configuration. */
export async function poolIsKnown(tx: StoreTx, identityPoolId: string): Promise<boolean> {
  return (await tx.getPool(identityPoolId)) !== undefined || (await tx.poolHasIdentities(identityPoolId))
}
