import type { OperationContext } from '../sync/context.js'
import { deleteDataset, describeDataset, listDatasets } from '../sync/datasets.js'
import { setSubscription } from '../sync/devices.js'
import { listRecords } from '../sync/list-records.js'
import { mergeIdentities } from '../sync/merge-identities.js'
import { updateRecords } from '../sync/update-records.js'

/**
 * The operations on one identity's own paths, `/identitypools/{pool}/identities/{identity}/...`,
 * written once for both ways they arrive: as HTTP routes of the app, and as messages of that
 * identity's WebSocket, which runs them without building a web Request (see socket-runner.ts).
 */

/** What an operation reads of its request besides the body: the path's parts, decoded, and the query. */
export interface RouteInput {
  readonly identityPoolId: string
  readonly identityId: string
  /** The named segments of the route's path (`dataset`, `device`), percent-decoded. */
  readonly params: Readonly<Record<string, string>>
  /** The first value of a query parameter, decoded; undefined when absent. */
  query(name: string): string | undefined
}

export interface IdentityRoute {
  readonly method: 'GET' | 'POST' | 'DELETE'
  /** The path under the identity's, with `:name` segments: `datasets/:dataset/records`. */
  readonly path: string
  /** Cognito's name of the operation: the log's and the metrics' label. */
  readonly operation: string
  run(context: OperationContext, input: RouteInput, body: unknown): Promise<object>
}

const dataset = (input: RouteInput) => ({
  identityPoolId: input.identityPoolId,
  identityId: input.identityId,
  datasetName: input.params.dataset ?? '',
})

export const IDENTITY_ROUTES: readonly IdentityRoute[] = [
  {
    method: 'GET',
    path: 'datasets',
    operation: 'ListDatasets',
    run: (ctx, input) =>
      listDatasets(ctx, {
        identityPoolId: input.identityPoolId,
        identityId: input.identityId,
        maxResults: input.query('maxResults'),
        nextToken: input.query('nextToken'),
      }),
  },
  {
    method: 'GET',
    path: 'datasets/:dataset',
    operation: 'DescribeDataset',
    run: (ctx, input) => describeDataset(ctx, dataset(input)),
  },
  {
    method: 'DELETE',
    path: 'datasets/:dataset',
    operation: 'DeleteDataset',
    run: (ctx, input) => deleteDataset(ctx, { ...dataset(input), deviceId: input.query('deviceId') }),
  },
  {
    method: 'POST',
    path: 'datasets/:dataset',
    operation: 'UpdateRecords',
    run: (ctx, input, body) => updateRecords(ctx, { ...dataset(input), body }),
  },
  {
    method: 'GET',
    path: 'datasets/:dataset/records',
    operation: 'ListRecords',
    run: (ctx, input) =>
      listRecords(ctx, {
        ...dataset(input),
        lastSyncCount: input.query('lastSyncCount'),
        maxResults: input.query('maxResults'),
        nextToken: input.query('nextToken'),
        syncSessionToken: input.query('syncSessionToken'),
      }),
  },
  {
    method: 'POST',
    path: 'datasets/:dataset/subscriptions/:device',
    operation: 'SubscribeToDataset',
    run: (ctx, input) =>
      setSubscription(ctx, { ...dataset(input), deviceId: input.params.device ?? '' }, true),
  },
  {
    method: 'DELETE',
    path: 'datasets/:dataset/subscriptions/:device',
    operation: 'UnsubscribeFromDataset',
    run: (ctx, input) =>
      setSubscription(ctx, { ...dataset(input), deviceId: input.params.device ?? '' }, false),
  },
  // Our extension, for admins: fold another identity into this one (Cognito merged on linked logins).
  {
    method: 'POST',
    path: 'merge',
    operation: 'MergeIdentities',
    run: (ctx, input, body) =>
      mergeIdentities(ctx, { identityPoolId: input.identityPoolId, identityId: input.identityId, body }),
  },
]

/**
 * The route of `method` and the path's segments under the identity's (still percent-encoded), with
 * its named segments decoded; undefined when none matches. Throws URIError on a malformed encoding.
 */
export function matchIdentityRoute(
  method: string,
  segments: readonly string[],
): { readonly route: IdentityRoute; readonly params: Record<string, string> } | undefined {
  for (const route of IDENTITY_ROUTES) {
    if (route.method !== method) continue
    const pattern = route.path.split('/')
    if (pattern.length !== segments.length) continue
    const params: Record<string, string> = {}
    let matches = true
    for (let i = 0; i < pattern.length && matches; i++) {
      const part = pattern[i] as string
      const segment = segments[i] as string
      if (part.startsWith(':')) {
        if (segment === '') matches = false
        else params[part.slice(1)] = decodeURIComponent(segment)
      } else matches = part === segment
    }
    if (matches) return { route, params }
  }
  return undefined
}
