import type { Limits } from './limits.js'
import {
  encodePushPayload,
  type PushedChanges,
  type PushSyncUpdate,
  parsePushPayload,
} from './push-payload.js'

/**
 * What a device knows about the dataset a push names. The caller looks the dataset up by the
 * update's `datasetName`; the decision does not compare names.
 */
export interface PushSyncState {
  readonly identityPoolId: string
  readonly identityId: string
  /** the dataset's local lastSyncCount: 0 when the device has no copy yet, -1 when a local delete is pending */
  readonly lastSyncCount: number
  /**
   * whether the device holds a copy of the dataset (a pending local delete counts); when it does
   * not, a push about the dataset's deletion has nothing to act on. Taken as true when omitted.
   */
  readonly held?: boolean
  /** a synchronize of this dataset is running */
  readonly syncing: boolean
}

/**
 * Why a push leads to nothing:
 * - `malformed` / `not-cognito-sync`: the payload is not a valid push-sync update (see `parsePushPayload`);
 * - `other-pool` / `other-identity`: it is meant for another app or another user of this device;
 * - `stale`: the device already holds that sync count or a newer one;
 * - `deleted`: the push reports the dataset's deletion and the device holds no copy of it (it may
 *   have deleted the dataset itself): taking the push up would bring back what is gone.
 */
export type PushIgnoreReason =
  | 'malformed'
  | 'not-cognito-sync'
  | 'other-pool'
  | 'other-identity'
  | 'stale'
  | 'deleted'

/**
 * `sync`: run a synchronize of the dataset. `coalesce`: one is running, and it may have read the
 * server before this change, so the engine runs a single follow-up after it rather than one per push.
 */
export type PushDecision =
  | { readonly action: 'sync' }
  | { readonly action: 'coalesce' }
  | { readonly action: 'ignore'; readonly reason: PushIgnoreReason; readonly message: string }

/** Ids are at most 55 characters, short enough to show whole, which tells two near-equal ids apart. */
function quote(text: string): string {
  return JSON.stringify(text)
}

const SYNC: PushDecision = Object.freeze({ action: 'sync' })
const COALESCE: PushDecision = Object.freeze({ action: 'coalesce' })

function ignore(reason: PushIgnoreReason, message: string): PushDecision {
  return Object.freeze({ action: 'ignore', reason, message })
}

/**
 * Decides what a push means for one dataset (spec 5.6: synchronize when the pushed `syncCount` is
 * newer than the local `lastSyncCount`).
 *
 * Total: `update` may be anything, a parsed {@link PushSyncUpdate} or a raw platform payload; it is
 * validated again, so a hand-built object cannot slip through. The checks run in order: payload
 * validity, pool, identity, a deletion of a dataset the device does not hold, staleness, then
 * `coalesce` while a sync runs, else `sync`. A pending local delete (`lastSyncCount` -1) is older
 * than any valid update, so the next synchronize both pushes the delete and learns what changed.
 *
 * @param limits - bounds the dataset name, as for `parsePushPayload`; Cognito's defaults when omitted.
 */
export function decidePushSync(state: PushSyncState, update: unknown, limits?: Limits): PushDecision {
  const parsed = parsePushPayload(update, limits)
  if (!parsed.ok) return ignore(parsed.failure.reason, parsed.failure.message)
  return decideParsedPush(state, parsed.value)
}

/**
 * {@link decidePushSync} for an update that {@link parsePushPayload} returned, which is not
 * validated again: for a caller that parsed the payload once and decides on it more than once (when
 * the push arrives, and again when its queued sync starts).
 *
 * @internal The engine's shortcut; apps call {@link decidePushSync}.
 */
export function decideParsedPush(state: PushSyncState, push: PushSyncUpdate): PushDecision {
  if (push.identityPoolId !== state.identityPoolId) {
    return ignore(
      'other-pool',
      `push identityPoolId ${quote(push.identityPoolId)} is not this device's ${quote(state.identityPoolId)}`,
    )
  }
  if (push.identityId !== state.identityId) {
    return ignore(
      'other-identity',
      `push identityId ${quote(push.identityId)} is not the current identity ${quote(state.identityId)}`,
    )
  }
  if (push.deleted === true && state.held === false) {
    return ignore(
      'deleted',
      `push reports dataset ${quote(push.datasetName)} deleted, and this device holds no copy of it`,
    )
  }
  if (push.syncCount <= state.lastSyncCount) {
    return ignore(
      'stale',
      `push syncCount ${push.syncCount} for dataset ${quote(push.datasetName)} is not newer than ` +
        `the local lastSyncCount ${state.lastSyncCount}`,
    )
  }
  return state.syncing ? COALESCE : SYNC
}

/**
 * The changes a push carries, when this device can apply them as they are instead of pulling:
 * they follow its `lastSyncCount` directly (so they are everything a pull would bring), and it has
 * no local changes (so nothing can conflict, and nothing waits to be pushed). Otherwise undefined:
 * the device synchronizes as usual.
 *
 * The changes are checked again (through their wire form), so a hand-built update cannot smuggle
 * records of the wrong shape or count in.
 */
export function pushedChangesToApply(
  state: { readonly lastSyncCount: number; readonly hasLocalChanges: boolean },
  update: PushSyncUpdate,
): PushedChanges | undefined {
  if (update.changes === undefined || state.hasLocalChanges) return undefined
  let checked: PushSyncUpdate
  try {
    const parsed = parsePushPayload(encodePushPayload(update, 'json'))
    if (!parsed.ok) return undefined
    checked = parsed.value
  } catch {
    return undefined
  }
  const changes = checked.changes
  if (changes === undefined || changes.after !== state.lastSyncCount) return undefined
  return changes
}
