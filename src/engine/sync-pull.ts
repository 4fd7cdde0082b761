import type { RecordsPage } from '../contracts/transport.js'
import { resolveConflict } from '../core/conflict.js'
import type { PullResult, RemoteRecord, SyncRecord } from '../core/model.js'
import { planPull } from '../core/pull.js'
import type { PushedChanges } from '../core/push-payload.js'
import { sameLocalRow } from '../core/records.js'
import { syncErrorFromFailure } from '../errors.js'
import type { EngineContext } from './context.js'
import type { SyncResult } from './events.js'
import { throwIfCancelled, transportError } from './failures.js'
import { readRows } from './local-rows.js'
import { decideConflicts } from './sync-decisions.js'
import { NOTHING, putMeta, type SyncRun } from './sync-run.js'

/** The pull side of a sync: reading the server's changes, and storing them with the decisions on conflicts. */

export type Pull = PullResult & { readonly token: string; readonly base: number }

/** ListRecords, every page, in one session. */
export async function pullAll(run: SyncRun, lastSyncCount: number): Promise<Pull> {
  const { transport, name } = run
  const records: RemoteRecord[] = []
  let first: RecordsPage | undefined
  let nextToken: string | undefined
  do {
    const result = await transport.listRecords(
      {
        datasetName: name,
        lastSyncCount,
        ...(nextToken === undefined ? {} : { nextToken }),
        ...(first === undefined ? {} : { syncSessionToken: first.syncSessionToken }),
      },
      run.signal,
    )
    if (!result.ok) throw transportError(result.failure, transport.name, `pulling dataset "${name}"`)
    first ??= result.value
    records.push(...result.value.records)
    nextToken = result.value.nextToken ?? undefined
  } while (nextToken !== undefined)
  return {
    records,
    datasetSyncCount: first.datasetSyncCount,
    datasetExists: first.datasetExists,
    datasetDeletedAfterRequestedSyncCount: first.datasetDeletedAfterRequestedSyncCount,
    mergedDatasetNames: first.mergedDatasetNames,
    token: first.syncSessionToken,
    base: lastSyncCount,
  }
}

/**
 * Applies the changes a push carried, as a pull that brought exactly them would: only while they
 * still follow the dataset's `lastSyncCount` and it has no local changes, both checked again in
 * the write. Resolves undefined when they do not; the caller then synchronizes as usual. No
 * request is made: the device skips the pull the push would otherwise cost it.
 */
export async function applyPushedChanges(
  context: EngineContext,
  run: Pick<SyncRun, 'identityId' | 'name' | 'signal'>,
  changes: PushedChanges,
): Promise<SyncResult | undefined> {
  const { storage } = context
  const { identityId, name } = run
  const syncCount = changes.after + 1
  const keys = new Set(changes.records.map((record) => record.key))
  const now = context.clock.now()
  throwIfCancelled(run.signal)
  const applied = await storage.write(async (tx) => {
    const meta = await tx.getDataset(identityId, name)
    if (meta === undefined || meta.lastSyncCount !== changes.after) return undefined
    if ((await tx.listRecords(identityId, name, { dirtyOnly: true })).length > 0) return undefined
    const pull: PullResult = {
      records: changes.records,
      datasetSyncCount: syncCount,
      datasetExists: true,
      datasetDeletedAfterRequestedSyncCount: false,
      mergedDatasetNames: [],
    }
    const plan = planPull(await readRows(tx, identityId, name, keys), pull, changes.after)
    // Without local changes nothing conflicts; should it, the ordinary sync decides.
    if (plan.conflicts.length > 0) return undefined
    await tx.putRecords(identityId, name, plan.apply)
    await putMeta(tx, meta, {
      lastSyncCount: plan.lastSyncCount,
      lastSyncDate: now,
      ...(plan.apply.length > 0 ? { lastModifiedDate: now } : {}),
    })
    return plan.apply.map((row) => row.key)
  })
  if (applied === undefined) return undefined
  if (applied.length > 0)
    context.events.emit('datasetChanged', { dataset: name, keys: applied, source: 'remote' })
  return { ...NOTHING, updatedRecords: applied.length, lastSyncCount: syncCount, path: 'pushed-changes' }
}

/**
 * Applies a pull. Conflicts are decided outside any transaction; the transaction then re-plans
 * against the rows as they are now and applies the decisions only if each conflicting row is still
 * the one the app saw. Otherwise it reports `changed` and the pass starts over.
 */
export async function applyPull(
  context: EngineContext,
  run: SyncRun,
  pull: PullResult,
  lastSyncCount: number,
): Promise<{ updated: number; conflicts: number } | 'changed'> {
  const { storage } = context
  const { identityId, name } = run
  // Nothing to apply and nothing to advance: no transaction (a sync that only pushes, say).
  if (pull.records.length === 0 && pull.datasetSyncCount <= lastSyncCount) return { updated: 0, conflicts: 0 }
  // Only the rows the pull names matter to its plan.
  const pulledKeys = new Set(pull.records.map((record) => record.key))
  const before = planPull(
    await storage.read((tx) => readRows(tx, identityId, name, pulledKeys)),
    pull,
    lastSyncCount,
  )
  const resolutions =
    before.conflicts.length > 0 ? await decideConflicts(context, run, before.conflicts) : new Map()

  const now = context.clock.now()
  throwIfCancelled(run.signal)
  const outcome = await storage.write(async (tx) => {
    const meta = await tx.getDataset(identityId, name)
    if (meta === undefined || meta.lastSyncCount !== lastSyncCount) return 'changed' as const
    const plan = planPull(await readRows(tx, identityId, name, pulledKeys), pull, lastSyncCount)
    const resolved: SyncRecord[] = []
    for (const conflict of plan.conflicts) {
      const decided = resolutions.get(conflict.key)
      if (decided === undefined || !sameLocalRow(decided.seen, conflict.local)) return 'changed' as const
      const record = resolveConflict(conflict, decided.resolution, { now, limits: context.limits })
      if (!record.ok) throw syncErrorFromFailure(record.failure)
      resolved.push(record.value)
    }
    const rows = [...plan.apply, ...resolved]
    await tx.putRecords(identityId, name, rows)
    await putMeta(tx, meta, {
      lastSyncCount: plan.lastSyncCount,
      ...(rows.length > 0 ? { lastModifiedDate: now } : {}),
    })
    return { updated: rows.length, conflicts: plan.conflicts.length, keys: rows.map((row) => row.key) }
  })
  if (outcome === 'changed') return outcome
  if (outcome.keys.length > 0)
    context.events.emit('datasetChanged', { dataset: name, keys: outcome.keys, source: 'remote' })
  return { updated: outcome.updated, conflicts: outcome.conflicts }
}
