import type { SyncRecord } from '../core/model.js'
import {
  createDatasetMeta,
  type LocalChange,
  type LocalWriteState,
  planLocalDelete,
  planLocalWrite,
  validateChanges,
} from '../core/records.js'
import { SyncError, syncErrorFromFailure } from '../errors.js'
import type { EngineContext } from './context.js'
import { KEYS_READ_ONE_BY_ONE, readRows } from './local-rows.js'

/**
 * Applies puts and removes to a dataset in one storage transaction, all or nothing, then tells the
 * listeners and the dataset's status. Input is checked before storage is touched, once.
 */
export async function writeLocally(
  context: EngineContext,
  name: string,
  changes: LocalChange[],
): Promise<void> {
  context.session.assertOpen()
  const valid = validateChanges(changes, context.limits)
  if (!valid.ok) throw syncErrorFromFailure(valid.failure)
  const identityId = context.session.identityId
  const state = context.datasets.get(name)
  const now = context.clock.now()
  const keys = new Set(changes.map((change) => change.key))
  const known = state.knownUsage()
  const written = await context.storage.write(async (tx) => {
    const meta = await tx.getDataset(identityId, name)
    if (meta === undefined)
      throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" does not exist; open it first`)
    // The quota check needs the dataset's usage: kept from the last write, it costs a read per
    // touched key instead of a read of the whole dataset.
    const rows: LocalWriteState | readonly SyncRecord[] =
      known === undefined || keys.size > KEYS_READ_ONE_BY_ONE
        ? await tx.listRecords(identityId, name)
        : { rows: await readRows(tx, identityId, name, keys), usage: known }
    const plan = planLocalWrite(meta, rows, valid.value, { now, limits: context.limits })
    if (!plan.ok) throw syncErrorFromFailure(plan.failure)
    if (plan.value.records.length > 0) {
      await tx.putRecords(identityId, name, plan.value.records)
      await tx.putDataset(plan.value.meta)
    }
    return plan.value
  })
  state.rememberUsage(written.usage, context.sharedStorage)
  if (written.records.length === 0) return
  // Committed: from here nothing may fail the write, and the pending count must follow it.
  if (state.knowsPending) state.dispatch({ type: 'pendingGrew', by: written.newlyDirty })
  else await countPending(context, name)
  context.events.emit('datasetChanged', {
    dataset: name,
    keys: written.records.map((record) => record.key),
    source: 'local',
  })
}

/** Deletes the dataset locally now; the deletion reaches the server at the next synchronize. */
export async function deleteLocally(context: EngineContext, name: string): Promise<void> {
  context.session.assertOpen()
  const identityId = context.session.identityId
  const now = context.clock.now()
  const removed = await context.storage.write(async (tx) => {
    const meta = await tx.getDataset(identityId, name)
    if (meta === undefined) return undefined
    const records = await tx.listRecords(identityId, name)
    const plan = planLocalDelete(meta, records, now)
    await tx.deleteRecords(identityId, name, plan.deleteKeys)
    await tx.putDataset(plan.meta)
    return records.filter((record) => record.value !== null).map((record) => record.key)
  })
  const state = context.datasets.get(name)
  state.forgetUsage()
  await countPending(context, name)
  if (removed !== undefined)
    context.events.emit('datasetDeleted', { dataset: name, keys: removed, source: 'local' })
}

/**
 * Creates the dataset locally unless it exists; its name and the dataset quota are checked then,
 * so a merged `NAME.OLDID`, which may be longer than a new name may be, still opens.
 */
export async function ensureDataset(context: EngineContext, name: string): Promise<void> {
  const identityId = context.session.identityId
  const now = context.clock.now()
  await context.storage.write(async (tx) => {
    if ((await tx.getDataset(identityId, name)) !== undefined) return
    // Checks the name and the dataset quota.
    const meta = createDatasetMeta(identityId, name, await tx.listDatasets(identityId), {
      now,
      limits: context.limits,
    })
    if (!meta.ok) throw syncErrorFromFailure(meta.failure)
    await tx.putDataset(meta.value)
  })
}

/**
 * Counts the dataset's dirty rows in storage. Never rejects: it runs after something was committed,
 * and a failed count must not turn a done write or sync into a failure (the next count mends it).
 */
export async function countPending(context: EngineContext, name: string): Promise<void> {
  try {
    const identityId = context.session.identityId
    const dirty = await context.storage.read((tx) => tx.listRecords(identityId, name, { dirtyOnly: true }))
    context.datasets.get(name).dispatch({ type: 'pendingCounted', count: dirty.length })
  } catch {
    // Storage closed or failing: the status keeps its last count until the next write or sync.
  }
}
