import type { DatasetUsage } from '../core/records.js'
import type { SyncError } from '../errors.js'
import type { DatasetView } from './dataset-view.js'
import type { SyncEventEmitter, SyncPath, SyncResult } from './events.js'
import { SingleFlight } from './single-flight.js'

/** What a UI shows about a dataset. */
export interface DatasetStatus {
  /** Local changes the server has not acknowledged. */
  readonly pendingChanges: number
  readonly syncing: boolean
  /** Epoch ms of the last successful synchronize; 0 when never. */
  readonly lastSyncedAt: number
  readonly lastError: SyncError | null
  /** How the last successful sync caught up (see {@link SyncResult.path}); null before the first. */
  readonly lastSyncPath: SyncPath | null
}

/** Everything that changes a dataset's status; {@link reduceStatus} says how. */
export type StatusAction =
  | { readonly type: 'syncStarted' }
  | { readonly type: 'syncSucceeded'; readonly at: number; readonly path: SyncPath }
  | { readonly type: 'syncFailed'; readonly error: SyncError }
  /** The dirty rows were counted in storage. */
  | { readonly type: 'pendingCounted'; readonly count: number }
  /** A local write made `by` more rows dirty. */
  | { readonly type: 'pendingGrew'; readonly by: number }
  /** The data the status described is gone (identity changed, data wiped). */
  | { readonly type: 'reset' }

const INITIAL_STATUS: DatasetStatus = Object.freeze({
  pendingChanges: 0,
  syncing: false,
  lastSyncedAt: 0,
  lastError: null,
  lastSyncPath: null,
})

export function reduceStatus(status: DatasetStatus, action: StatusAction): DatasetStatus {
  switch (action.type) {
    case 'syncStarted':
      return { ...status, syncing: true }
    case 'syncSucceeded':
      return {
        ...status,
        syncing: false,
        lastSyncedAt: action.at,
        lastError: null,
        lastSyncPath: action.path,
      }
    case 'syncFailed':
      return { ...status, syncing: false, lastError: action.error }
    case 'pendingCounted':
      return { ...status, pendingChanges: action.count }
    case 'pendingGrew':
      return { ...status, pendingChanges: status.pendingChanges + action.by }
    case 'reset':
      return INITIAL_STATUS
  }
}

/**
 * One dataset's state on this device, in one place: its status, the usage kept between local
 * writes, the single flight its syncs run in, and the listeners of its status. Changed only through
 * {@link DatasetState.dispatch}; the records themselves live in storage.
 */
export class DatasetState {
  readonly name: string
  /** One sync of this dataset at a time; calls meanwhile share one follow-up. */
  readonly flight = new SingleFlight<SyncResult>()
  /** The dataset's values, kept in memory while watched. */
  readonly view: DatasetView
  private current: DatasetStatus = INITIAL_STATUS
  /** Whether `pendingChanges` was counted in storage (a write then only adds to it). */
  private pendingCounted = false
  private usage: DatasetUsage | undefined
  /** The highest sync count a push told of: above `lastSyncCount`, the device is behind. */
  private heard = 0
  /** A session token the server handed out and nobody spent yet, and when it came. */
  private syncSession: { readonly token: string; readonly at: number } | undefined
  private readonly watchers = new Set<(status: DatasetStatus) => void>()
  private readonly events: SyncEventEmitter
  private dispatched = 0

  constructor(name: string, events: SyncEventEmitter, view: DatasetView) {
    this.name = name
    this.events = events
    this.view = view
  }

  get status(): DatasetStatus {
    return this.current
  }

  /**
   * Bumped by every action (a local write, a sync starting or ending, a reset), whether or not the
   * status changed: a decision taken from storage at one version still holds while it is the same.
   */
  get version(): number {
    return this.dispatched
  }

  /** Whether a write may add to the pending count rather than count it again in storage. */
  get knowsPending(): boolean {
    return this.pendingCounted && !this.flight.isRunning
  }

