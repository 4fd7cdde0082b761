import { isSyncError, SyncError } from '../errors.js'
import type { Dataset, DatasetValues, TypedDataset } from '../index.js'

/** A dataset handle of either kind, as the store uses it. */
export type AnyDataset = Dataset | TypedDataset<never, unknown>

/**
 * Where a dataset's values stand for a component: `loading` until the dataset is open and its values
 * read (always on the server), then `ready` with values that stay the same object until the next
 * committed change, or `error` when the dataset could not be opened or watched.
 */
export type DatasetLoad<TValue = string, THandle = Dataset> =
  | {
      readonly status: 'loading'
      readonly loading: true
      readonly values: undefined
      /** The handle, once the dataset is open (its values may still be read). */
      readonly dataset: THandle | undefined
      readonly error: undefined
    }
  | {
      readonly status: 'ready'
      readonly loading: false
      readonly values: DatasetValues<TValue>
      readonly dataset: THandle
      readonly error: undefined
    }
  | {
      readonly status: 'error'
      readonly loading: false
      readonly values: undefined
      readonly dataset: THandle | undefined
      readonly error: SyncError
    }

/**
 * The states are marked with a symbol: a record's value is JSON (or a string), which never has a
 * symbol key, so `useRecord` can tell "not ready" from a value.
 */
const LOAD_STATE = Symbol('pushsync.react.load')

function mark<T extends DatasetLoad<unknown, unknown>>(state: T): T {
  return Object.freeze(Object.assign(state, { [LOAD_STATE]: true as const }))
}

export function isLoadState(value: unknown): value is DatasetLoad<unknown, unknown> {
  return typeof value === 'object' && value !== null && LOAD_STATE in value
}

/** The state before anything is known, and always on the server. */
export const LOADING: DatasetLoad<never, never> = mark({
  status: 'loading',
  loading: true,
  values: undefined,
  dataset: undefined,
  error: undefined,
})

function opened<TValue, THandle>(dataset: THandle): DatasetLoad<TValue, THandle> {
  return mark({ status: 'loading', loading: true, values: undefined, dataset, error: undefined })
}

function ready<TValue, THandle>(
  values: DatasetValues<TValue>,
  dataset: THandle,
): DatasetLoad<TValue, THandle> {
  return mark({ status: 'ready', loading: false, values, dataset, error: undefined })
}

function failed<TValue, THandle>(
  error: SyncError,
  dataset: THandle | undefined,
): DatasetLoad<TValue, THandle> {
  return mark({ status: 'error', loading: false, values: undefined, dataset, error })
}

/** A SyncError for what opening or watching threw (the engine's own errors already are). */
export function asSyncError(error: unknown, doing: string): SyncError {
  if (isSyncError(error)) return error
  return new SyncError('STORAGE_UNAVAILABLE', `${doing} failed: ${String(error)}`, { cause: error })
}

/**
 * One dataset's values for React's `useSyncExternalStore`, shared by every component of a manager
 * that shows the dataset (with the same schema): it opens the dataset once, watches it while at
 * least one component is subscribed, and returns snapshots that stay the same object until a
 * committed change, as `getSnapshot` must. `subscribe` and `getSnapshot` are bound once, so a
 * component never subscribes again because it rendered.
 */
export class DatasetStore<TValue = string, THandle extends AnyDataset = Dataset> {
  private readonly open: () => Promise<THandle>
  private handle: THandle | undefined
  private opening: Promise<THandle> | undefined
  private failure: SyncError | undefined
  private stopWatching: (() => void) | undefined
  private readonly listeners = new Set<() => void>()
  private last: DatasetLoad<TValue, THandle> = LOADING

  constructor(open: () => Promise<THandle>) {
    this.open = open
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    this.startWatching()
    return () => {
      this.listeners.delete(listener)
      // React's StrictMode, and a component that moves, unsubscribe and subscribe again at once:
      // keep the watch (and the values it holds) until the end of the current task's work.
      queueMicrotask(() => {
        if (this.listeners.size === 0) this.stopWatchingNow()
      })
    }
  }

  readonly getSnapshot = (): DatasetLoad<TValue, THandle> => {
    const { handle, failure } = this
    const values =
      failure === undefined ? (handle?.getSnapshot() as DatasetValues<TValue> | undefined) : undefined
    const last = this.last
    if (last.dataset === handle && last.values === values && last.error === failure) return last
    this.last =
      failure !== undefined
        ? failed(failure, handle)
        : values !== undefined && handle !== undefined
          ? ready(values, handle)
          : handle !== undefined
            ? opened(handle)
            : LOADING
    return this.last
  }

  /**
   * The value of `key`, or the state when the values are not ready: a component showing one record
   * re-renders only when that record changes (a string, or the same decoded object until its JSON
   * text changes).
   */
  selectRecord(key: string): TValue | undefined | DatasetLoad<TValue, THandle> {
    const state = this.getSnapshot()
    return state.status === 'ready' ? state.values[key] : state
  }

  /** The handle, opening the dataset on first use; a failed open is tried again by the next call. */
  dataset(): Promise<THandle> {
    if (this.handle !== undefined) return Promise.resolve(this.handle)
    this.opening ??= this.open().then(
      (handle) => {
        this.handle = handle
        this.failure = undefined
        return handle
      },
      (error: unknown) => {
        this.opening = undefined
        this.failure = asSyncError(error, 'opening the dataset')
        throw this.failure
      },
    )
    return this.opening
  }

  /** Writes `value` to `key`, or removes the record when `value` is undefined. */
  async write(key: string, value: unknown): Promise<void> {
    const handle = (await this.dataset()) as Dataset
    if (value === undefined) await handle.remove(key)
    else await handle.put(key, value as string)
  }

  private startWatching(): void {
    if (this.stopWatching !== undefined) return
    this.dataset().then(
      (handle) => {
        if (this.stopWatching !== undefined || this.listeners.size === 0) return
        try {
          this.stopWatching = (handle as Dataset).watch(
            () => {
              // Values arrived: a read that failed before is behind us.
              this.failure = undefined
              this.notify()
            },
            {
              onError: (error) => {
                this.failure = error
                this.notify()
              },
            },
          )
        } catch (error) {
          // The manager was closed meanwhile: say so rather than load forever.
          this.failure = asSyncError(error, 'watching the dataset')
        }
        // The handle is known now, even if its values are still being read.
        this.notify()
      },
      () => this.notify(),
    )
  }

  private stopWatchingNow(): void {
    const stop = this.stopWatching
    this.stopWatching = undefined
    stop?.()
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener()
  }
}

/** The store of a provider without a manager: always loading; writes say why they cannot happen. */
export const NO_MANAGER_STORE: Pick<
  DatasetStore<never, never>,
  'subscribe' | 'getSnapshot' | 'selectRecord' | 'write'
> = {
  subscribe: () => () => {},
  getSnapshot: () => LOADING,
  selectRecord: () => LOADING,
  write: () =>
    Promise.reject(
      new SyncError(
        'INVALID_ARGUMENT',
        'no sync manager yet: the SyncProvider has none (server rendering, or before sign-in)',
      ),
    ),
}
