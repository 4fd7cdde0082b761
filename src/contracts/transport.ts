import type { Platform, RecordPatch } from '../core/model.js'
import type { Result } from '../core/result.js'
import type { WireDataset, WireRecordsPage, WireUpdateRecordsAnswer } from '../core/wire.js'

/**
 * The transport port: Cognito Sync's operations for one identity of one pool. Failures are values,
 * never exceptions (an exception is a bug in the transport); each names what went wrong so the
 * engine can decide to retry, resolve, or report.
 */
export interface Transport {
  /** `'transport:<impl>'`, used in error messages. */
  readonly name: string
  readonly identityPoolId: string
  readonly identityId: string
  /** One page of ListRecords. */
  listRecords(
    request: ListRecordsRequest,
    signal?: AbortSignal,
  ): Promise<Result<RecordsPage, TransportFailure>>
  /** UpdateRecords: all patches or none. */
  updateRecords(
    request: UpdateRecordsRequest,
    signal?: AbortSignal,
  ): Promise<Result<UpdateRecordsAnswer, TransportFailure>>
  /** Every dataset of the identity (all pages). */
  listDatasets(signal?: AbortSignal): Promise<Result<RemoteDataset[], TransportFailure>>
  /** `notFound` when the dataset does not exist. */
  describeDataset(datasetName: string, signal?: AbortSignal): Promise<Result<RemoteDataset, TransportFailure>>
  /** `notFound` when the dataset does not exist. */
  deleteDataset(request: DeleteDatasetRequest, signal?: AbortSignal): Promise<Result<void, TransportFailure>>
  /** The device id the server gives this platform token. */
  registerDevice(
    platform: Platform,
    token: string,
    signal?: AbortSignal,
  ): Promise<Result<string, TransportFailure>>
  /** `notFound` for an unknown dataset or device. */
  subscribe(
    datasetName: string,
    deviceId: string,
    signal?: AbortSignal,
  ): Promise<Result<void, TransportFailure>>
  /** An unknown dataset or device is fine: there is nothing to unsubscribe. */
  unsubscribe(
    datasetName: string,
    deviceId: string,
    signal?: AbortSignal,
  ): Promise<Result<void, TransportFailure>>
}

/** One ListRecords call: the changes of a dataset after `lastSyncCount`. */
export interface ListRecordsRequest {
  readonly datasetName: string
  /** Only records changed after this sync count; 0 for all. */
  readonly lastSyncCount: number
  /** The previous page's `nextToken`. */
  readonly nextToken?: string
  readonly maxResults?: number
  /** Passing the token of the first page keeps one session across pages. */
  readonly syncSessionToken?: string
}

/** One page of ListRecords; the core's reader of the wire answers produces it. */
export type RecordsPage = WireRecordsPage

/** One UpdateRecords call: the patches of a push, accepted all together or not at all. */
export interface UpdateRecordsRequest {
  readonly datasetName: string
  readonly patches: readonly RecordPatch[]
  /** The session token a ListRecords (or the previous UpdateRecords) answered. */
  readonly syncSessionToken: string
  /** The push device id of this device, so the server does not push the change back to it. */
  readonly deviceId?: string
}

/** One DeleteDataset call. */
export interface DeleteDatasetRequest {
  readonly datasetName: string
  /**
   * The push device id of this device, so the server does not push the deletion back to it. Cognito's
   * DeleteDataset has no such field: a transport that cannot send it leaves it out.
   */
  readonly deviceId?: string
}

/**
 * What UpdateRecords answered: the records stored, and the next session's token when the server
 * handed one out (pushsync-server does; Cognito does not, so the Cognito transport answers `null`).
 */
export type UpdateRecordsAnswer = WireUpdateRecordsAnswer

/** A dataset as ListDatasets and DescribeDataset describe it. */
export type RemoteDataset = WireDataset

/** What went wrong, as the engine needs to know it. */
export type TransportFailure =
  /** The server could not be reached, or the answer was lost: the request may or may not have applied. */
  | { readonly kind: 'offline'; readonly message: string; readonly cause?: unknown }
  /** A patch was based on a stale sync count (ResourceConflictException): nothing applied. */
  | { readonly kind: 'conflict'; readonly message: string }
  /** Credentials missing, expired or not allowed (NotAuthorizedException). */
  | { readonly kind: 'auth'; readonly message: string }
  /** The server asks to slow down (TooManyRequests, LambdaThrottled). */
  | { readonly kind: 'throttled'; readonly message: string; readonly retryAfterMs?: number }
  /** A quota would be exceeded (LimitExceededException). */
  | { readonly kind: 'limit'; readonly message: string }
  /** The dataset or device does not exist (ResourceNotFoundException). */
  | { readonly kind: 'notFound'; readonly message: string }
  /** The server refused a parameter, a spent session token included (InvalidParameterException). */
  | { readonly kind: 'invalid'; readonly message: string }
  /** The server failed (InternalError, 5xx). */
  | { readonly kind: 'server'; readonly message: string; readonly status?: number }
  /** The answer has an unexpected shape. */
  | { readonly kind: 'protocol'; readonly message: string }

export type TransportFailureKind = TransportFailure['kind']
