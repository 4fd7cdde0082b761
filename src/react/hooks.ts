import { useMemo, useState, useSyncExternalStore } from 'react'
import type { SyncError } from '../errors.js'
import type { Dataset, InferInput, InferOutput, StandardSchemaV1, TypedDataset } from '../index.js'
import { type AnyDataset, type DatasetLoad, isLoadState, LOADING, NO_MANAGER_STORE } from './dataset-store.js'
import { useOptimisticWrite } from './optimistic-write.js'
import { useSyncContext } from './provider.js'
import { STATUS_UNKNOWN, type SyncStatusSnapshot } from './status-store.js'
import { onlineStore, statusStore, textStore, typedStore } from './stores.js'

/** Typed values: any Standard Schema (zod, valibot, arktype...), as `openOrCreateDataset` takes it. */
export interface DatasetOptions<TSchema extends StandardSchemaV1> {
  /**
   * Read on the component's first render: define it once, outside the component. Components given
   * the same schema object share one dataset handle and one watch.
   */
  readonly schema: TSchema
}

/** What `useDataset` returns: see {@link DatasetLoad}. */
export type UseDatasetResult<TValue = string, THandle = Dataset> = DatasetLoad<TValue, THandle>

/** A typed dataset's handle for `TSchema`. */
export type TypedDatasetOf<TSchema extends StandardSchemaV1> = TypedDataset<
  InferInput<TSchema>,
  InferOutput<TSchema>
>

/**
 * What `useRecord` returns: the value (undefined while loading or when the dataset holds none), the
 * setter (undefined removes the record; it rejects as `put` does, with `INVALID_ARGUMENT` or
 * `LIMIT_EXCEEDED`, and writes nothing), and whether the value is still loading or failed.
 */
export type UseRecordResult<TValue, TInput> = readonly [
  value: TValue | undefined,
  setValue: (value: TInput | undefined) => Promise<void>,
  state: { readonly loading: boolean; readonly error: SyncError | undefined },
]

/** What `useSyncStatus` reports. */
export interface SyncStatus extends SyncStatusSnapshot {
  /** What the provider's connectivity source says; true without one. */
  readonly online: boolean
}

/** The schema of the component's first render, so a schema written inline does not reopen the dataset. */
function useFirstSchema(schema: StandardSchemaV1 | undefined): StandardSchemaV1 | undefined {
  return useState(schema)[0]
}

/** A dataset store of either kind, or the one of a provider without a manager. */
interface AnyStore {
  readonly subscribe: (listener: () => void) => () => void
  readonly getSnapshot: () => DatasetLoad<unknown, AnyDataset>
  selectRecord(key: string): unknown
  write(key: string, value: unknown): Promise<void>
}

function useStore(hook: string, name: string, schema: StandardSchemaV1 | undefined): AnyStore {
  const { manager } = useSyncContext(hook)
  const first = useFirstSchema(schema)
  if (manager === null) return NO_MANAGER_STORE
  return first === undefined ? textStore(manager, name) : typedStore(manager, name, first)
}

const serverDatasetSnapshot = () => LOADING

/**
 * A dataset's values, kept up to date: re-renders after every committed change, whatever made it
 * (this device, a sync, a push, another tab). Opens the dataset on the first subscription (creating
 * it locally if this device has none); `loading` until its values are read, and always during
 * server rendering. `values` stays the same object until the next change; `dataset` is the handle
 * (`put`, `remove`, `synchronize`...), shared by every component of the manager.
 *
 * @example
 * ```tsx
 * const settings = useDataset('settings')
 * if (settings.loading) return <p>Loading…</p>
 * return <p>Theme: {settings.values?.theme ?? 'light'}</p>
 * ```
 */
export function useDataset(name: string): UseDatasetResult<string, Dataset>
/** The same, with values checked by `schema` (JSON on the device and the wire: see `TypedDataset`). */
export function useDataset<TSchema extends StandardSchemaV1>(
  name: string,
  options: DatasetOptions<TSchema>,
): UseDatasetResult<InferOutput<TSchema>, TypedDatasetOf<TSchema>>
export function useDataset(
  name: string,
  options?: DatasetOptions<StandardSchemaV1>,
): UseDatasetResult<unknown, AnyDataset> {
  const store = useStore('useDataset', name, options?.schema)
  return useSyncExternalStore(store.subscribe, store.getSnapshot, serverDatasetSnapshot)
}

/**
 * One record of a dataset and a setter, as `useState` gives them: re-renders only when that record
 * changes. Setting writes locally (send it with the manager's `writeThrough`, or `synchronize`) and
 * shows the new value at once, before the write has landed, so a controlled input keeps up with
 * typing; a refused write shows the stored value again and its promise rejects. Setting undefined
 * removes the record.
 *
 * @example
 * ```tsx
 * const [theme = 'light', setTheme] = useRecord('settings', 'theme')
 * return <button onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}>{theme}</button>
 * ```
 */
export function useRecord(name: string, key: string): UseRecordResult<string, string>
/** The same, with the dataset's values checked by `schema`. */
export function useRecord<TSchema extends StandardSchemaV1>(
  name: string,
  key: string,
  options: DatasetOptions<TSchema>,
): UseRecordResult<InferOutput<TSchema>, InferInput<TSchema>>
export function useRecord(
  name: string,
  key: string,
  options?: DatasetOptions<StandardSchemaV1>,
): UseRecordResult<unknown, never> {
  const store = useStore('useRecord', name, options?.schema)
  const selected = useSyncExternalStore(store.subscribe, () => store.selectRecord(key), serverDatasetSnapshot)
  const notReady = isLoadState(selected) ? selected : undefined
  const [value, setValue] = useOptimisticWrite(store, key, notReady === undefined ? selected : undefined)
  const loading = notReady?.loading ?? false
  const error = notReady?.error
  const state = useMemo(() => ({ loading, error }), [loading, error])
  return [value, setValue, state]
}

/**
 * Whether a dataset is in sync, for a status line: its pending changes, whether it syncs now, its
 * last error and last conflicts, whether a push source is live, and whether the device is online
 * (from the provider's `connectivity`). Without a name, the manager's part alone (push sources,
 * online, conflicts of any dataset). Server rendering reports `loading`.
 *
 * @example
 * ```tsx
 * const { online, pendingChanges, syncing } = useSyncStatus('settings')
 * const text = !online ? `offline · ${pendingChanges} pending` : syncing || pendingChanges > 0 ? 'syncing…' : 'in sync'
 * ```
 */
export function useSyncStatus(name?: string): SyncStatus {
  const { manager, connectivity } = useSyncContext('useSyncStatus')
  const unknown = name === undefined ? STATUS_UNKNOWN.unnamed : STATUS_UNKNOWN.named
  const store = manager === null ? undefined : statusStore(manager, name)
  const status = useSyncExternalStore(
    store?.subscribe ?? noSubscription,
    store?.getSnapshot ?? (() => unknown),
    () => unknown,
  )
  const online = onlineStore(connectivity)
  const isOnline = useSyncExternalStore(online.subscribe, online.getSnapshot, () => true)
  return useMemo(() => ({ ...status, online: isOnline }), [status, isOnline])
}

const noSubscription = () => () => {}
