/**
 * React bindings: a provider for the app's sync manager and hooks that keep components in step with
 * its datasets. Every hook is built on `useSyncExternalStore` over the engine's reactive reads
 * (`watch`, `getSnapshot`, `onStatus`), so a component re-renders once per committed change, whatever
 * made it (this device, a sync, a push, another tab), and never subscribes again because it
 * rendered. Dataset handles are shared per manager and name. Server rendering works without
 * `window`: the hooks report `loading` there. React 18 or 19 (an optional peer dependency).
 *
 * @module
 */
export type { DatasetLoad } from './dataset-store.js'
export {
  type DatasetOptions,
  type SyncStatus,
  type TypedDatasetOf,
  type UseDatasetResult,
  type UseRecordResult,
  useDataset,
  useRecord,
  useSyncStatus,
} from './hooks.js'
export {
  SyncProvider,
  type SyncProviderProps,
  useSyncManager,
} from './provider.js'
export type { ConflictNotice, SyncStatusSnapshot } from './status-store.js'
