import type { SyncError } from '../errors.js'
import type {
  Conflict,
  Dataset,
  DatasetStatus,
  DecidedBy,
  DefaultDecision,
  PushSourceStatus,
  SyncManager,
  SyncPath,
} from '../index.js'
import { asSyncError, type DatasetStore } from './dataset-store.js'

/**
 * The conflicts the last sync of a dataset raised, for a UI to tell the user that another device
 * changed the same records meanwhile. The sync has already resolved them (by the manager's
 * handlers, else by last writer wins) and the dataset holds the outcome.
 */
export interface ConflictNotice {
  /** Grows with each notice, so a UI can tell a new one from the one it already showed. */
  readonly id: number
  readonly dataset: string
  /** Each conflict's key, this device's record (`local`) and the server's (`remote`). */
  readonly conflicts: readonly Conflict[]
  /** Who resolved them: the `synchronize` call's `onConflict`, the manager's handlers, or the default. */
  readonly decidedBy: DecidedBy | undefined
  /** Which side won each key, when the built-in last writer wins decided; undefined otherwise. */
  readonly outcomes: Extract<DefaultDecision, { decision: 'conflicts' }>['outcomes'] | undefined
}

/** What `useSyncStatus` reports, apart from connectivity. */
export interface SyncStatusSnapshot {
  /** True until the named dataset is open (always on the server); false without a name. */
  readonly loading: boolean
  /** Local changes of the dataset the server has not acknowledged. */
  readonly pendingChanges: number
  readonly syncing: boolean
  /** Epoch ms of the dataset's last successful sync; 0 when never. */
  readonly lastSyncedAt: number
  /** Why the last sync failed (cleared by the next success), or why the dataset could not be opened. */
  readonly lastError: SyncError | null
  readonly lastSyncPath: SyncPath | null
  /** The last conflicts raised in the dataset (any dataset, without a name) since the status was first watched. */
  readonly lastConflict: ConflictNotice | null
  /** The manager's push sources and whether each is `connecting`, `live` or `offline`. */
  readonly pushSources: readonly PushSourceStatus[]
  /** Whether a push source is live: changes made on other devices arrive as they happen. */
  readonly live: boolean
}

const NO_SOURCES: readonly PushSourceStatus[] = Object.freeze([])

function idleSnapshot(loading: boolean): SyncStatusSnapshot {
  return Object.freeze({
    loading,
    pendingChanges: 0,
    syncing: false,
    lastSyncedAt: 0,
    lastError: null,
    lastSyncPath: null,
    lastConflict: null,
    pushSources: NO_SOURCES,
    live: false,
  })
}

/** On the server, and without a manager: the dataset's status is not known yet. */
export const STATUS_UNKNOWN = { named: idleSnapshot(true), unnamed: idleSnapshot(false) }

const NEVER_SYNCED: DatasetStatus = Object.freeze({
  pendingChanges: 0,
  syncing: false,
  lastSyncedAt: 0,
  lastError: null,
  lastSyncPath: null,
})

let noticeIds = 0

function sameSources(a: readonly PushSourceStatus[], b: readonly PushSourceStatus[]): boolean {
  return (
    a.length === b.length &&
    a.every((source, i) => source.name === b[i]?.name && source.state === b[i]?.state)
  )
}

/**
 * A dataset's status (or, without a name, the manager's part of it) for `useSyncExternalStore`:
 * the dataset's pending count, sync and last error, the push sources' states, and the last
 * conflicts. It listens to the dataset's `onStatus` and the manager's `pushSourceStateChanged`
 * while subscribed, and to `conflict` from the first subscription on (a notice outlives the
 * component that showed it); snapshots stay the same object until one of them changes.
 */
export class StatusStore {
  private readonly manager: SyncManager
  private readonly name: string | undefined
  private readonly texts: DatasetStore | undefined
  private handle: Dataset | undefined
  private failure: SyncError | undefined
  private conflict: ConflictNotice | null = null
  private conflictsWatched = false
  private sources: readonly PushSourceStatus[] = NO_SOURCES
  private readonly listeners = new Set<() => void>()
  private stops: Array<() => void> = []
  private last: SyncStatusSnapshot

