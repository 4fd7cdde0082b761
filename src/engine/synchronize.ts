import type { StorageAdapter, StorageWriteTx } from '../contracts/storage.js'
import type { RecordsPage, Transport } from '../contracts/transport.js'
import type { ConflictResolver, Resolution } from '../core/conflict.js'
import { resolveConflict } from '../core/conflict.js'
import type { Limits } from '../core/limits.js'
import {
  type DatasetMeta,
  DELETE_PENDING,
  type PullResult,
  type RemoteRecord,
  type SyncRecord,
} from '../core/model.js'
import { type Conflict, planPull } from '../core/pull.js'
import { applyPushResult, lastSyncCountAfterPushConflict, planPush } from '../core/push.js'
import type { PushedChanges } from '../core/push-payload.js'
import {
  defaultRemoteDeletionChoice,
  findMergedDatasets,
  isRemoteDeletion,
  planRemoteDeletion,
  type RemoteDeletionChoice,
} from '../core/remote-dataset.js'
import { SyncError } from '../errors.js'
import type { Clock } from './clock.js'
import type { SyncEventEmitter, SyncResult } from './events.js'
import { transportError, validationError } from './failures.js'
import { readRows } from './local-rows.js'

/** A conflict handed to `onConflict`: resolve each one, or the sync fails with CONFLICT_UNRESOLVED. */
export interface SyncConflict extends Conflict {
  resolveWithRemote(): void
  resolveWithLocal(): void
  /** A new value; `null` removes the record. */
  resolveWithValue(value: string | null): void
  readonly resolution: Resolution | undefined
}

