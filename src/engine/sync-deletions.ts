import { DELETE_PENDING, type PullResult } from '../core/model.js'
import {
  defaultRemoteDeletionChoice,
  planRemoteDeletion,
  type RemoteDeletionChoice,
} from '../core/remote-dataset.js'
import type { EngineContext } from './context.js'
import { throwIfCancelled, transportError } from './failures.js'
import { ensureDataset } from './local-writes.js'
import { handler } from './sync-decisions.js'
import { type Pull, pullAll } from './sync-pull.js'
import type { SyncRun } from './sync-run.js'

/** The deletions a sync carries out: a pending local one, one made on the server, and adopting a dataset this device lacks. */

/**
 * For a dataset the device does not hold: pulls it, and creates the local copy only when the
 * server has the dataset. A push about a dataset that was deleted (by this device, say) so leaves
 * nothing behind. Resolves undefined when the device holds the dataset after all.
 */
export async function adoptRemoteDataset(
  context: EngineContext,
  run: SyncRun,
): Promise<Pull | 'absent' | undefined> {
  const { storage } = context
  const { identityId, name } = run
  if ((await storage.read((tx) => tx.getDataset(identityId, name))) !== undefined) return undefined
  const pull = await pullAll(run, 0)
  if (!pull.datasetExists) return 'absent'
  throwIfCancelled(run.signal)
  await ensureDataset(context, name)
  return pull
}

/** Sends a pending local delete: `gone` when the dataset is gone, `rewritten` when writes followed the delete. */
export async function pushLocalDelete(context: EngineContext, run: SyncRun): Promise<'gone' | 'rewritten'> {
  const { storage } = context
  const { transport, identityId, name } = run
  const deviceId = await context.deviceIds.forWrite(identityId)
  const result = await transport.deleteDataset(
    { datasetName: name, ...(deviceId === undefined ? {} : { deviceId }) },
    run.signal,
  )
  if (!result.ok && result.failure.kind !== 'notFound') {
    throw transportError(result.failure, transport.name, `deleting dataset "${name}" on the server`)
  }
  throwIfCancelled(run.signal)
  return storage.write(async (tx) => {
    const meta = await tx.getDataset(identityId, name)
    if (meta === undefined) return 'gone'
    if (meta.lastSyncCount !== DELETE_PENDING) return 'rewritten'
    const records = await tx.listRecords(identityId, name)
    if (records.length === 0) {
      await tx.deleteDataset(identityId, name)
      return 'gone'
    }
    // The app wrote to the dataset after deleting it: those records start a new incarnation.
    await tx.putDataset({ ...meta, lastSyncCount: 0 })
    return 'rewritten'
  })
}

/** Keeps or drops the local copy of a dataset deleted on the server; `gone` when nothing is left. */
export async function followRemoteDeletion(
  context: EngineContext,
  run: SyncRun,
  pull: PullResult,
  lastSyncCount: number,
): Promise<'gone' | 'again'> {
  const { storage } = context
  const { identityId, name } = run
  const local = await storage.read((tx) => tx.listRecords(identityId, name))
  const hasLocalChanges = local.some((record) => record.dirty)
  const { handle } = handler(context, run, 'onDatasetDeleted')
  let choice: RemoteDeletionChoice
  if (handle === undefined) {
    choice = defaultRemoteDeletionChoice(local)
    context.events.emit('defaultDecided', { dataset: name, decision: 'remoteDeletion', choice })
  } else {
    choice = await handle({ dataset: name, hasLocalChanges })
  }
  throwIfCancelled(run.signal)
  const outcome = await storage.write(async (tx) => {
    const current = await tx.getDataset(identityId, name)
    if (current?.lastSyncCount !== lastSyncCount) return undefined
    const records = await tx.listRecords(identityId, name)
    const plan = planRemoteDeletion(records, choice, pull)
    const removed = records.filter((row) => row.value !== null).map((row) => row.key)
    if (plan.dropDataset) {
      await tx.deleteDataset(identityId, name)
      return { gone: true, removed }
    }
    await tx.deleteRecords(identityId, name, plan.deleteKeys)
    await tx.putRecords(identityId, name, plan.records)
    await tx.putDataset({ ...current, lastSyncCount: plan.lastSyncCount })
    return { gone: false, removed: choice === 'delete' ? removed : [] }
  })
  if (outcome === undefined) return 'again'
  if (outcome.gone) {
    context.events.emit('datasetDeleted', { dataset: name, keys: outcome.removed, source: 'remote' })
    return 'gone'
  }
  // The server holds a new incarnation: the old records went, the pull from 0 brings the new ones.
  if (outcome.removed.length > 0)
    context.events.emit('datasetChanged', { dataset: name, keys: outcome.removed, source: 'remote' })
  return 'again'
}
