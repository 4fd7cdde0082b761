import type { ConflictResolver, Resolution } from '../core/conflict.js'
import { lastWriterWins } from '../core/conflict.js'
import type { PullResult, SyncRecord } from '../core/model.js'
import type { Conflict } from '../core/pull.js'
import { findMergedDatasets, type RemoteDeletionChoice } from '../core/remote-dataset.js'
import { SyncError } from '../errors.js'
import type { EngineContext } from './context.js'
import type { DecidedBy } from './events.js'
import type { SyncRun } from './sync-run.js'

/**
 * The decisions a sync may need (conflicts, a remote deletion, merged datasets), taken by the
 * call's option, else the manager's, else the built-in default, which then says so.
 */

/** A conflict handed to `onConflict`: resolve each one, or the sync fails with CONFLICT_UNRESOLVED. */
export interface SyncConflict extends Conflict {
  /** Keeps the server's record (`remote`): the local change is dropped. */
  resolveWithRemote(): void
  /** Keeps this device's value (`local`); it is pushed on the server's record as its base. */
  resolveWithLocal(): void
  /** A new value; `null` removes the record. */
  resolveWithValue(value: string | null): void
  /** What was chosen so far; undefined while the conflict is open. */
  readonly resolution: Resolution | undefined
}

/**
 * The decisions one `synchronize()` call takes itself; a decision it leaves out goes to the
 * manager's handler of the same name, else to the built-in default (see `defaultDecided`).
 */
export interface SynchronizeOptions {
  /** Decide conflicts yourself; without it the manager's handlers (or last writer wins) do. */
  readonly onConflict?: (conflicts: readonly SyncConflict[]) => void | Promise<void>
  /**
   * The dataset was deleted on the server. `keep` re-creates it from the local records, `delete`
   * follows the deletion. Default: keep when there are local changes the server never saw.
   */
  readonly onDatasetDeleted?: (event: {
    readonly dataset: string
    readonly hasLocalChanges: boolean
  }) => RemoteDeletionChoice | Promise<RemoteDeletionChoice>
  /** Datasets merged into this one by an identity merge (`NAME.OLDID`); the sync goes on either way. */
  readonly onDatasetsMerged?: (event: {
    readonly dataset: string
    readonly merged: readonly string[]
  }) => void | Promise<void>
}

/** The call's handler when it has one, else the manager's. */
export function handler<TName extends keyof SynchronizeOptions>(
  context: EngineContext,
  run: SyncRun,
  name: TName,
): { readonly handle: SynchronizeOptions[TName]; readonly decidedBy: DecidedBy } {
  const own = run.options?.[name]
  if (own !== undefined) return { handle: own, decidedBy: 'call' }
  const managers = context.handlers[name]
  return { handle: managers, decidedBy: managers === undefined ? 'default' : 'manager' }
}

export async function reportMerged(context: EngineContext, run: SyncRun, pull: PullResult): Promise<void> {
  const localNames = (await context.storage.read((tx) => tx.listDatasets(run.identityId))).map((m) => m.name)
  const merged = findMergedDatasets(run.name, pull.mergedDatasetNames, localNames)
  if (merged.length === 0) return
  const event = { dataset: run.name, merged }
  context.events.emit('datasetsMerged', event)
  const { handle } = handler(context, run, 'onDatasetsMerged')
  if (handle === undefined) context.events.emit('defaultDecided', { ...event, decision: 'datasetsMerged' })
  else await handle(event)
}

function wrapConflict(conflict: Conflict): SyncConflict {
  let resolution: Resolution | undefined
  return {
    ...conflict,
    resolveWithRemote: () => {
      resolution = { kind: 'remote' }
    },
    resolveWithLocal: () => {
      resolution = { kind: 'local' }
    },
    resolveWithValue: (value) => {
      resolution = { kind: 'value', value }
    },
    get resolution() {
      return resolution
    },
  }
}

/**
 * Decides each conflict, outside any transaction (an app's callback may take its time): the call's
 * `onConflict`, else the manager's, else the manager's `conflictResolver`, else last writer wins.
 */
export async function decideConflicts(
  context: EngineContext,
  run: SyncRun,
  conflicts: readonly Conflict[],
): Promise<Map<string, { seen: SyncRecord; resolution: Resolution }>> {
  const decided = new Map<string, { seen: SyncRecord; resolution: Resolution }>()
  const { handle: onConflict, decidedBy } = handler(context, run, 'onConflict')
  const resolver: ConflictResolver | undefined = context.handlers.conflictResolver
  const by: DecidedBy = onConflict === undefined && resolver !== undefined ? 'manager' : decidedBy
  context.events.emit('conflict', { dataset: run.name, conflicts, decidedBy: by })
  if (onConflict !== undefined) {
    const wrapped = conflicts.map(wrapConflict)
    await onConflict(wrapped)
    const unresolved = wrapped.filter((conflict) => conflict.resolution === undefined).map((c) => c.key)
    if (unresolved.length > 0) {
      throw new SyncError(
        'CONFLICT_UNRESOLVED',
        `onConflict left ${unresolved.length} conflict(s) unresolved`,
        {
          details: { keys: unresolved },
        },
      )
    }
    for (const conflict of wrapped) {
      if (conflict.resolution !== undefined)
        decided.set(conflict.key, { seen: conflict.local, resolution: conflict.resolution })
    }
    return decided
  }
  for (const conflict of conflicts)
    decided.set(conflict.key, { seen: conflict.local, resolution: (resolver ?? lastWriterWins)(conflict) })
  if (by === 'default') {
    const outcomes = [...decided].map(([key, { resolution }]) => ({ key, winner: resolution.kind }))
    context.events.emit('defaultDecided', { dataset: run.name, decision: 'conflicts', outcomes })
  }
  return decided
}
