import { validateKey } from '../core/validate.js'
import { SyncError, syncErrorFromFailure } from '../errors.js'
import type { BackgroundWork } from './background.js'
import type { EngineContext } from './context.js'
import type { DatasetStatus } from './dataset-state.js'
import type { DatasetValues, WatchOptions } from './dataset-view.js'
import type { SyncResult } from './events.js'
import { deleteLocally, writeLocally } from './local-writes.js'
import { setSubscription } from './subscriptions.js'
import type { SyncRunner } from './sync-runner.js'
import type { SynchronizeOptions } from './synchronize.js'

/** One dataset of the manager's identity. Reads and writes are local; `synchronize()` talks to the server. */
export interface Dataset {
  readonly name: string
  /** The value of `key`, or undefined when the dataset holds none. */
  get(key: string): Promise<string | undefined>
  /** Every live record, as a plain object (with a null prototype: keys are data). */
  getAll(): Promise<Record<string, string>>
  /** Writes `value` locally now; it reaches the server at the next synchronize. */
  put(key: string, value: string): Promise<void>
  /** All or nothing. */
  putAll(values: Readonly<Record<string, string>>): Promise<void>
  /** Removes the record locally now; the removal reaches the server at the next synchronize. */
  remove(key: string): Promise<void>
  /** The server's sync count of the dataset as of this device's last sync; 0 before the first. */
  getLastSyncCount(): Promise<number>
  /**
   * Cognito's synchronize: sends a pending local delete, pulls what changed since
   * `getLastSyncCount()`, decides conflicts, pushes the local changes. Resolves with what it did,
   * or rejects with a `SyncError` (local changes then stay pending for the next sync). One sync of a
   * dataset runs at a time; calls made meanwhile share one follow-up.
   */
  synchronize(options?: SynchronizeOptions): Promise<SyncResult>
  /** Synchronizes now when online, else as soon as the manager's connectivity source reports online. */
  synchronizeOnConnectivity(options?: SynchronizeOptions): Promise<SyncResult>
  /**
   * Calls `listener` with the dataset's values once they are read and after every committed change
   * (a local write, a sync, a pushed change, another tab's write); returns the function that stops
   * it. The values are a frozen object with a null prototype, the same object until the next change.
   * A read that fails goes to `options.onError` (else the logger); the next change reads again.
   */
  watch(listener: (values: DatasetValues) => void, options?: WatchOptions): () => void
  /** Calls `listener` with the value of `key` once read and whenever it changes; undefined when absent. */
  watch(key: string, listener: (value: string | undefined) => void, options?: WatchOptions): () => void
  /**
   * The values as of the last committed change, while something watches the dataset; undefined
   * before they were read. Stable between changes, as `useSyncExternalStore` needs.
   */
  getSnapshot(): DatasetValues | undefined
  /**
   * Subscribes this device to the dataset's pushes on the server (Cognito's SubscribeToDataset); the
   * dataset must exist there (sync first). This is not a way to listen to changes: that is `watch`.
   */
  subscribe(): Promise<void>
  /** Unsubscribes; a dataset or device the server does not know is fine. */
  unsubscribe(): Promise<void>
  /** Deletes the dataset locally now and on the server at the next synchronize. */
  delete(): Promise<void>
  /** Pending changes, whether a sync runs, the last sync's time, path and error: the same object until it changes. */
  getStatus(): DatasetStatus
  /** Calls `listener` with each new status; returns the function that stops it. */
  onStatus(listener: (status: DatasetStatus) => void): () => void
}

/** What a dataset handle works through. */
export interface DatasetServices {
  readonly context: EngineContext
  readonly runner: SyncRunner
  readonly background: BackgroundWork
}

function notAString(key: string, value: unknown): SyncError {
  return new SyncError(
    'INVALID_ARGUMENT',
    `the value of ${JSON.stringify(key)} must be a string; use remove() to delete`,
    {
      details: { field: 'value', rule: 'type', value },
    },
  )
}

