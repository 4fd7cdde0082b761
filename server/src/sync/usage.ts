import { resourceNotFound } from '../errors.js'
import {
  authorizeDeveloper,
  authorizeIdentity,
  decodePageToken,
  encodePageToken,
  optionalCount,
} from './access.js'
import type { OperationContext } from './context.js'
import { poolIsKnown } from './pools.js'
import { toEpochSeconds } from './wire.js'

/** DescribeIdentityUsage: how many datasets and bytes an identity holds. */
export async function describeIdentityUsage(
  context: OperationContext,
  input: { readonly identityPoolId: string; readonly identityId: string },
) {
  authorizeIdentity(context.principal, input.identityPoolId, input.identityId)
  return context.store.transaction(async (tx) => {
    const identity = await tx.getIdentity(input.identityId)
    const usage = await tx.identityUsage(input.identityId)
    if (identity === undefined && usage.datasetCount === 0) {
      throw resourceNotFound(`Identity ${input.identityId} not found`)
    }
    return {
      IdentityUsage: {
        IdentityId: input.identityId,
        IdentityPoolId: input.identityPoolId,
        DatasetCount: usage.datasetCount,
        DataStorage: usage.dataStorage,
        ...(usage.lastModifiedDate === null
          ? {}
          : { LastModifiedDate: toEpochSeconds(usage.lastModifiedDate) }),
      },
    }
  })
}

async function poolUsage(context: OperationContext, identityPoolId: string) {
  return context.store.transaction(async (tx) => {
    if (!(await poolIsKnown(tx, identityPoolId)))
      throw resourceNotFound(`Identity pool ${identityPoolId} not found`)
    const usage = await tx.poolUsage(identityPoolId)
    return {
      IdentityPoolId: identityPoolId,
      SyncSessionsCount: await tx.syncSessionsCount(identityPoolId),
      DataStorage: usage.dataStorage,
      ...(usage.lastModifiedDate === null
        ? {}
        : { LastModifiedDate: toEpochSeconds(usage.lastModifiedDate) }),
    }
  })
}

/** DescribeIdentityPoolUsage (developer): sync sessions and bytes of a pool. */
export async function describeIdentityPoolUsage(
  context: OperationContext,
  input: { readonly identityPoolId: string },
) {
  authorizeDeveloper(context.principal, input.identityPoolId)
  return { IdentityPoolUsage: await poolUsage(context, input.identityPoolId) }
}

function isPoolToken(value: unknown): value is { after: string } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { after?: unknown }).after === 'string'
  )
}

/** ListIdentityPoolUsage (developer): every pool with identities, paged by `maxResults` (default 60). */
export async function listIdentityPoolUsage(
  context: OperationContext,
  input: { readonly maxResults?: unknown; readonly nextToken?: unknown },
) {
  authorizeDeveloper(context.principal)
  const maxResults = optionalCount('maxResults', input.maxResults, { min: 1, max: 60 }) ?? 60
  const page = decodePageToken(input.nextToken, isPoolToken)
  const ids = await context.store.transaction((tx) =>
    tx.listPoolIds({ ...(page === undefined ? {} : { afterPoolId: page.after }), limit: maxResults + 1 }),
  )
  const more = ids.length > maxResults
  const pageIds = more ? ids.slice(0, maxResults) : ids
  const usages = []
  for (const id of pageIds) usages.push(await poolUsage(context, id))
  const last = pageIds[pageIds.length - 1]
  return {
    IdentityPoolUsages: usages,
    MaxResults: maxResults,
    Count: usages.length,
    ...(more && last !== undefined ? { NextToken: encodePageToken({ after: last }) } : {}),
  }
}
