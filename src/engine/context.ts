import type { StorageAdapter } from '../contracts/storage.js'
import type { ConflictResolver } from '../core/conflict.js'
import type { Limits } from '../core/limits.js'
import type { Clock } from './clock.js'
import type { DatasetCache } from './dataset-state.js'
import type { DeviceIds } from './device-id.js'
import type { SyncEventEmitter } from './events.js'
import type { Session } from './session.js'
import type { SynchronizeOptions } from './synchronize.js'

/**
 * The manager's handlers for decisions a sync may need: they decide every sync, the ones the app
 * did not call included (a push, connectivity coming back, the interval, another tab). A
 * `synchronize()` call's own options win over them.
 */
export interface SyncHandlers extends SynchronizeOptions {
  /** Decides conflicts when no `onConflict` does. Default: last writer wins. */
  readonly conflictResolver?: ConflictResolver
}

/**
 * What the engine's parts share: the ports, the clock and limits, the events, the identity and the
 * state of every dataset. Plain services, no callbacks into the manager.
 */
export interface EngineContext {
  readonly identityPoolId: string
  readonly storage: StorageAdapter
  readonly clock: Clock
  readonly limits: Limits
  readonly events: SyncEventEmitter
  readonly datasets: DatasetCache
  readonly session: Session
  readonly deviceIds: DeviceIds
  readonly handlers: SyncHandlers
  /** Retries after a 409 before SYNC_RETRIES_EXHAUSTED. */
  readonly maxRetries: number
  readonly logger: Pick<Console, 'warn'> | undefined
  /** Other tabs write the same storage, so nothing read from it may be kept between calls. */
  readonly sharedStorage: boolean
  /** Whether a push source is live: the device then hears of every change soon after it is made. */
  readonly channel: { readonly live: boolean }
}

/** Logs without letting a throwing logger reach the caller. */
export function warn(context: Pick<EngineContext, 'logger'>, message: string, error?: unknown): void {
  try {
    context.logger?.warn(message, error)
  } catch {
    // Nothing to do: the warning is lost, the engine goes on.
  }
}
