import { CognitoError, invalidParameter, resourceNotFound } from '../errors.js'
import type { DatasetRow, RecordRow } from '../store/contract.js'
import type { StreamSink } from '../streams/sink.js'
import { authorizeDeveloper } from './access.js'
import type { OperationContext } from './context.js'
import { poolIsKnown, readPool } from './pools.js'
import { toEpochSeconds } from './wire.js'

const DAY_MS = 24 * 60 * 60 * 1000
const PAGE = 200

/** A dataset in the Kinesis record shape of Cognito Streams (spec §8); dates in epoch milliseconds. */
export function kinesisRecord(dataset: DatasetRow, records: readonly RecordRow[]): object {
  return {
    identityPoolId: dataset.identityPoolId,
    identityId: dataset.identityId,
    dataSetName: dataset.name,
    operation: 'replace',
    kinesisSyncRecords: records.map((record) => ({
      key: record.key,
      value: record.value,
      syncCount: record.syncCount,
      lastModifiedDate: record.lastModifiedDate,
      deviceLastModifiedDate: record.deviceLastModifiedDate,
      op: record.value === null ? 'remove' : 'replace',
    })),
    lastModifiedDate: dataset.lastModifiedDate,
    kinesisSyncRecordsURL: null,
    payloadType: 'Inline',
    syncCount: dataset.syncCount,
  }
}

/**
 * BulkPublish (developer): replays every dataset of the pool into its configured stream, in the
 * background. One may run at a time (DuplicateRequestException) and one may succeed per 24 hours
 * (AlreadyStreamedException); streaming must be configured and enabled.
 */
export async function bulkPublish(
  context: OperationContext,
  input: { readonly identityPoolId: string },
  sink: StreamSink,
  clock: () => number,
  onError: (error: unknown) => void,
): Promise<{ IdentityPoolId: string }> {
  authorizeDeveloper(context.principal, input.identityPoolId)
  const { identityPoolId } = input
  const streamName = await context.store.transaction(async (tx) => {
    if (!(await poolIsKnown(tx, identityPoolId)))
      throw resourceNotFound(`Identity pool ${identityPoolId} not found`)
    const pool = await readPool(tx, identityPoolId, { forUpdate: true })
    const streams =
      pool.cognitoStreams === null ? {} : (JSON.parse(pool.cognitoStreams) as Record<string, unknown>)
    if (typeof streams.StreamName !== 'string' || streams.StreamingStatus !== 'ENABLED') {
      throw invalidParameter('Cognito Streams is not configured and enabled for this identity pool')
    }
    if (pool.bulkPublishStatus === 'IN_PROGRESS') {
      throw new CognitoError('DuplicateRequestException', 'A bulk publish is already in progress')
    }
    if (
      pool.bulkPublishStatus === 'SUCCEEDED' &&
      pool.bulkPublishCompleteTime !== null &&
      context.now - pool.bulkPublishCompleteTime < DAY_MS
    ) {
      throw new CognitoError('AlreadyStreamedException', 'A bulk publish succeeded in the last 24 hours')
    }
    await tx.putPool({
      ...pool,
      bulkPublishStatus: 'IN_PROGRESS',
      bulkPublishStartTime: context.now,
      bulkPublishCompleteTime: null,
      bulkPublishFailureMessage: null,
    })
    return streams.StreamName
  })

  void publishAll(context, identityPoolId, streamName, sink).then(
    () => finish(context, identityPoolId, clock, null),
    (error: unknown) => {
      onError(error)
      return finish(context, identityPoolId, clock, error instanceof Error ? error.message : String(error))
    },
  )
  return { IdentityPoolId: identityPoolId }
}

async function publishAll(
  context: OperationContext,
  identityPoolId: string,
  streamName: string,
  sink: StreamSink,
) {
  let after: { identityId: string; name: string } | undefined
  for (;;) {
    const datasets = await context.store.transaction((tx) =>
      tx.listPoolDatasets(identityPoolId, { ...(after === undefined ? {} : { after }), limit: PAGE }),
    )
    for (const dataset of datasets) {
      const records = await context.store.transaction((tx) =>
        tx.listRecords(dataset.identityId, dataset.name, { afterSyncCount: 0 }),
      )
      await sink.put(streamName, [kinesisRecord(dataset, records)])
    }
    const last = datasets[datasets.length - 1]
    if (datasets.length < PAGE || last === undefined) return
    after = { identityId: last.identityId, name: last.name }
  }
}

async function finish(
  context: OperationContext,
  identityPoolId: string,
  clock: () => number,
  failure: string | null,
) {
  await context.store.transaction(async (tx) => {
    const pool = await readPool(tx, identityPoolId, { forUpdate: true })
    await tx.putPool({
      ...pool,
      bulkPublishStatus: failure === null ? 'SUCCEEDED' : 'FAILED',
      bulkPublishCompleteTime: failure === null ? clock() : null,
      bulkPublishFailureMessage: failure,
    })
  })
}

/** GetBulkPublishDetails (developer): the state of the pool's last bulk publish. */
export async function getBulkPublishDetails(
  context: OperationContext,
  input: { readonly identityPoolId: string },
) {
  authorizeDeveloper(context.principal, input.identityPoolId)
  return context.store.transaction(async (tx) => {
    if (!(await poolIsKnown(tx, input.identityPoolId))) {
      throw resourceNotFound(`Identity pool ${input.identityPoolId} not found`)
    }
    const pool = await readPool(tx, input.identityPoolId)
    return {
      IdentityPoolId: input.identityPoolId,
      BulkPublishStatus: pool.bulkPublishStatus,
      ...(pool.bulkPublishStartTime === null
        ? {}
        : { BulkPublishStartTime: toEpochSeconds(pool.bulkPublishStartTime) }),
      ...(pool.bulkPublishCompleteTime === null
        ? {}
        : { BulkPublishCompleteTime: toEpochSeconds(pool.bulkPublishCompleteTime) }),
      ...(pool.bulkPublishFailureMessage === null ? {} : { FailureMessage: pool.bulkPublishFailureMessage }),
    }
  })
}
