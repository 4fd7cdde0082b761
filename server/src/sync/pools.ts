import type { ForUpdate, PoolRow, StoreTx } from '../store/contract.js'

/** The configuration of a pool nobody configured yet. */
export const defaultPool = (identityPoolId: string): PoolRow => ({
  identityPoolId,
  pushSync: null,
  cognitoStreams: null,
  events: null,
  bulkPublishStatus: 'NOT_STARTED',
  bulkPublishStartTime: null,
  bulkPublishCompleteTime: null,
  bulkPublishFailureMessage: null,
})

/**
 * A pool's row, or the defaults of a pool nobody configured yet. Read `forUpdate` to write it back:
 * pools are shared by all their identities, so a read-modify-write must hold the row.
 */
export async function readPool(tx: StoreTx, identityPoolId: string, options?: ForUpdate): Promise<PoolRow> {
  return (await tx.getPool(identityPoolId, options)) ?? defaultPool(identityPoolId)
}

/** Pools are implicit: one is known once it has an identity or a configuration. */
export async function poolIsKnown(tx: StoreTx, identityPoolId: string): Promise<boolean> {
  return (await tx.getPool(identityPoolId)) !== undefined || (await tx.poolHasIdentities(identityPoolId))
}
