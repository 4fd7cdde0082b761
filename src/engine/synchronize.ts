import { DELETE_PENDING } from '../core/model.js'
import { isRemoteDeletion } from '../core/remote-dataset.js'
import { SyncError } from '../errors.js'
import type { EngineContext } from './context.js'
import type { SyncResult } from './events.js'
import { reportMerged } from './sync-decisions.js'
import { adoptRemoteDataset, followRemoteDeletion, pushLocalDelete } from './sync-deletions.js'
import { applyPull, type Pull, pullAll } from './sync-pull.js'
import { push, pushDirectly } from './sync-push.js'
import { NOTHING, type SyncRun } from './sync-run.js'

export type { SyncConflict, SynchronizeOptions } from './sync-decisions.js'
export { applyPushedChanges } from './sync-pull.js'
export type { SyncRun } from './sync-run.js'

/**
 * Cognito's synchronize (spec §5.2) with the core's fixes: pull every page, resolve conflicts, apply
 * the remote records and the resolutions with the new `lastSyncCount` in one transaction, push the
 * dirty records, store the answer conditionally. A 409 lowers `lastSyncCount` and retries, at most
 * `maxRetries` times. Nothing is marked clean unless the server holds it, so any failure leaves the
 * local changes in place for the next sync; once `run.signal` is aborted nothing more is written.
 */
export async function synchronizeDataset(context: EngineContext, run: SyncRun): Promise<SyncResult> {
  const { storage } = context
  const { identityId, name } = run
  let updatedRecords = 0
  let conflictCount = 0
  let pushedDirectly = 0
  let mergedReported = false
  let prefetched: Pull | undefined
  if (run.adopt === true) {
    const adopted = await adoptRemoteDataset(context, run)
    if (adopted === 'absent') return { ...NOTHING, deleted: true, lastSyncCount: 0 }
    prefetched = adopted
  } else {
    const direct = await pushDirectly(context, run)
    if (direct !== undefined && typeof direct === 'object') {
      if (direct.caughtUp) return { ...NOTHING, pushed: direct.pushed, lastSyncCount: direct.lastSyncCount }
      pushedDirectly = direct.pushed
    }
  }

  for (let attempt = 0; attempt <= context.maxRetries; attempt++) {
    let meta = await storage.read((tx) => tx.getDataset(identityId, name))
    if (meta === undefined)
      throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" does not exist locally`)

    if (meta.lastSyncCount === DELETE_PENDING) {
      if ((await pushLocalDelete(context, run)) === 'gone')
        return { ...NOTHING, deleted: true, lastSyncCount: 0 }
      meta = await storage.read((tx) => tx.getDataset(identityId, name))
      if (meta === undefined) return { ...NOTHING, deleted: true, lastSyncCount: 0 }
    }

    const lastSyncCount = meta.lastSyncCount
    const pull = prefetched?.base === lastSyncCount ? prefetched : await pullAll(run, lastSyncCount)
    prefetched = undefined

    if (!mergedReported) {
      mergedReported = true
      await reportMerged(context, run, pull)
    }

    // From 0 a deletion shows only against the rows the server once gave this device (see the core).
    const local =
      lastSyncCount === 0 ? await storage.read((tx) => tx.listRecords(identityId, name)) : undefined
    if (isRemoteDeletion(lastSyncCount, pull, local)) {
      if ((await followRemoteDeletion(context, run, pull, lastSyncCount)) === 'gone')
        return { ...NOTHING, deleted: true, lastSyncCount: 0 }
      continue
    }

    const applied = await applyPull(context, run, pull, lastSyncCount)
    if (applied === 'changed') continue
    updatedRecords += applied.updated
    conflictCount += applied.conflicts

    const outcome = await push(context, run, pull.datasetSyncCount, pull.token, false)
    if (typeof outcome !== 'object') continue
    return {
      ...NOTHING,
      updatedRecords,
      conflicts: conflictCount,
      pushed: pushedDirectly + outcome.pushed,
      lastSyncCount: outcome.lastSyncCount,
    }
  }
  throw new SyncError(
    'SYNC_RETRIES_EXHAUSTED',
    `dataset "${name}" kept changing on the server; gave up after ${context.maxRetries} retries. Synchronize again.`,
  )
}
