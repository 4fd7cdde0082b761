import type { Conflict } from '../core/pull.js'
import type { PushDecision } from '../core/push-decision.js'
import type { PushSyncUpdate } from '../core/push-payload.js'
import type { RemoteDeletionChoice } from '../core/remote-dataset.js'
import type { SyncError } from '../errors.js'

/** What one `synchronize()` did. */
export interface SyncResult {
  /** Records the pull changed locally (remote changes applied and conflicts resolved). */
  readonly updatedRecords: number
  /** Conflicts raised and resolved during the sync. */
  readonly conflicts: number
  /** Patches the server accepted. */
  readonly pushed: number
  readonly lastSyncCount: number
  /** The dataset was deleted on both sides (a local delete pushed, or a remote delete followed). */
  readonly deleted: boolean
  /**
   * How the device caught up: `pushed-changes` when it applied the change a push carried without
   * asking the server, `full` when it ran Cognito's synchronize (pull, then push).
   */
  readonly path: SyncPath
}

export type SyncPath = 'pushed-changes' | 'full'

/** Who decided something during a sync: the call's option, the manager's option, or the built-in default. */
export type DecidedBy = 'call' | 'manager' | 'default'

/** What a built-in default decided during a sync because neither the call nor the manager had a handler. */
export type DefaultDecision =
  | {
      readonly dataset: string
      readonly decision: 'conflicts'
      /** The keys `lastWriterWins` decided, and whether the local or the remote value won. */
      readonly outcomes: ReadonlyArray<{
        readonly key: string
        readonly winner: 'local' | 'remote' | 'value'
      }>
    }
  | {
      readonly dataset: string
      readonly decision: 'remoteDeletion'
      /** `keep` when the device had changes the server never saw, else `delete`. */
      readonly choice: RemoteDeletionChoice
    }
  | {
      readonly dataset: string
      readonly decision: 'datasetsMerged'
      /** Merged datasets nobody was told of: they stay as they are, for the app to fold in. */
      readonly merged: readonly string[]
    }

/** Whether a push source is connecting, receiving (`live`), or cut off and retrying (`offline`). */
export type PushSourceState = 'connecting' | 'live' | 'offline'

/** The manager's events and what each listener receives. */
export interface SyncEvents {
  /**
   * Records of a dataset changed: by the app (`local`) or by a sync (`remote`). `keys` is never
   * empty; a dataset that goes away as a whole is announced by `datasetDeleted`.
   */
  datasetChanged: [
    event: {
      readonly dataset: string
      readonly keys: readonly string[]
      readonly source: 'local' | 'remote'
    },
  ]
  /**
   * The local copy of a dataset is gone: the app deleted it (`local`), or a sync followed its
   * deletion on the server (`remote`). `keys` are the records it held.
   */
  datasetDeleted: [
    event: {
      readonly dataset: string
      readonly keys: readonly string[]
      readonly source: 'local' | 'remote'
    },
  ]
  /** A sync found datasets merged into this one by an identity merge (`NAME.OLDID`). */
  datasetsMerged: [event: { readonly dataset: string; readonly merged: readonly string[] }]
  syncStarted: [event: { readonly dataset: string }]
  syncSucceeded: [event: { readonly dataset: string; readonly result: SyncResult }]
  syncFailed: [event: { readonly dataset: string; readonly error: SyncError }]
  /** A sync raised conflicts; `decidedBy` says who resolves them. */
  conflict: [
    event: {
      readonly dataset: string
      readonly conflicts: readonly Conflict[]
      readonly decidedBy?: DecidedBy
    },
  ]
  /** A built-in default decided something the app may care about (no handler was given). */
  defaultDecided: [event: DefaultDecision]
  pushReceived: [event: { readonly update: PushSyncUpdate; readonly decision: PushDecision }]
  pushIgnored: [event: { readonly payload: unknown; readonly reason: string; readonly message: string }]
  /** A push source failed (a dropped connection, a refused token); it keeps retrying until stopped. */
  pushSourceError: [event: { readonly source: string; readonly error: SyncError }]
  /**
   * A typed dataset read a stored value its schema refuses (written by another device or an older
   * version of the app). The record is left as it is; `value` is its JSON text.
   */
  valueInvalid: [
    event: {
      readonly dataset: string
      readonly key: string
      readonly value: string
      readonly issues: ReadonlyArray<{
        readonly message: string
        readonly path?: ReadonlyArray<unknown> | undefined
      }>
    },
  ]
  /** A push source connected, went live, or lost its connection. */
  pushSourceStateChanged: [event: { readonly source: string; readonly state: PushSourceState }]
}

export type SyncEventName = keyof SyncEvents

type Listener<TArgs extends unknown[]> = (...args: TArgs) => void
/** Any event's listener, as stored: each event name's set holds only that event's listeners. */
type StoredListener = (event: never) => void

/**
 * Typed events whose listeners cannot hurt the engine: each runs in its own `try`, and what one
 * throws goes to the logger. A write or a sync that announces a change has already committed it,
 * so a failing listener must neither reject it nor stop the listeners after it.
 */
export class SyncEventEmitter {
  private readonly listeners = new Map<SyncEventName, Set<StoredListener>>()
  /** Sends a warning to the logger; a logger that throws is ignored. */
  readonly warn: (message: string, error: unknown) => void

  constructor(logger?: Pick<Console, 'warn'>) {
    this.warn = (message, error) => {
      try {
        logger?.warn(message, error)
      } catch {
        // A logger that throws is one more listener that must not reach the writer.
      }
    }
  }

  on<TName extends SyncEventName>(name: TName, listener: Listener<SyncEvents[TName]>): () => void {
    const set = this.listeners.get(name) ?? new Set()
    this.listeners.set(name, set)
    set.add(listener)
    return () => void set.delete(listener)
  }

  emit<TName extends SyncEventName>(name: TName, ...args: SyncEvents[TName]): void {
    const set = this.listeners.get(name)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        ;(listener as unknown as Listener<SyncEvents[TName]>)(...args)
      } catch (error) {
        this.warn(`[pushsync] a ${name} listener threw`, error)
      }
    }
  }

  /** Reports a listener-like callback's error the same way (status watchers use it). */
  listenerFailed(what: string, error: unknown): void {
    this.warn(`[pushsync] a ${what} listener threw`, error)
  }
}
