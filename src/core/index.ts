/**
 * The pure core of pushsync: Cognito Sync's rules as functions of their inputs. No I/O, no timers,
 * no clock and no randomness: time comes in as arguments and failures go out as values. The sync
 * engine runs it against storage and a transport; the server reuses its validation and limits.
 *
 * @module pushsync/core
 */
export {
  type ConflictResolver,
  lastWriterWins,
  localWins,
  type Resolution,
  remoteWins,
  resolveConflict,
} from './conflict.js'
export { mergedDatasetName, planIdentityChange, UNKNOWN_IDENTITY } from './identity.js'
export { DEFAULT_LIMITS, type Limits, resolveLimits } from './limits.js'
export {
  type DatasetMeta,
  DELETE_PENDING,
  type DeviceRegistration,
  PLATFORMS,
  type Platform,
  type PullResult,
  type RecordPatch,
  type RemoteRecord,
  type SyncRecord,
} from './model.js'
export { type Conflict, type PullPlan, planPull } from './pull.js'
export {
  applyPushResult,
  lastSyncCountAfterPushConflict,
  type PushPlan,
  type PushResultInput,
  type PushResultPlan,
  planPush,
} from './push.js'
export {
  decideParsedPush,
  decidePushSync,
  type PushDecision,
  type PushIgnoreReason,
  type PushSyncState,
  pushedChangesToApply,
} from './push-decision.js'
export {
  encodePushPayload,
  type PushedChanges,
  type PushPayloadFailure,
  type PushPayloadPlatform,
  type PushPayloadReason,
  type PushSyncUpdate,
  parsePushPayload,
} from './push-payload.js'
export {
  cleanRecord,
  createDatasetMeta,
  type DatasetUsage,
  datasetUsage,
  type LocalChange,
  type LocalDeletePlan,
  type LocalWriteContext,
  type LocalWritePlan,
  type LocalWriteState,
  planLocalDelete,
  planLocalWrite,
  sameLocalRow,
  ValidChanges,
  validateChanges,
} from './records.js'
export {
  defaultRemoteDeletionChoice,
  findMergedDatasets,
  isRemoteDeletion,
  planRemoteDeletion,
  type RemoteDeletionChoice,
  type RemoteDeletionPlan,
} from './remote-dataset.js'
export { type Fail, fail, type Ok, ok, type Result } from './result.js'
export {
  errorTypeName,
  failureKindOf,
  retryAfterMs,
  type TransportFailureKindName,
} from './transport-failure.js'
export {
  utf8ByteLength,
  type ValidatedField,
  type ValidationFailure,
  type ValidationRule,
  validateDatasetName,
  validateIdentityId,
  validateIdentityPoolId,
  validateKey,
  validateValue,
} from './validate.js'
export {
  type DatasetsListing,
  type ProtocolFailure,
  readDate,
  readDescribeDatasetAnswer,
  readEpochSeconds,
  readListDatasetsAnswer,
  readListRecordsAnswer,
  readRegisterDeviceAnswer,
  readUpdateRecordsAnswer,
  readUpdateRecordsResult,
  type TimestampReader,
  type WireDataset,
  type WireRecordsPage,
  type WireUpdateRecordsAnswer,
} from './wire.js'
