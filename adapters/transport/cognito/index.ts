/**
 * The transport over the AWS SDK v3 Cognito Sync client: Amazon Cognito Sync itself, or any server
 * that speaks its protocol (pushsync-server included). The app builds the `CognitoSyncClient` (region
 * or endpoint, credentials from Cognito Identity, retry policy) and this adapter runs the sync
 * operations of one identity with it, turning every SDK error into a failure value.
 *
 * Install `@aws-sdk/client-cognito-sync` (an optional peer dependency) to use it.
 *
 * @module
 */
import {
  type CognitoSyncClient,
  DeleteDatasetCommand,
  DescribeDatasetCommand,
  ListDatasetsCommand,
  ListRecordsCommand,
  RegisterDeviceCommand,
  type Platform as SdkPlatform,
  SubscribeToDatasetCommand,
  UnsubscribeFromDatasetCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import type {
  DeleteDatasetRequest,
  ListRecordsRequest,
  Transport,
  TransportFailure,
  UpdateRecordsRequest,
} from '../../../src/contracts/transport.js'
import type { Platform } from '../../../src/core/model.js'
import { fail, ok, type Result } from '../../../src/core/result.js'
import {
  type DatasetsListing,
  readDate,
  readDescribeDatasetAnswer,
  readListDatasetsAnswer,
  readListRecordsAnswer,
  readRegisterDeviceAnswer,
  readUpdateRecordsResult,
} from '../../../src/core/wire.js'
import { abortedFailure, mapCognitoError } from './map-error.js'

/** What `createCognitoTransport` takes: the app's AWS SDK client and the identity it is bound to. */
export interface CognitoTransportOptions {
  /**
   * The client to send with, configured by the app: `region` (or `endpoint` for a self-hosted
   * server), `credentials` of the identity (usually `fromCognitoIdentityPool`), and its retry policy:
   * the SDK retries throttling, 5xx answers and network errors (`maxAttempts`, 3 by default) before
   * this transport reports a failure. Lower it when the app retries by itself.
   */
  readonly client: CognitoSyncClient
  readonly identityPoolId: string
  /** The identity whose data this transport reads and writes; the credentials must be its own. */
  readonly identityId: string
}

const NAME = 'transport:cognito'
/** The page size of ListDatasets, as Cognito's Android and JavaScript clients use. */
const DATASETS_PAGE_SIZE = 64

/** Creates the transport of one identity over the given client. It holds no state of its own. */
export function createCognitoTransport(options: CognitoTransportOptions): Transport {
  const { client, identityPoolId, identityId } = options
  const ids = { IdentityPoolId: identityPoolId, IdentityId: identityId }

  /**
   * Sends one command and reads its output. An SDK rejection becomes a failure value; `read` turns an
   * output of the wrong shape into `protocol`.
   */
  async function call<TOutput, TValue>(
    send: (abortSignal: AbortSignal | undefined) => Promise<TOutput>,
    read: (output: TOutput) => Result<TValue, TransportFailure>,
    signal: AbortSignal | undefined,
  ): Promise<Result<TValue, TransportFailure>> {
    // The SDK would resolve credentials (maybe a network round trip) before noticing the abort.
    if (signal?.aborted === true) return fail(abortedFailure(signal))
    let output: TOutput
    try {
      output = await send(signal)
    } catch (error) {
      return fail(mapCognitoError(error, signal))
    }
    return read(output)
  }

  const sendOptions = (abortSignal: AbortSignal | undefined) =>
    abortSignal === undefined ? undefined : { abortSignal }

  return {
    name: NAME,
    identityPoolId,
    identityId,

    listRecords(request: ListRecordsRequest, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new ListRecordsCommand({
              ...ids,
              DatasetName: request.datasetName,
              LastSyncCount: request.lastSyncCount,
              ...(request.nextToken === undefined ? {} : { NextToken: request.nextToken }),
              ...(request.maxResults === undefined ? {} : { MaxResults: request.maxResults }),
              ...(request.syncSessionToken === undefined
                ? {}
                : { SyncSessionToken: request.syncSessionToken }),
            }),
            sendOptions(abortSignal),
          ),
        (output) => readListRecordsAnswer(output, readDate),
        signal,
      )
    },

    updateRecords(request: UpdateRecordsRequest, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new UpdateRecordsCommand({
              ...ids,
              DatasetName: request.datasetName,
              SyncSessionToken: request.syncSessionToken,
              ...(request.deviceId === undefined ? {} : { DeviceId: request.deviceId }),
              RecordPatches: request.patches.map((patch) => ({
                Op: patch.op,
                Key: patch.key,
                // A remove carries no value: Cognito reads a missing value as a deletion.
                ...(patch.value === null ? {} : { Value: patch.value }),
                SyncCount: patch.syncCount,
                DeviceLastModifiedDate: new Date(patch.deviceLastModifiedDate),
              })),
            }),
            sendOptions(abortSignal),
          ),
        (output) => readUpdateRecordsResult(output, readDate),
        signal,
      )
    },

    async listDatasets(signal?: AbortSignal) {
      let listing: DatasetsListing | undefined
      do {
        const before = listing
        const token = before?.nextToken ?? null
        const page = await call(
          (abortSignal) =>
            client.send(
              new ListDatasetsCommand({
                ...ids,
                MaxResults: DATASETS_PAGE_SIZE,
                ...(token === null ? {} : { NextToken: token }),
              }),
              sendOptions(abortSignal),
            ),
          (output) => readListDatasetsAnswer(output, readDate, before),
          signal,
        )
        if (!page.ok) return page
        listing = page.value
      } while (listing.nextToken !== null)
      return ok(listing.datasets)
    },

    describeDataset(datasetName: string, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new DescribeDatasetCommand({ ...ids, DatasetName: datasetName }),
            sendOptions(abortSignal),
          ),
        (output) => readDescribeDatasetAnswer(output, readDate),
        signal,
      )
    },

    // Cognito's DeleteDataset carries no device id, so the request's is left out.
    deleteDataset({ datasetName }: DeleteDatasetRequest, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new DeleteDatasetCommand({ ...ids, DatasetName: datasetName }),
            sendOptions(abortSignal),
          ),
        () => ok(undefined),
        signal,
      )
    },

    registerDevice(platform: Platform, token: string, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new RegisterDeviceCommand({
              ...ids,
              // `WEBPUSH` is pushsync's own platform: the SDK's enum does not list it, the server takes it.
              Platform: platform as SdkPlatform,
              Token: token,
            }),
            sendOptions(abortSignal),
          ),
        readRegisterDeviceAnswer,
        signal,
      )
    },

    subscribe(datasetName: string, deviceId: string, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new SubscribeToDatasetCommand({ ...ids, DatasetName: datasetName, DeviceId: deviceId }),
            sendOptions(abortSignal),
          ),
        () => ok(undefined),
        signal,
      )
    },

    unsubscribe(datasetName: string, deviceId: string, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new UnsubscribeFromDatasetCommand({ ...ids, DatasetName: datasetName, DeviceId: deviceId }),
            sendOptions(abortSignal),
          ),
        () => ok(undefined),
        signal,
      )
    },
  }
}
