import { invalidParameter, limitExceeded, resourceNotFound } from '../errors.js'
import { authorizeDeveloper, checkIdentityId, checkPoolId } from './access.js'
import type { OperationContext } from './context.js'

/**
 * Identity merge, an admin extension (Cognito merged identities when one login was linked to two of
 * them). Every dataset of `sourceIdentityId` moves to `identityId` as `NAME.SOURCEID`, records and
 * sync counts intact, and `NAME`'s ListRecords reports it in `MergedDatasetNames` until the app
 * folds it in and deletes it. The source identity then owns nothing: its credentials, even ones
 * issued before, are refused, and its logins lead to the surviving identity.
 *
 * Refused as a whole, changing nothing, when a merged name would be longer than a dataset name may
 * be, or the survivor would exceed its dataset quota.
 */
export async function mergeIdentities(
  context: OperationContext,
  input: { readonly identityPoolId: string; readonly identityId: string; readonly body: unknown },
): Promise<{ IdentityId: string; MergedDatasetNames: string[] }> {
  authorizeDeveloper(context.principal, input.identityPoolId)
  checkPoolId(input.identityPoolId)
  const target = checkIdentityId(input.identityId)
  const body = (typeof input.body === 'object' && input.body !== null ? input.body : {}) as Record<
    string,
    unknown
  >
  if (typeof body.SourceIdentityId !== 'string') throw invalidParameter('SourceIdentityId is required')
  const source = checkIdentityId(body.SourceIdentityId)
  if (source === target) throw invalidParameter('An identity cannot be merged into itself')

  return context.store.transaction(
    async (tx) => {
      const [targetRow, sourceRow] = [await tx.getIdentity(target), await tx.getIdentity(source)]
      for (const [id, row] of [
        [target, targetRow],
        [source, sourceRow],
      ] as const) {
        if (row === undefined || row.identityPoolId !== input.identityPoolId || row.mergedInto !== null) {
          throw resourceNotFound(`Identity ${id} not found in pool ${input.identityPoolId}`)
        }
      }
      const moving = await tx.listDatasets(source)
      const merged = moving.map((dataset) => ({ dataset, name: `${dataset.name}.${source}` }))
      for (const { name } of merged) {
        if (name.length > context.limits.maxDatasetNameLength) {
          throw invalidParameter(
            `The merged dataset name ${name} would exceed ${context.limits.maxDatasetNameLength} characters`,
          )
        }
      }
      const usage = await tx.identityUsage(target)
      if (usage.datasetCount + merged.length > context.limits.maxDatasetsPerIdentity) {
        throw limitExceeded(
          `Identity ${target} would have more than ${context.limits.maxDatasetsPerIdentity} datasets`,
        )
      }
      for (const { dataset, name } of merged) {
        await tx.moveRecords(
          { identityId: source, dataset: dataset.name },
          { identityId: target, dataset: name },
        )
        await tx.putDataset({ ...dataset, identityId: target, name, mergedInto: dataset.name })
        // The source's row stays, deleted, so its counter is never reused.
        await tx.putDataset({
          ...dataset,
          exists: false,
          syncCount: dataset.syncCount + 1,
          deletedAtSyncCount: dataset.syncCount + 1,
          numRecords: 0,
          dataStorage: 0,
          lastModifiedDate: context.now,
        })
      }
      if (sourceRow !== undefined) await tx.putIdentity({ ...sourceRow, mergedInto: target })
      return { IdentityId: target, MergedDatasetNames: merged.map(({ name }) => name) }
    },
    // Both identities: the source's datasets move, and its own writes must not interleave.
    { lock: [target, source] },
  )
}
