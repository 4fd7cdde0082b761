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
  type _Record,
  type CognitoSyncClient,
  type Dataset,
  DeleteDatasetCommand,
  DescribeDatasetCommand,
  ListDatasetsCommand,
  ListRecordsCommand,
  type ListRecordsResponse,
  RegisterDeviceCommand,
  type Platform as SdkPlatform,
  SubscribeToDatasetCommand,
  UnsubscribeFromDatasetCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import type {
  ListRecordsRequest,
  RecordsPage,
  RemoteDataset,
  Transport,
  TransportFailure,
  UpdateRecordsRequest,
} from '../../../src/contracts/transport.js'
import type { Platform, RemoteRecord } from '../../../src/core/model.js'
import { fail, ok, type Result } from '../../../src/core/result.js'
import { abortedFailure, mapCognitoError } from './map-error.js'

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
   * Sends one command and reads its output. An SDK rejection becomes a failure value; an output of
   * the wrong shape becomes `protocol`.
   */
  async function call<TOutput, TValue>(
    send: (abortSignal: AbortSignal | undefined) => Promise<TOutput>,
    read: (output: TOutput) => TValue,
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
    try {
      return ok(read(output))
    } catch (error) {
      if (error instanceof ShapeError) return fail({ kind: 'protocol', message: error.message })
      throw error
    }
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
        readRecordsPage,
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
        (output) => list(output.Records, 'Records').map(readRecord),
        signal,
      )
    },

    async listDatasets(signal?: AbortSignal) {
      const datasets: RemoteDataset[] = []
      const seen = new Set<string>()
      let nextToken: string | undefined
      do {
        const token = nextToken
        const page = await call(
          (abortSignal) =>
            client.send(
              new ListDatasetsCommand({
                ...ids,
                MaxResults: DATASETS_PAGE_SIZE,
                ...(token === undefined ? {} : { NextToken: token }),
              }),
              sendOptions(abortSignal),
            ),
          (output) => ({
            datasets: list(output.Datasets, 'Datasets').map(readDataset),
            nextToken: optionalString(output.NextToken, 'NextToken') ?? undefined,
          }),
          signal,
        )
        if (!page.ok) return page
        datasets.push(...page.value.datasets)
        nextToken = page.value.nextToken
        // A server that hands out the same token twice would keep this loop going forever.
        if (nextToken !== undefined && seen.has(nextToken)) {
          return fail({ kind: 'protocol', message: 'ListDatasets returned the same NextToken twice' })
        }
        if (nextToken !== undefined) seen.add(nextToken)
      } while (nextToken !== undefined)
      return ok(datasets)
    },

    describeDataset(datasetName: string, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new DescribeDatasetCommand({ ...ids, DatasetName: datasetName }),
            sendOptions(abortSignal),
          ),
        (output) => {
          if (output.Dataset === undefined) throw new ShapeError('DescribeDataset returned no Dataset')
          return readDataset(output.Dataset)
        },
        signal,
      )
    },

    deleteDataset(datasetName: string, signal?: AbortSignal) {
      return call(
        (abortSignal) =>
          client.send(
            new DeleteDatasetCommand({ ...ids, DatasetName: datasetName }),
            sendOptions(abortSignal),
          ),
        () => undefined,
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
        (output) => {
          const deviceId = optionalString(output.DeviceId, 'DeviceId')
          if (deviceId === null || deviceId === '')
            throw new ShapeError('RegisterDevice returned no DeviceId')
          return deviceId
        },
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
        () => undefined,
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
        () => undefined,
        signal,
      )
    },
  }
}

/** An output the SDK parsed but that lacks what the port promises. */
class ShapeError extends Error {}

function readRecordsPage(output: ListRecordsResponse): RecordsPage {
  const token = optionalString(output.SyncSessionToken, 'SyncSessionToken')
  if (token === null || token === '') throw new ShapeError('ListRecords returned no SyncSessionToken')
  return {
    records: list(output.Records, 'Records').map(readRecord),
    nextToken: optionalString(output.NextToken, 'NextToken'),
    datasetSyncCount: count(output.DatasetSyncCount, 'DatasetSyncCount'),
    // Absent flags and lists are false and empty, as AWS leaves empty members out of answers.
    datasetExists: output.DatasetExists === true,
    datasetDeletedAfterRequestedSyncCount: output.DatasetDeletedAfterRequestedSyncCount === true,
    mergedDatasetNames: list(output.MergedDatasetNames, 'MergedDatasetNames').map((name) => {
      if (typeof name !== 'string') throw new ShapeError('MergedDatasetNames holds a non-string')
      return name
    }),
    lastModifiedBy: optionalString(output.LastModifiedBy, 'LastModifiedBy'),
    syncSessionToken: token,
  }
}

function readRecord(record: _Record): RemoteRecord {
  if (typeof record !== 'object' || record === null) throw new ShapeError('a record is not an object')
  if (typeof record.Key !== 'string') throw new ShapeError('a record has no Key')
  const field = `record ${JSON.stringify(record.Key)}`
  return {
    key: record.Key,
    // A missing value is a tombstone; an empty string is a value.
    value: optionalString(record.Value, `${field} Value`),
    syncCount: count(record.SyncCount, `${field} SyncCount`),
    lastModifiedDate: epochMs(record.LastModifiedDate, `${field} LastModifiedDate`),
    lastModifiedBy: optionalString(record.LastModifiedBy, `${field} LastModifiedBy`),
    deviceLastModifiedDate:
      record.DeviceLastModifiedDate === undefined || record.DeviceLastModifiedDate === null
        ? null
        : epochMs(record.DeviceLastModifiedDate, `${field} DeviceLastModifiedDate`),
  }
}

function readDataset(dataset: Dataset): RemoteDataset {
  if (typeof dataset !== 'object' || dataset === null) throw new ShapeError('a dataset is not an object')
  if (typeof dataset.DatasetName !== 'string') throw new ShapeError('a dataset has no DatasetName')
  const field = `dataset ${JSON.stringify(dataset.DatasetName)}`
  return {
    name: dataset.DatasetName,
    creationDate: epochMs(dataset.CreationDate, `${field} CreationDate`),
    lastModifiedDate: epochMs(dataset.LastModifiedDate, `${field} LastModifiedDate`),
    lastModifiedBy: optionalString(dataset.LastModifiedBy, `${field} LastModifiedBy`),
    dataStorage: count(dataset.DataStorage, `${field} DataStorage`),
    numRecords: count(dataset.NumRecords, `${field} NumRecords`),
  }
}

function list<T>(value: T[] | undefined, field: string): T[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new ShapeError(`${field} is not a list`)
  return value
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new ShapeError(`${field} is not a string`)
  return value
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ShapeError(`${field} is not a count: ${String(value)}`)
  }
  return value
}

/** The SDK parses the wire's epoch seconds into a `Date`; the port counts epoch milliseconds. */
function epochMs(value: unknown, field: string): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ShapeError(`${field} is not a date: ${String(value)}`)
  }
  return value.getTime()
}
