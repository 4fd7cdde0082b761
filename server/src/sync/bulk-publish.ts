import { setTimeout as sleep } from 'node:timers/promises'
import { CognitoError, invalidParameter, resourceNotFound } from '../errors.js'
import { replaceRecords, streamTargetOf } from '../streams/records.js'
import { type StreamRecord, type StreamSink, StreamSinkError, type StreamTarget } from '../streams/sink.js'
import { authorizeDeveloper } from './access.js'
import type { OperationContext } from './context.js'
import { poolIsKnown, readPool } from './pools.js'
import { toEpochSeconds } from './wire.js'

const DAY_MS = 24 * 60 * 60 * 1000
const PAGE = 200
/** A throttled write is tried this many times, backing off, before the publish fails. */
const ATTEMPTS = 8
const FIRST_BACKOFF_MS = 200

/**
 * BulkPublish (developer): replays every dataset of the pool into its configured stream, in the
 * background. One may run at a time (DuplicateRequestException) and one may succeed per 24 hours
 * (AlreadyStreamedException); streaming must be configured and enabled. It writes to the stream
 * the pool's changes go to, one record per dataset with every record it holds, tombstones included.
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
  const target = await context.store.transaction(async (tx) => {
    if (!(await poolIsKnown(tx, identityPoolId)))
      throw resourceNotFound(`Identity pool ${identityPoolId} not found`)
    const pool = await readPool(tx, identityPoolId, { forUpdate: true })
    const target = streamTargetOf(pool)
    if (target === undefined) {
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
    return target
  })

  void publishAll(context, target, sink, onError).then(
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
  target: StreamTarget,
  sink: StreamSink,
  onError: (error: unknown) => void,
) {
  const { identityPoolId } = target
  let after: { identityId: string; name: string } | undefined
  for (;;) {
    const datasets = await context.store.transaction((tx) =>
      tx.listPoolDatasets(identityPoolId, { ...(after === undefined ? {} : { after }), limit: PAGE }),
    )
    for (const dataset of datasets) {
      const records = await context.store.transaction((tx) =>
        tx.listRecords(dataset.identityId, dataset.name, { afterSyncCount: 0 }),
      )
      const state = {
        identityPoolId: dataset.identityPoolId,
        identityId: dataset.identityId,
        datasetName: dataset.name,
        syncCount: dataset.syncCount,
        lastModifiedDate: dataset.lastModifiedDate,
      }
      const texts = replaceRecords(state, records)
      await putPatiently(
        sink,
        target,
        texts.map((data) => ({ partitionKey: dataset.identityId, data })),
        onError,
      )
    }
    const last = datasets[datasets.length - 1]
    if (datasets.length < PAGE || last === undefined) return
    after = { identityId: last.identityId, name: last.name }
  }
}

/**
 * Writes a dataset's records, waiting out throttling (a bulk publish writes a whole pool at once);
 * a record the stream can never take is reported and skipped, anything else fails the publish.
 */
async function putPatiently(
  sink: StreamSink,
  target: StreamTarget,
  records: readonly StreamRecord[],
  onError: (error: unknown) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await sink.put(target, records)
      return
    } catch (error) {
      const kind = error instanceof StreamSinkError ? error.kind : 'retry'
      if (kind === 'record') {
        onError(error)
        return
      }
      if (kind === 'stream' || attempt >= ATTEMPTS) throw error
      await sleep(Math.random() * FIRST_BACKOFF_MS * 2 ** attempt)
    }
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
