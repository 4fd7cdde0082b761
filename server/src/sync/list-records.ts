import { invalidParameter } from '../errors.js'
import type { RecordCursor } from '../store/contract.js'
import {
  authorizeIdentity,
  checkDatasetName,
  decodePageToken,
  encodePageToken,
  optionalCount,
} from './access.js'
import type { OperationContext } from './context.js'
import { type WireRecord, wireRecord } from './wire.js'

export interface ListRecordsInput {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  readonly lastSyncCount?: unknown
  readonly maxResults?: unknown
  readonly nextToken?: unknown
  readonly syncSessionToken?: unknown
}

export interface ListRecordsOutput {
  Records: WireRecord[]
  NextToken?: string
  Count: number
  DatasetSyncCount: number
  LastModifiedBy?: string
  MergedDatasetNames?: string[]
  DatasetExists: boolean
  DatasetDeletedAfterRequestedSyncCount: boolean
  SyncSessionToken: string
}

interface PageToken {
  /** The lastSyncCount the listing started from: a token is only good for the same listing. */
  readonly since: number
  readonly after: RecordCursor
}

function isPageToken(value: unknown): value is PageToken {
  if (typeof value !== 'object' || value === null) return false
  const { since, after } = value as Partial<PageToken>
  return (
    Number.isSafeInteger(since) &&
    typeof after === 'object' &&
    after !== null &&
    Number.isSafeInteger(after.syncCount) &&
    typeof after.key === 'string'
  )
}

/**
 * ListRecords: the records changed after `lastSyncCount` (tombstones included), the whole set at once
 * unless `maxResults` asks for pages (iOS never pages, so the default must return everything).
 *
 * A dataset deleted after the caller's `lastSyncCount` is flagged so the caller can react; a caller
 * at 0 never synced and has nothing to reconcile, so it is not told (Android would otherwise ask its
 * app to handle the deletion of a dataset it never had). Counters never reset, so after a
 * re-creation every live record is newer than the caller's count and comes back.
 */
export async function listRecords(
  context: OperationContext,
  input: ListRecordsInput,
): Promise<ListRecordsOutput> {
  const { identityPoolId, identityId } = input
  authorizeIdentity(context.principal, identityPoolId, identityId)
  const datasetName = checkDatasetName(input.datasetName, context)
  const lastSyncCount = optionalCount('lastSyncCount', input.lastSyncCount) ?? 0
  const maxResults = optionalCount('maxResults', input.maxResults, { min: 1 })
  const page = decodePageToken(input.nextToken, isPageToken)
  if (page !== undefined && page.since !== lastSyncCount) throw invalidParameter('NextToken is not valid')
  const binding = { identityPoolId, identityId, datasetName }
  const presented = input.syncSessionToken

  return context.store.transaction(async (tx) => {
    if (presented !== undefined && presented !== '') {
      const { tokenId } = context.sessions.verify(presented, binding, context.now)
      if (await tx.isSessionSpent(tokenId))
        throw invalidParameter('SyncSessionToken not valid for these inputs')
    }
    const syncSessionToken =
      typeof presented === 'string' && presented !== ''
        ? presented
        : context.sessions.issue(binding, context.now, context.randomId)
    const dataset = await tx.getDataset(identityId, datasetName)
    // Datasets merged in from another identity are reported even before this one exists here.
    const merged = await tx.listMergedDatasetNames(identityId, datasetName)
    const deletedAfter =
      dataset !== undefined && lastSyncCount > 0 && dataset.deletedAtSyncCount > lastSyncCount
    if (dataset === undefined || !dataset.exists) {
      return {
        Records: [],
        Count: 0,
        DatasetSyncCount: dataset?.syncCount ?? 0,
        DatasetExists: false,
        DatasetDeletedAfterRequestedSyncCount: deletedAfter,
        SyncSessionToken: syncSessionToken,
        ...(merged.length > 0 ? { MergedDatasetNames: merged } : {}),
      }
    }
    const query = {
      afterSyncCount: lastSyncCount,
      ...(page === undefined ? {} : { after: page.after }),
      // One extra row tells whether another page follows.
      ...(maxResults === undefined ? {} : { limit: maxResults + 1 }),
    }
    const rows = await tx.listRecords(identityId, datasetName, query)
    const more = maxResults !== undefined && rows.length > maxResults
    const pageRows = more ? rows.slice(0, maxResults) : rows
    const last = pageRows[pageRows.length - 1]
    const output: ListRecordsOutput = {
      Records: pageRows.map(wireRecord),
      Count: pageRows.length,
      DatasetSyncCount: dataset.syncCount,
      DatasetExists: true,
      DatasetDeletedAfterRequestedSyncCount: deletedAfter,
      SyncSessionToken: syncSessionToken,
    }
    if (more && last !== undefined) {
      output.NextToken = encodePageToken({
        since: lastSyncCount,
        after: { syncCount: last.syncCount, key: last.key },
      })
    }
    if (dataset.lastModifiedBy !== null) output.LastModifiedBy = dataset.lastModifiedBy
    if (merged.length > 0) output.MergedDatasetNames = merged
    return output
  })
}