/**
 * A handle on one dataset. It holds nothing but the name: the state lives in the manager's dataset
 * cache and is looked up on each call, so a handle stays right across an identity change or a wipe.
 */
export function createDataset({ context, runner, background }: DatasetServices, name: string): Dataset {
  const { session, storage } = context
  const state = () => context.datasets.get(name)
  const synchronize = (options?: SynchronizeOptions) =>
    runner.synchronize(name, options === undefined ? {} : { options })
  return {
    name,
    async get(key) {
      session.assertOpen()
      const valid = validateKey(key, context.limits)
      if (!valid.ok) throw syncErrorFromFailure(valid.failure)
      const record = await storage.read((tx) => tx.getRecord(session.identityId, name, key))
      return record?.value ?? undefined
    },
    async getAll() {
      session.assertOpen()
      const records = await storage.read((tx) => tx.listRecords(session.identityId, name))
      const values: Record<string, string> = Object.create(null)
      for (const record of records) if (record.value !== null) values[record.key] = record.value
      return values
    },
    // `null` means removal inside the core; from put it is a mistake, so it is refused, not obeyed.
    put: (key, value) =>
      typeof value === 'string'
        ? writeLocally(context, name, [{ key, value }])
        : Promise.reject(notAString(key, value)),
    putAll: (values) => {
      if (typeof values !== 'object' || values === null) {
        return Promise.reject(new SyncError('INVALID_ARGUMENT', 'putAll takes an object of string values'))
      }
      const entries = Object.entries(values)
      const bad = entries.find(([, value]) => typeof value !== 'string')
      if (bad !== undefined) return Promise.reject(notAString(bad[0], bad[1]))
      return writeLocally(
        context,
        name,
        entries.map(([key, value]) => ({ key, value })),
      )
    },
    remove: (key) => writeLocally(context, name, [{ key, value: null }]),
    async getLastSyncCount() {
      session.assertOpen()
      const meta = await storage.read((tx) => tx.getDataset(session.identityId, name))
      return meta?.lastSyncCount ?? 0
    },
    synchronize,
    synchronizeOnConnectivity: (options) => background.whenOnline(() => synchronize(options)),
    watch(
      keyOrListener: string | ((values: DatasetValues) => void),
      listenerOrOptions?: ((value: string | undefined) => void) | WatchOptions,
      keyOptions?: WatchOptions,
    ) {
      session.assertOpen()
      if (typeof keyOrListener === 'function') {
        const onError = watchErrorHandler(listenerOrOptions as WatchOptions | undefined)
        return state().view.watch({ key: undefined, listener: keyOrListener, onError })
      }
      if (typeof keyOrListener !== 'string' || typeof listenerOrOptions !== 'function') {
        throw new SyncError('INVALID_ARGUMENT', 'watch takes a listener, or a key and a listener')
      }
      const valid = validateKey(keyOrListener, context.limits)
      if (!valid.ok) throw syncErrorFromFailure(valid.failure)
      const onError = watchErrorHandler(keyOptions)
      return state().view.watch({ key: keyOrListener, listener: listenerOrOptions, onError })
    },
    getSnapshot: () => state().view.current,
    subscribe: (...args: unknown[]) =>
      args.length > 0
        ? Promise.reject(
            new SyncError(
              'INVALID_ARGUMENT',
              'subscribe() takes no arguments: it subscribes this device to pushes on the server; use watch(listener) to listen to changes',
            ),
          )
        : setSubscription(context, name, true),
    unsubscribe: () => setSubscription(context, name, false),
    delete: () => deleteLocally(context, name),
    getStatus: () => state().status,
    onStatus: (listener) => state().watch(listener),
  }
}

function watchErrorHandler(options: WatchOptions | undefined): WatchOptions['onError'] {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) {
    throw new SyncError('INVALID_ARGUMENT', 'watch options must be an object such as { onError }')
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new SyncError('INVALID_ARGUMENT', 'watch options: onError must be a function')
  }
  return options.onError
}
