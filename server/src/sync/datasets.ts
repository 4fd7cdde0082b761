import { invalidParameter, resourceNotFound } from '../errors.js'
import {
  authorizeIdentity,
  checkDatasetName,
  decodePageToken,
  encodePageToken,
  optionalCount,
} from './access.js'
import type { OperationContext } from './context.js'
import { type WireDataset, wireDataset } from './wire.js'

export interface DatasetInput {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
}

/** DescribeDataset: the dataset's metadata; a dataset that does not exist (or was deleted) is a 404. */
export async function describeDataset(
  context: OperationContext,
  input: DatasetInput,
): Promise<{ Dataset: WireDataset }> {
  authorizeIdentity(context.principal, input.identityPoolId, input.identityId)
  const name = checkDatasetName(input.datasetName, context)
  return context.store.transaction(async (tx) => {
    const dataset = await tx.getDataset(input.identityId, name)
    if (dataset === undefined || !dataset.exists) throw resourceNotFound(`Dataset ${name} not found`)
    return { Dataset: wireDataset(dataset) }
  })
}

/**
 * DeleteDataset: removes the records and marks the dataset deleted, keeping its counter. The
 * deletion itself takes a sync count, so a device that had synced up to the last write still sees
 * `DatasetDeletedAfterRequestedSyncCount` once the dataset is re-created, and drops the old records.
 *
 * `deviceId` (query `deviceId`, which Cognito's API does not have and AWS SDK clients do not send)
 * names the deleting device, as UpdateRecords' DeviceId does: it is not pushed its own deletion.
 */
export async function deleteDataset(
  context: OperationContext,
  input: DatasetInput & { readonly deviceId?: string | undefined },
): Promise<{ Dataset: WireDataset }> {
  authorizeIdentity(context.principal, input.identityPoolId, input.identityId)
  const name = checkDatasetName(input.datasetName, context)
  if (input.deviceId !== undefined && input.deviceId.length > 256)
    throw invalidParameter('deviceId must be at most 256 characters')
  return context.store
    .transaction(
      async (tx) => {
        const dataset = await tx.getDataset(input.identityId, name)
        if (dataset === undefined || !dataset.exists) throw resourceNotFound(`Dataset ${name} not found`)
        const deletedAt = dataset.syncCount + 1
        await tx.deleteAllRecords(input.identityId, name)
        await tx.putDataset({
          ...dataset,
          exists: false,
          syncCount: deletedAt,
          deletedAtSyncCount: deletedAt,
          lastModifiedDate: context.now,
          numRecords: 0,
          dataStorage: 0,
          mergedInto: null,
        })
        const change = {
          identityPoolId: dataset.identityPoolId,
          identityId: input.identityId,
          datasetName: name,
          syncCount: deletedAt,
          originDeviceId: input.deviceId === undefined || input.deviceId === '' ? null : input.deviceId,
          kind: 'deleted' as const,
        }
        await context.changes?.inTransaction?.(tx, change)
        return { output: { Dataset: wireDataset(dataset) }, change }
      },
      { lock: input.identityId },
    )
    .then(({ output, change }) => {
      context.changes?.afterCommit?.(change)
      return output
    })
}

export interface ListDatasetsInput {
  readonly identityPoolId: string
  readonly identityId: string
  readonly maxResults?: unknown
  readonly nextToken?: unknown
}

function isNameToken(value: unknown): value is { after: string } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { after?: unknown }).after === 'string'
  )
}

/** ListDatasets: the identity's datasets in name order, all of them unless `maxResults` pages. */
export async function listDatasets(
  context: OperationContext,
  input: ListDatasetsInput,
): Promise<{ Datasets: WireDataset[]; Count: number; NextToken?: string }> {
  authorizeIdentity(context.principal, input.identityPoolId, input.identityId)
  const maxResults = optionalCount('maxResults', input.maxResults, { min: 1 })
  const page = decodePageToken(input.nextToken, isNameToken)
  return context.store.transaction(async (tx) => {
    const rows = await tx.listDatasets(input.identityId, {
      ...(page === undefined ? {} : { afterName: page.after }),
      ...(maxResults === undefined ? {} : { limit: maxResults + 1 }),
    })
    const more = maxResults !== undefined && rows.length > maxResults
    const pageRows = more ? rows.slice(0, maxResults) : rows
    const output: { Datasets: WireDataset[]; Count: number; NextToken?: string } = {
      Datasets: pageRows.map(wireDataset),
      Count: pageRows.length,
    }
    const last = pageRows[pageRows.length - 1]
    if (more && last !== undefined) output.NextToken = encodePageToken({ after: last.name })
    return output
  })
}
