/**
 * Offline-first key/value datasets with Cognito Sync semantics and push sync. The root entry holds
 * the types, the contracts adapters implement and the errors; it imports no adapter, so a bundle
 * pulls only the storage, transport and push adapters an app imports from their own subpaths
 * (`pushsync/storage/memory`, ...). The pure rules live in `pushsync/core`.
 *
 * @module pushsync
 */
export type {
  DeleteDatasetRequest,
  ListRecordsOptions,
  ListRecordsRequest,
  PushSink,
  PushSource,
  RecordsPage,
  RemoteDataset,
  StorageAdapter,
  StorageReadTx,
  StorageWriteTx,
  TabCoordinator,
  TabSink,
  Transport,
  TransportFailure,
  TransportFailureKind,
  UpdateRecordsAnswer,
  UpdateRecordsRequest,
} from './contracts/index.js'
export type {
  Conflict,
  ConflictResolver,
  DatasetMeta,
  DeviceRegistration,
  Limits,
  Platform,
  PushDecision,
  PushSyncUpdate,
  RecordPatch,
  RemoteDeletionChoice,
  RemoteRecord,
  Resolution,
  SyncRecord,
} from './core/index.js'
export {
  DEFAULT_LIMITS,
  DELETE_PENDING,
  lastWriterWins,
  localWins,
  PLATFORMS,
  remoteWins,
  resolveLimits,
} from './core/index.js'
export {
  type Clock,
  type ConnectivitySource,
  createSyncManager,
  type Dataset,
  type DatasetStatus,
  type DatasetValues,
  type DecidedBy,
  type DefaultDecision,
  type InferInput,
  type InferOutput,
  type PushOutcome,
  type PushSourceState,
  type PushSourceStatus,
  type StandardFailure,
  type StandardIssue,
  type StandardResult,
  type StandardSchemaProps,
  type StandardSchemaV1,
  type SyncConflict,
  type SyncEventName,
  type SyncEvents,
  type SyncHandlers,
  type SynchronizeOptions,
  type SyncManager,
  type SyncManagerOptions,
  type SyncManagerStatus,
  type SyncPath,
  type SyncResult,
  systemClock,
  type TypedDataset,
  type WatchOptions,
} from './engine/index.js'
export {
  isSyncError,
  SyncError,
  type SyncErrorCode,
  type SyncErrorOptions,
  syncErrorFromFailure,
  TRANSPORT_ERROR_CODES,
} from './errors.js'