export interface SynchronizeOptions {
  /** Decide conflicts yourself; without it the manager's `conflictResolver` (last writer wins) does. */
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

export interface SyncContext {
  readonly identityId: string
  readonly storage: StorageAdapter
  readonly transport: Transport
  readonly clock: Clock
  readonly limits: Limits
  readonly resolver: ConflictResolver
  readonly events: SyncEventEmitter
  readonly maxRetries: number
  /** The device id of this device's push registration, sent so the server does not echo pushes. */
  deviceId(): Promise<string | undefined>
}

const NOTHING: Omit<SyncResult, 'lastSyncCount'> = {
  updatedRecords: 0,
  conflicts: 0,
  pushed: 0,
  deleted: false,
}

/**
 * Cognito's synchronize (spec §5.2) with the core's fixes: pull every page, resolve conflicts, apply
 * the remote records and the resolutions with the new `lastSyncCount` in one transaction, push the
 * dirty records, store the answer conditionally. A 409 lowers `lastSyncCount` and retries, at most
 * `maxRetries` times. Nothing is marked clean unless the server holds it, so any failure leaves the
 * local changes in place for the next sync.
 */
export async function synchronizeDataset(
  context: SyncContext,
  name: string,
  options: SynchronizeOptions = {},
): Promise<SyncResult> {
  const { identityId, storage } = context
  let updatedRecords = 0
  let conflictCount = 0
  let mergedReported = false

  for (let attempt = 0; attempt <= context.maxRetries; attempt++) {
    let meta = await storage.read((tx) => tx.getDataset(identityId, name))
    if (meta === undefined)
      throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" does not exist locally`)

    if (meta.lastSyncCount === DELETE_PENDING) {
      const deleted = await pushLocalDelete(context, name)
      if (deleted !== undefined) return { ...NOTHING, deleted: true, lastSyncCount: 0 }
      meta = await storage.read((tx) => tx.getDataset(identityId, name))
      if (meta === undefined) return { ...NOTHING, deleted: true, lastSyncCount: 0 }
    }

    const lastSyncCount = meta.lastSyncCount
    const pull = await pullAll(context, name, lastSyncCount)

    if (!mergedReported) {
      mergedReported = true
      const localNames = (await storage.read((tx) => tx.listDatasets(identityId))).map((m) => m.name)
      const merged = findMergedDatasets(name, pull.mergedDatasetNames, localNames)
      if (merged.length > 0) await options.onDatasetsMerged?.({ dataset: name, merged })
    }

    if (isRemoteDeletion(lastSyncCount, pull)) {
      const local = await storage.read((tx) => tx.listRecords(identityId, name))
      const hasLocalChanges = local.some((record) => record.dirty)
      const choice =
        (await options.onDatasetDeleted?.({ dataset: name, hasLocalChanges })) ??
        defaultRemoteDeletionChoice(local)
      const dropped = await storage.write(async (tx) => {
        const current = await tx.getDataset(identityId, name)
        if (current?.lastSyncCount !== lastSyncCount) return undefined
        const records = await tx.listRecords(identityId, name)
        const plan = planRemoteDeletion(records, choice, pull)
        if (plan.dropDataset) {
          await tx.deleteDataset(identityId, name)
          return true
        }
        await tx.deleteRecords(identityId, name, plan.deleteKeys)
        await tx.putRecords(identityId, name, plan.records)
        await tx.putDataset({ ...current, lastSyncCount: plan.lastSyncCount })
        return false
      })
      if (dropped === true) {
        context.events.emit('datasetChanged', { dataset: name, keys: [], source: 'remote' })
        return { ...NOTHING, deleted: true, lastSyncCount: 0 }
      }
      continue
    }

    const applied = await applyPull(context, name, pull, lastSyncCount, options)
    if (applied === 'changed') continue
    updatedRecords += applied.updated
    conflictCount += applied.conflicts

    const outcome = await push(context, name, pull.datasetSyncCount, pull.token)
    if (outcome === 'conflict') continue
    return {
      updatedRecords,
      conflicts: conflictCount,
      pushed: outcome.pushed,
      lastSyncCount: outcome.lastSyncCount,
      deleted: false,
    }
  }
  throw new SyncError(
    'SYNC_RETRIES_EXHAUSTED',
    `dataset "${name}" kept changing on the server; gave up after ${context.maxRetries} retries. Synchronize again.`,
  )
}

/** Sends a pending local delete. Returns true when the dataset is gone; undefined when writes followed the delete. */
async function pushLocalDelete(context: SyncContext, name: string): Promise<true | undefined> {
  const { transport, storage, identityId } = context
  const result = await transport.deleteDataset(name)
  if (!result.ok && result.failure.kind !== 'notFound') {
    throw transportError(result.failure, transport.name, `deleting dataset "${name}" on the server`)
  }
  return storage.write(async (tx) => {
    const meta = await tx.getDataset(identityId, name)
    if (meta === undefined) return true
    if (meta.lastSyncCount !== DELETE_PENDING) return undefined
    const records = await tx.listRecords(identityId, name)
    if (records.length === 0) {
      await tx.deleteDataset(identityId, name)
      return true
    }
    // The app wrote to the dataset after deleting it: those records start a new incarnation.
    await tx.putDataset({ ...meta, lastSyncCount: 0 })
    return undefined
  })
}

/** ListRecords, every page, in one session. */
async function pullAll(
  context: SyncContext,
  name: string,
  lastSyncCount: number,
): Promise<PullResult & { token: string }> {
  const { transport } = context
  const records: RemoteRecord[] = []
  let first: RecordsPage | undefined
  let nextToken: string | undefined
  do {
    const result = await transport.listRecords({
      datasetName: name,
      lastSyncCount,
      ...(nextToken === undefined ? {} : { nextToken }),
      ...(first === undefined ? {} : { syncSessionToken: first.syncSessionToken }),
    })
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
  }
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
 * Applies the changes a push carried, as a pull that brought exactly them would: only while they
 * still follow the dataset's `lastSyncCount` and it has no local changes, both checked again in
 * the write. Resolves undefined when they do not; the caller then synchronizes as usual. No
 * request is made: the device skips the pull the push would otherwise cost it.
 */
export async function applyPushedChanges(
  context: Pick<SyncContext, 'identityId' | 'storage' | 'clock' | 'events'>,
  name: string,
  changes: PushedChanges,
): Promise<SyncResult | undefined> {
  const { storage, identityId } = context
  const syncCount = changes.after + 1
  const keys = new Set(changes.records.map((record) => record.key))
  const now = context.clock.now()
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
  return { ...NOTHING, updatedRecords: applied.length, lastSyncCount: syncCount }
}

/**
 * Applies a pull. Conflicts are decided outside any transaction (the app's callback may take its
 * time); the transaction then re-plans against the rows as they are now and applies the decisions
 * only if each conflicting row is still the one the app saw. Otherwise it reports `changed` and the
 * pass starts over.
 */
async function applyPull(
  context: SyncContext,
  name: string,
  pull: PullResult,
  lastSyncCount: number,
  options: SynchronizeOptions,
): Promise<{ updated: number; conflicts: number } | 'changed'> {
  const { storage, identityId } = context
  // Nothing to apply and nothing to advance: no transaction (a sync that only pushes, say).
  if (pull.records.length === 0 && pull.datasetSyncCount <= lastSyncCount) return { updated: 0, conflicts: 0 }
  // Only the rows the pull names matter to its plan.
  const pulledKeys = new Set(pull.records.map((record) => record.key))
  const before = planPull(
    await storage.read((tx) => readRows(tx, identityId, name, pulledKeys)),
    pull,
    lastSyncCount,
  )
  const resolutions = new Map<string, { seen: SyncRecord; resolution: Resolution }>()
  if (before.conflicts.length > 0) {
    context.events.emit('conflict', { dataset: name, conflicts: before.conflicts })
    if (options.onConflict !== undefined) {
      const wrapped = before.conflicts.map(wrapConflict)
      await options.onConflict(wrapped)
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
        if (conflict.resolution !== undefined) {
          resolutions.set(conflict.key, { seen: conflict.local, resolution: conflict.resolution })
        }
      }
    } else {
      for (const conflict of before.conflicts) {
        resolutions.set(conflict.key, { seen: conflict.local, resolution: context.resolver(conflict) })
      }
    }
  }

  const now = context.clock.now()
  const outcome = await storage.write(async (tx) => {
    const meta = await tx.getDataset(identityId, name)
    if (meta === undefined || meta.lastSyncCount !== lastSyncCount) return 'changed' as const
    const plan = planPull(await readRows(tx, identityId, name, pulledKeys), pull, lastSyncCount)
    const resolved: SyncRecord[] = []
    for (const conflict of plan.conflicts) {
      const decided = resolutions.get(conflict.key)
      if (decided === undefined || !sameRow(decided.seen, conflict.local)) return 'changed' as const
      const record = resolveConflict(conflict, decided.resolution, { now, limits: context.limits })
      if (!record.ok) throw validationError(record.failure)
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

async function push(
  context: SyncContext,
  name: string,
  seenDatasetSyncCount: number,
  syncSessionToken: string,
): Promise<{ pushed: number; lastSyncCount: number } | 'conflict'> {
  const { storage, transport, identityId } = context
  const { plan, meta } = await storage.read(async (tx) => ({
    plan: planPush(await tx.listRecords(identityId, name, { dirtyOnly: true })),
    meta: await tx.getDataset(identityId, name),
  }))
  if (meta === undefined)
    throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" was removed during the sync`)
  const now = context.clock.now()
  if (plan.patches.length === 0) {
    await storage.write(async (tx) => {
      const current = await tx.getDataset(identityId, name)
      if (current !== undefined) await putMeta(tx, current, { lastSyncDate: now })
    })
    return { pushed: 0, lastSyncCount: meta.lastSyncCount }
  }
  // The pull's session token: a 409 leaves it unspent, but the retry pulls again and gets a new one.
  const deviceId = await context.deviceId()
  const result = await transport.updateRecords({
    datasetName: name,
    patches: plan.patches,
    syncSessionToken,
    ...(deviceId === undefined ? {} : { deviceId }),
  })
  if (!result.ok) {
    if (result.failure.kind === 'conflict') {
      await storage.write(async (tx) => {
        const current = await tx.getDataset(identityId, name)
        if (current === undefined) return
        await putMeta(tx, current, {
          lastSyncCount: lastSyncCountAfterPushConflict(current.lastSyncCount, plan.patches),
        })
      })
      return 'conflict'
    }
    throw transportError(
      result.failure,
      transport.name,
      `pushing ${plan.patches.length} change(s) to dataset "${name}"`,
    )
  }
  const stored = await storage.write(async (tx) => {
    const current = await tx.getDataset(identityId, name)
    if (current === undefined) return undefined
    const keys = result.value.map((record) => record.key)
    const rows = (await Promise.all(keys.map((key) => tx.getRecord(identityId, name, key)))).filter(
      (row): row is SyncRecord => row !== undefined,
    )
    const applied = applyPushResult({
      snapshot: plan.snapshot,
      current: rows,
      returned: result.value,
      seenDatasetSyncCount,
      lastSyncCount: current.lastSyncCount,
    })
    await tx.putRecords(identityId, name, applied.records)
    await putMeta(tx, current, { lastSyncCount: applied.lastSyncCount, lastSyncDate: now })
    return { lastSyncCount: applied.lastSyncCount, keys: applied.records.map((r) => r.key) }
  })
  if (stored === undefined)
    throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" was removed during the sync`)
  return { pushed: plan.patches.length, lastSyncCount: stored.lastSyncCount }
}

async function putMeta(tx: StorageWriteTx, meta: DatasetMeta, changes: Partial<DatasetMeta>): Promise<void> {
  await tx.putDataset({ ...meta, ...changes })
}

function sameRow(a: SyncRecord, b: SyncRecord): boolean {
  return (
    a.value === b.value &&
    a.dirty === b.dirty &&
    a.syncCount === b.syncCount &&
    a.deviceLastModifiedDate === b.deviceLastModifiedDate
  )
}
