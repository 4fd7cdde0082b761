import { isSyncError, SyncError } from '../errors.js'
import type { EngineContext } from './context.js'

/** A dataset's live values: a plain object with a null prototype (keys are data), frozen. */
export type DatasetValues<TValue = string> = Readonly<Record<string, TValue>>

/** Options of `Dataset.watch`. */
export interface WatchOptions {
  /**
   * Called when the values could not be read from storage (`STORAGE_UNAVAILABLE`, or the error the
   * storage adapter raised). The watch stays: the next committed change reads them again. Without
   * it, the error goes to the manager's logger.
   */
  readonly onError?: (error: SyncError) => void
}

/** What a watcher of one key or of the whole dataset is told. */
type Watcher = (
  | { readonly key: string; readonly listener: (value: string | undefined) => void }
  | {
      readonly key: undefined
      readonly listener: (values: DatasetValues) => void
    }
) & { readonly onError: WatchOptions['onError'] | undefined }

/**
 * The values of one dataset kept in memory while someone watches them, for reactive reads: a
 * snapshot that stays the same object until a committed change replaces it (what React's
 * `useSyncExternalStore` needs), and watchers told once per committed change, the per-key ones only
 * when their key's value changed. Changes arrive as the manager's `datasetChanged` and
 * `datasetDeleted` events, whatever made them (a local write, a pull, a pushed change, another tab);
 * the keys they name are read again from storage, one change after the other, so the snapshot
 * never goes back.
 */
export class DatasetView {
  private readonly context: EngineContext
  private readonly name: string
  private readonly watchers = new Set<Watcher>()
  private snapshot: DatasetValues | undefined
  /** Reads of changes, one after the other. */
  private queue: Promise<void> = Promise.resolve()
  /** Bumped by `reset`: reads started before it must not land. */
  private generation = 0
  /** A full read is queued and has not started. */
  private fullReadQueued = false

  constructor(context: EngineContext, name: string) {
    this.context = context
    this.name = name
  }

  /** The values as of the last committed change, or undefined until they were read once. */
  get current(): DatasetValues | undefined {
    return this.snapshot
  }

  /** Resolves with the values, reading them first if nobody has yet. */
  async load(): Promise<DatasetValues> {
    if (this.snapshot === undefined) await this.enqueue(() => this.readAll())
    return this.snapshot ?? EMPTY
  }

  watch(watcher: Watcher): () => void {
    this.watchers.add(watcher)
    if (this.snapshot === undefined) this.readAllSoon()
    return () => {
      this.watchers.delete(watcher)
      // Nobody listens: stop keeping the values; the next watcher reads them anew.
      if (this.watchers.size === 0) this.forget()
    }
  }

  /** Records of `keys` changed (or the dataset went, when `keys` is undefined): read them again. */
  changed(keys: readonly string[] | undefined): void {
    if (this.snapshot === undefined && this.watchers.size === 0) return
    if (keys === undefined || this.snapshot === undefined) this.readAllSoon()
    else this.enqueue(() => this.readKeys(keys)).catch((error) => this.failed(error))
  }

  /**
   * Queues a read of every value, unless one is queued and not started yet: that one will see
   * whatever changed before it starts, so a second would only repeat it (or its failure).
   */
  private readAllSoon(): void {
    if (this.fullReadQueued) return
    this.fullReadQueued = true
    this.enqueue(() => {
      this.fullReadQueued = false
      return this.readAll()
    }).catch((error) => this.failed(error))
  }

  /** The identity changed or the data was wiped: read everything again if watched. */
  reset(): void {
    this.forget()
    if (this.watchers.size > 0) this.changed(undefined)
  }

  /**
   * A read failed: the snapshot is now behind storage, so drop it (the next change reads everything
   * again) and tell the watchers, who would otherwise wait for values that never come.
   */
  private failed(caught: unknown): void {
    const error = isSyncError(caught)
      ? caught
      : new SyncError('STORAGE_UNAVAILABLE', `reading dataset "${this.name}" failed`, { cause: caught })
    this.forget()
    let told = false
    for (const watcher of [...this.watchers]) {
      if (watcher.onError === undefined) continue
      told = true
      try {
        watcher.onError(error)
      } catch (thrown) {
        this.context.events.listenerFailed('watch error', thrown)
      }
    }
    if (!told) this.context.events.warn(`[pushsync] watching dataset "${this.name}" failed`, error)
  }

  private forget(): void {
    this.generation++
    this.snapshot = undefined
  }

  private enqueue(read: () => Promise<void>): Promise<void> {
    const next = this.queue.then(read, read)
    this.queue = next.catch(() => {})
    return next
  }

  private async readAll(): Promise<void> {
    const generation = this.generation
    const { storage, session } = this.context
    const records = await storage.read((tx) => tx.listRecords(session.identityId, this.name))
    if (generation !== this.generation) return
    const values: Record<string, string> = Object.create(null)
    for (const record of records) if (record.value !== null) values[record.key] = record.value
    this.publish(Object.freeze(values), undefined)
  }

  private async readKeys(keys: readonly string[]): Promise<void> {
    // A read before this one failed and dropped the values: these keys alone would not bring them back.
    if (this.snapshot === undefined) return this.watchers.size > 0 ? this.readAll() : undefined
    const generation = this.generation
    const { storage, session } = this.context
    const rows = await storage.read((tx) =>
      Promise.all(keys.map((key) => tx.getRecord(session.identityId, this.name, key))),
    )
    if (generation !== this.generation || this.snapshot === undefined) return
    const values: Record<string, string> = Object.assign(Object.create(null), this.snapshot)
    keys.forEach((key, index) => {
      const value = rows[index]?.value ?? null
      if (value === null) delete values[key]
      else values[key] = value
    })
    this.publish(Object.freeze(values), keys)
  }

  /** Replaces the snapshot and tells the watchers whose values changed; `keys` undefined: any may have. */
  private publish(next: DatasetValues, keys: readonly string[] | undefined): void {
    const before = this.snapshot
    const changedKeys = keys ?? unionOfKeys(before, next)
    const changed = changedKeys.filter((key) => before?.[key] !== next[key])
    if (before !== undefined && changed.length === 0) return
    this.snapshot = next
    for (const watcher of [...this.watchers]) {
      try {
        if (watcher.key === undefined) watcher.listener(next)
        else if (before === undefined || changed.includes(watcher.key)) watcher.listener(next[watcher.key])
      } catch (error) {
        this.context.events.listenerFailed('watch', error)
      }
    }
  }
}

const EMPTY: DatasetValues = Object.freeze(Object.create(null))

function unionOfKeys(a: DatasetValues | undefined, b: DatasetValues): string[] {
  return [...new Set([...Object.keys(a ?? EMPTY), ...Object.keys(b)])]
}
