export type { ConnectivitySource } from './background.js'
export { type Clock, systemClock } from './clock.js'
export type { SyncHandlers } from './context.js'
export type { Dataset } from './dataset.js'
export type { DatasetStatus } from './dataset-state.js'
export type { DatasetValues, WatchOptions } from './dataset-view.js'
export type {
  DecidedBy,
  DefaultDecision,
  PushSourceState,
  SyncEventName,
  SyncEvents,
  SyncPath,
  SyncResult,
} from './events.js'
export type { PushOutcome } from './push-intake.js'
export type { PushSourceStatus } from './push-sources.js'
export type {
  InferInput,
  InferOutput,
  StandardFailure,
  StandardIssue,
  StandardResult,
  StandardSchemaProps,
  StandardSchemaV1,
} from './standard-schema.js'
export {
  createSyncManager,
  type SyncManager,
  type SyncManagerOptions,
  type SyncManagerStatus,
} from './sync-manager.js'
export type { SyncConflict, SynchronizeOptions } from './synchronize.js'
export type { TypedDataset } from './typed-dataset.js'