  /** `texts`: the store of the dataset's string values, whose handle it shares. */
  constructor(manager: SyncManager, name: string | undefined, texts: DatasetStore | undefined) {
    this.manager = manager
    this.name = name
    this.texts = texts
    this.last = name === undefined ? STATUS_UNKNOWN.unnamed : STATUS_UNKNOWN.named
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    if (this.stops.length === 0) this.start()
    return () => {
      this.listeners.delete(listener)
      queueMicrotask(() => {
        if (this.listeners.size === 0) this.stop()
      })
    }
  }

  readonly getSnapshot = (): SyncStatusSnapshot => {
    const status = this.handle?.getStatus() ?? NEVER_SYNCED
    const sources = this.pushSources()
    const loading = this.name !== undefined && this.handle === undefined && this.failure === undefined
    const lastError = status.lastError ?? this.failure ?? null
    const last = this.last
    if (
      last.loading === loading &&
      last.pendingChanges === status.pendingChanges &&
      last.syncing === status.syncing &&
      last.lastSyncedAt === status.lastSyncedAt &&
      last.lastError === lastError &&
      last.lastSyncPath === status.lastSyncPath &&
      last.lastConflict === this.conflict &&
      last.pushSources === sources
    ) {
      return last
    }
    this.last = Object.freeze({
      loading,
      pendingChanges: status.pendingChanges,
      syncing: status.syncing,
      lastSyncedAt: status.lastSyncedAt,
      lastError,
      lastSyncPath: status.lastSyncPath,
      lastConflict: this.conflict,
      pushSources: sources,
      live: sources.some((source) => source.state === 'live'),
    })
    return this.last
  }

  readonly getServerSnapshot = (): SyncStatusSnapshot =>
    this.name === undefined ? STATUS_UNKNOWN.unnamed : STATUS_UNKNOWN.named

  /** The push sources' states, the same array while none changed. */
  private pushSources(): readonly PushSourceStatus[] {
    const now = this.manager.getStatus().pushSources
    if (!sameSources(now, this.sources)) this.sources = Object.freeze(now.map((source) => ({ ...source })))
    return this.sources
  }

  private readonly notify = (): void => {
    for (const listener of [...this.listeners]) listener()
  }

  private start(): void {
    this.watchConflicts()
    let active = true
    this.stops.push(() => {
      active = false
    })
    this.stops.push(this.manager.on('pushSourceStateChanged', this.notify))
    this.texts?.dataset().then(
      (handle) => {
        if (!active) return
        this.handle = handle
        this.failure = undefined
        this.stops.push(handle.onStatus(this.notify))
        this.notify()
      },
      (error: unknown) => {
        if (!active) return
        this.failure = asSyncError(error, 'opening the dataset')
        this.notify()
      },
    )
  }

  private stop(): void {
    const stops = this.stops
    this.stops = []
    for (const stop of stops) stop()
  }

  /** Kept for the manager's lifetime: a conflict is news whenever a component asks. */
  private watchConflicts(): void {
    if (this.conflictsWatched) return
    this.conflictsWatched = true
    const concerns = (dataset: string) => this.name === undefined || dataset === this.name
    this.manager.on('conflict', ({ dataset, conflicts, decidedBy }) => {
      if (!concerns(dataset)) return
      this.conflict = Object.freeze({ id: ++noticeIds, dataset, conflicts, decidedBy, outcomes: undefined })
      this.notify()
    })
    // The built-in default announces what it decided right after the conflicts it decided.
    this.manager.on('defaultDecided', (event) => {
      const notice = this.conflict
      if (event.decision !== 'conflicts' || notice === null) return
      if (notice.dataset !== event.dataset || notice.outcomes !== undefined) return
      this.conflict = Object.freeze({ ...notice, outcomes: event.outcomes })
      this.notify()
    })
  }
}
