export { type Clock, systemClock } from './clock.js'
export type { Dataset, DatasetStatus } from './dataset.js'
export type { SyncEventName, SyncEvents, SyncResult } from './events.js'
export {
  type ConnectivitySource,
  createSyncManager,
  type SyncManager,
  type SyncManagerOptions,
} from './sync-manager.js'
export type { SyncConflict, SynchronizeOptions } from './synchronize.js'
