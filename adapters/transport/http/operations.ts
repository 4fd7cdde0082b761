/**
 * Cognito Sync's REST operations (paths, query names, JSON bodies as the AWS SDK sends them) over
 * an exchange of requests and answers: `fetch` for the HTTP transport, the socket (or `fetch`) for
 * the WebSocket transport.
 *
 * @internal Shared by the HTTP and WebSocket transports.
 */
import type {
  DeleteDatasetRequest,
  ListRecordsRequest,
  Transport,
  TransportFailure,
  UpdateRecordsRequest,
} from '../../../src/contracts/transport.js'
import type { Platform } from '../../../src/core/model.js'
import { ok, type Result } from '../../../src/core/result.js'
import {
  type DatasetsListing,
  readDescribeDatasetAnswer,
  readEpochSeconds,
  readListDatasetsAnswer,
  readListRecordsAnswer,
  readRegisterDeviceAnswer,
  readUpdateRecordsResult,
} from '../../../src/core/wire.js'
import type { Exchange } from './answer.js'

/** The page size of ListDatasets, as Cognito's Android and JavaScript clients use. */
const DATASETS_PAGE_SIZE = 64

/** The path of an identity's own resources: every operation but RegisterDevice lies under it. */
export function identityPathOf(identityPoolId: string, identityId: string): string {
  return `/identitypools/${segment(identityPoolId)}/identities/${segment(identityId)}`
}

/** The transport `name` of one identity, whose requests go through `exchange`. */
export function createRestTransport(
  name: string,
  identityPoolId: string,
  identityId: string,
  exchange: Exchange,
): Transport {
  const identityPath = identityPathOf(identityPoolId, identityId)
  const datasetPath = (datasetName: string) => `${identityPath}/datasets/${segment(datasetName)}`

  /** Runs a request and reads its answer; `read` turns an answer of the wrong shape into `protocol`. */
  async function call<TValue>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: object | undefined,
    signal: AbortSignal | undefined,
    read: (answer: Record<string, unknown>) => Result<TValue, TransportFailure>,
  ): Promise<Result<TValue, TransportFailure>> {
    const answer = await exchange(method, path, body, signal)
    if (!answer.ok) return answer
    return read(answer.value)
  }

  return {
    name,
    identityPoolId,
    identityId,

    listRecords(request: ListRecordsRequest, signal?: AbortSignal) {
      const query = [
        `lastSyncCount=${request.lastSyncCount}`,
        ...(request.maxResults === undefined ? [] : [`maxResults=${request.maxResults}`]),
        ...(request.nextToken === undefined ? [] : [`nextToken=${segment(request.nextToken)}`]),
        ...(request.syncSessionToken === undefined
          ? []
          : [`syncSessionToken=${segment(request.syncSessionToken)}`]),
      ]
      return call(
        'GET',
        `${datasetPath(request.datasetName)}/records?${query.join('&')}`,
        undefined,
        signal,
        (answer) => readListRecordsAnswer(answer, readEpochSeconds),
      )
    },

    updateRecords(request: UpdateRecordsRequest, signal?: AbortSignal) {
      const body = {
        SyncSessionToken: request.syncSessionToken,
        ...(request.deviceId === undefined ? {} : { DeviceId: request.deviceId }),
        RecordPatches: request.patches.map((patch) => ({
          Op: patch.op,
          Key: patch.key,
          // A remove carries no value: Cognito reads a missing value as a deletion.
          ...(patch.value === null ? {} : { Value: patch.value }),
          SyncCount: patch.syncCount,
          DeviceLastModifiedDate: toEpochSeconds(patch.deviceLastModifiedDate),
        })),
      }
      return call('POST', datasetPath(request.datasetName), body, signal, (answer) =>
        readUpdateRecordsResult(answer, readEpochSeconds),
      )
    },

    async listDatasets(signal?: AbortSignal) {
      let listing: DatasetsListing | undefined
      do {
        const before = listing
        const token = before?.nextToken ?? null
        const query =
          token === null
            ? `maxResults=${DATASETS_PAGE_SIZE}`
            : `maxResults=${DATASETS_PAGE_SIZE}&nextToken=${segment(token)}`
        const page = await call('GET', `${identityPath}/datasets?${query}`, undefined, signal, (answer) =>
          readListDatasetsAnswer(answer, readEpochSeconds, before),
        )
        if (!page.ok) return page
        listing = page.value
      } while (listing.nextToken !== null)
      return ok(listing.datasets)
    },

    describeDataset(datasetName: string, signal?: AbortSignal) {
      return call('GET', datasetPath(datasetName), undefined, signal, (answer) =>
        readDescribeDatasetAnswer(answer, readEpochSeconds),
      )
    },

    deleteDataset(request: DeleteDatasetRequest, signal?: AbortSignal) {
      // pushsync-server reads the writer's device id from the query, as the event stream does.
      const query = request.deviceId === undefined ? '' : `?deviceId=${segment(request.deviceId)}`
      return call('DELETE', `${datasetPath(request.datasetName)}${query}`, undefined, signal, () =>
        ok(undefined),
      )
    },

    registerDevice(platform: Platform, token: string, signal?: AbortSignal) {
      // The one path with a singular `identity`, as in Cognito's API.
      const path = `/identitypools/${segment(identityPoolId)}/identity/${segment(identityId)}/device`
      return call('POST', path, { Platform: platform, Token: token }, signal, readRegisterDeviceAnswer)
    },

    subscribe(datasetName: string, deviceId: string, signal?: AbortSignal) {
      const path = `${datasetPath(datasetName)}/subscriptions/${segment(deviceId)}`
      return call('POST', path, undefined, signal, () => ok(undefined))
    },

    unsubscribe(datasetName: string, deviceId: string, signal?: AbortSignal) {
      const path = `${datasetPath(datasetName)}/subscriptions/${segment(deviceId)}`
      return call('DELETE', path, undefined, signal, () => ok(undefined))
    },
  }
}

/** Ids, names and tokens may hold `:`, `/`, `?`, `#`...: each travels as one encoded path segment. */
export function segment(value: string): string {
  return encodeURIComponent(value)
}

function toEpochSeconds(ms: number): number {
  return ms / 1000
}