  dispatch(action: StatusAction): void {
    this.dispatched++
    if (action.type === 'pendingCounted') this.pendingCounted = true
    if (action.type === 'reset') {
      this.pendingCounted = false
      this.usage = undefined
      this.heard = 0
      this.syncSession = undefined
      this.view.reset()
    }
    const next = reduceStatus(this.current, action)
    if (sameStatus(next, this.current)) return
    this.current = next
    for (const watcher of [...this.watchers]) {
      try {
        watcher(next)
      } catch (error) {
        this.events.listenerFailed('status', error)
      }
    }
  }

  /** Calls `watcher` with each new status; returns the function that stops it. */
  watch(watcher: (status: DatasetStatus) => void): () => void {
    this.watchers.add(watcher)
    return () => void this.watchers.delete(watcher)
  }

  /**
   * The usage as of the last local write, while nothing can have changed records behind it: no
   * sync runs (a sync writes rows the write did not see).
   */
  knownUsage(): DatasetUsage | undefined {
    return this.flight.isRunning ? undefined : this.usage
  }

  /** Keeps `usage` for the next write; `shared` storage (other tabs write it too) keeps nothing. */
  rememberUsage(usage: DatasetUsage, shared: boolean): void {
    this.usage = this.flight.isRunning || shared ? undefined : usage
  }

  /** The highest sync count a push has told of for this dataset. */
  get heardCount(): number {
    return this.heard
  }

  /** A push told of `syncCount` (whatever was decided on it). */
  heardOf(syncCount: number): void {
    this.heard = Math.max(this.heard, syncCount)
  }

  /** Keeps the session token of the last answer for the next direct push. */
  keepSyncSession(token: string, now: number): void {
    this.syncSession = { token, at: now }
  }

  /** The kept session token, when it is younger than `maxAgeMs`; it is given out once. */
  takeSyncSession(now: number, maxAgeMs: number): string | undefined {
    const kept = this.syncSession
    this.syncSession = undefined
    return kept !== undefined && now - kept.at < maxAgeMs ? kept.token : undefined
  }

  /** Something changed the records behind the kept usage: the next write reads it anew. */
  forgetUsage(): void {
    this.usage = undefined
  }
}

function sameStatus(a: DatasetStatus, b: DatasetStatus): boolean {
  return (
    a.pendingChanges === b.pendingChanges &&
    a.syncing === b.syncing &&
    a.lastSyncedAt === b.lastSyncedAt &&
    a.lastError === b.lastError &&
    a.lastSyncPath === b.lastSyncPath
  )
}

/**
 * The states of the datasets this manager has touched, by name. Reset when the identity changes or
 * the data is wiped: what they held described data that is gone. The states themselves stay, so
 * status listeners keep listening (and hear of the reset).
 */
export class DatasetCache {
  private readonly states = new Map<string, DatasetState>()
  private readonly events: SyncEventEmitter
  private readonly makeView: (name: string) => DatasetView

  constructor(events: SyncEventEmitter, makeView: (name: string) => DatasetView) {
    this.events = events
    this.makeView = makeView
    // Every committed change reaches the view of its dataset, whatever made it.
    events.on('datasetChanged', (event) => this.states.get(event.dataset)?.view.changed(event.keys))
    events.on('datasetDeleted', (event) => this.states.get(event.dataset)?.view.changed(undefined))
  }

  /** The dataset's state, made on first use. */
  get(name: string): DatasetState {
    let state = this.states.get(name)
    if (state === undefined) {
      state = new DatasetState(name, this.events, this.makeView(name))
      this.states.set(name, state)
    }
    return state
  }

  /** Whether a sync of `name` runs now. */
  isSyncing(name: string): boolean {
    return this.states.get(name)?.flight.isRunning ?? false
  }

  /** Call only while no sync runs (after `idle()`). */
  reset(): void {
    for (const state of this.states.values()) state.dispatch({ type: 'reset' })
  }

  /** Settles when no sync of any dataset runs or waits. */
  async idle(): Promise<void> {
    await Promise.all([...this.states.values()].map((state) => state.flight.idle()))
  }
}
