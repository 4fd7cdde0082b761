import { EventEmitter } from 'eventemitter3'
import type { Conflict } from '../core/pull.js'
import type { PushDecision } from '../core/push-decision.js'
import type { PushSyncUpdate } from '../core/push-payload.js'
import type { SyncError } from '../errors.js'

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
}

/** The manager's events and what each listener receives. */
export interface SyncEvents {
  /** Records of a dataset changed: by the app (`local`) or by a sync (`remote`). */
  datasetChanged: [
    event: {
      readonly dataset: string
      readonly keys: readonly string[]
      readonly source: 'local' | 'remote'
    },
  ]
  syncStarted: [event: { readonly dataset: string }]
  syncSucceeded: [event: { readonly dataset: string; readonly result: SyncResult }]
  syncFailed: [event: { readonly dataset: string; readonly error: SyncError }]
  conflict: [event: { readonly dataset: string; readonly conflicts: readonly Conflict[] }]
  pushReceived: [event: { readonly update: PushSyncUpdate; readonly decision: PushDecision }]
  pushIgnored: [event: { readonly payload: unknown; readonly reason: string; readonly message: string }]
  /** A push source failed (a dropped connection, a refused token); it keeps retrying until stopped. */
  pushSourceError: [event: { readonly source: string; readonly error: SyncError }]
}

export type SyncEventName = keyof SyncEvents

/** Typed events; listeners that throw do not break the engine (the error is logged). */
export class SyncEventEmitter extends EventEmitter<SyncEvents> {}
