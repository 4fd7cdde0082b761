import type { StorageWriteTx } from '../contracts/storage.js'
import type { RecordsPage, Transport } from '../contracts/transport.js'
import { type ConflictResolver, lastWriterWins, type Resolution, resolveConflict } from '../core/conflict.js'
import {
  type DatasetMeta,
  DELETE_PENDING,
  type PullResult,
  type RemoteRecord,
  type SyncRecord,
} from '../core/model.js'
import { type Conflict, planPull } from '../core/pull.js'
import { applyPushResult, lastSyncCountAfterPushConflict, type PushPlan, planPush } from '../core/push.js'
import type { PushedChanges } from '../core/push-payload.js'
import { sameLocalRow } from '../core/records.js'
import {
  defaultRemoteDeletionChoice,
  findMergedDatasets,
  isRemoteDeletion,
  planRemoteDeletion,
  type RemoteDeletionChoice,
} from '../core/remote-dataset.js'
import { SyncError, syncErrorFromFailure } from '../errors.js'
import type { EngineContext } from './context.js'
import type { DatasetState } from './dataset-state.js'
import type { DecidedBy, SyncResult } from './events.js'
import { throwIfCancelled, transportError } from './failures.js'
import { readRows } from './local-rows.js'
import { ensureDataset } from './local-writes.js'

/** A conflict handed to `onConflict`: resolve each one, or the sync fails with CONFLICT_UNRESOLVED. */
export interface SyncConflict extends Conflict {
  resolveWithRemote(): void
  resolveWithLocal(): void
  /** A new value; `null` removes the record. */
  resolveWithValue(value: string | null): void
  readonly resolution: Resolution | undefined
}

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

/** One sync's inputs: what to sync, for whom, through what, and the signal that cancels it. */
export interface SyncRun {
  readonly name: string
  readonly identityId: string
  readonly transport: Transport
  readonly signal: AbortSignal
  /** The `synchronize()` call's own options; they win over the manager's handlers. */
  readonly options: SynchronizeOptions | undefined
  /**
   * The device holds no copy of the dataset (a push named it): take it up if the server has it,
   * and leave nothing behind if it does not.
   */
  readonly adopt?: boolean
  /** The dataset's state on this device: where the session token for the next direct push is kept. */
  readonly state: DatasetState
}

const NOTHING: Omit<SyncResult, 'lastSyncCount'> = {
  updatedRecords: 0,
  conflicts: 0,
  pushed: 0,
  deleted: false,
  path: 'full',
}

type Pull = PullResult & { readonly token: string; readonly base: number }

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

    if (isRemoteDeletion(lastSyncCount, pull)) {
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

/** Kept session tokens older than this are not used: the server's last 15 minutes. */
const SESSION_MAX_AGE_MS = 10 * 60_000

/**
 * The one-round-trip sync of a device that is current: its live channel is up and has told it of
 * no count above its `lastSyncCount`, so the pull would bring nothing, and it holds a session token
 * from its last answer. It sends UpdateRecords straight away; the server's count check still
 * decides conflicts. Undefined when it does not apply; the outcome otherwise, and anything but
 * `caughtUp` (a 409, a refused token, another writer in between) means the full sync follows, once.
 */
async function pushDirectly(context: EngineContext, run: SyncRun): Promise<PushOutcome | undefined> {
  if (!context.channel.live) return undefined
  const { state } = run
  const prepared = await readPushPlan(context, run)
  const { meta, plan } = prepared
  if (
    meta === undefined ||
    meta.lastSyncCount === DELETE_PENDING ||
    state.heardCount > meta.lastSyncCount ||
    plan.patches.length === 0
  ) {
    return undefined
  }
  const token = state.takeSyncSession(context.clock.now(), SESSION_MAX_AGE_MS)
  if (token === undefined) return undefined
  return push(context, run, meta.lastSyncCount, token, true, prepared)
}

/**
 * For a dataset the device does not hold: pulls it, and creates the local copy only when the
 * server has the dataset. A push about a dataset that was deleted (by this device, say) so leaves
 * nothing behind. Resolves undefined when the device holds the dataset after all.
 */
async function adoptRemoteDataset(
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
async function pushLocalDelete(context: EngineContext, run: SyncRun): Promise<'gone' | 'rewritten'> {
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

/** ListRecords, every page, in one session. */
async function pullAll(run: SyncRun, lastSyncCount: number): Promise<Pull> {
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

/** The call's handler when it has one, else the manager's. */
function handler<TName extends keyof SynchronizeOptions>(
  context: EngineContext,
  run: SyncRun,
  name: TName,
): { readonly handle: SynchronizeOptions[TName]; readonly decidedBy: DecidedBy } {
  const own = run.options?.[name]
  if (own !== undefined) return { handle: own, decidedBy: 'call' }
  const managers = context.handlers[name]
  return { handle: managers, decidedBy: managers === undefined ? 'default' : 'manager' }
}

async function reportMerged(context: EngineContext, run: SyncRun, pull: PullResult): Promise<void> {
  const localNames = (await context.storage.read((tx) => tx.listDatasets(run.identityId))).map((m) => m.name)
  const merged = findMergedDatasets(run.name, pull.mergedDatasetNames, localNames)
  if (merged.length === 0) return
  const event = { dataset: run.name, merged }
  context.events.emit('datasetsMerged', event)
  const { handle } = handler(context, run, 'onDatasetsMerged')
  if (handle === undefined) context.events.emit('defaultDecided', { ...event, decision: 'datasetsMerged' })
  else await handle(event)
}

/** Keeps or drops the local copy of a dataset deleted on the server; `gone` when nothing is left. */
async function followRemoteDeletion(
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
async function decideConflicts(
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
async function applyPull(
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

type PushPlanRead = { readonly plan: PushPlan; readonly meta: DatasetMeta | undefined }

/** The dirty records as patches, and the dataset's metadata, in one read. */
function readPushPlan(context: EngineContext, run: SyncRun): Promise<PushPlanRead> {
  const { identityId, name } = run
  return context.storage.read(async (tx) => ({
    plan: planPush(await tx.listRecords(identityId, name, { dirtyOnly: true })),
    meta: await tx.getDataset(identityId, name),
  }))
}

/**
 * What a push came to. `caughtUp`: the server's count after it is the device's new `lastSyncCount`
 * (nobody else wrote in between). `conflict`: a patch was based on a stale count (409) and
 * `lastSyncCount` was lowered so that the next pull brings what changed. `refused`: the session
 * token was refused, which only a direct push (one without a pull just before) expects.
 */
type PushOutcome =
  | { readonly pushed: number; readonly lastSyncCount: number; readonly caughtUp: boolean }
  | 'conflict'
  | 'refused'

/**
 * Pushes the dirty records with `syncSessionToken`, based on the dataset count the device saw
 * (`seenDatasetSyncCount`), and stores the answer conditionally. The next session's token, when the
 * server hands one out, is kept for the next direct push.
 */
async function push(
  context: EngineContext,
  run: SyncRun,
  seenDatasetSyncCount: number,
  syncSessionToken: string,
  direct: boolean,
  prepared?: PushPlanRead,
): Promise<PushOutcome> {
  const { storage } = context
  const { transport, identityId, name } = run
  const { plan, meta } = prepared ?? (await readPushPlan(context, run))
  if (meta === undefined)
    throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" was removed during the sync`)
  const now = context.clock.now()
  if (plan.patches.length === 0) {
    if (direct) return { pushed: 0, lastSyncCount: meta.lastSyncCount, caughtUp: false }
    // The pull's session was not spent: the next write may use it without pulling again.
    run.state.keepSyncSession(syncSessionToken, now)
    throwIfCancelled(run.signal)
    await storage.write(async (tx) => {
      const current = await tx.getDataset(identityId, name)
      if (current !== undefined) await putMeta(tx, current, { lastSyncDate: now })
    })
    return { pushed: 0, lastSyncCount: meta.lastSyncCount, caughtUp: true }
  }
  const deviceId = await context.deviceIds.forWrite(identityId)
  const result = await transport.updateRecords(
    {
      datasetName: name,
      patches: plan.patches,
      syncSessionToken,
      ...(deviceId === undefined ? {} : { deviceId }),
    },
    run.signal,
  )
  throwIfCancelled(run.signal)
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
    // A kept token may have expired or been spent elsewhere; a pull's fresh one cannot be.
    if (direct && result.failure.kind === 'invalid') return 'refused'
    throw transportError(
      result.failure,
      transport.name,
      `pushing ${plan.patches.length} change(s) to dataset "${name}"`,
    )
  }
  const { records, syncSessionToken: next } = result.value
  if (next !== null) run.state.keepSyncSession(next, now)
  const stored = await storage.write(async (tx) => {
    const current = await tx.getDataset(identityId, name)
    if (current === undefined) return undefined
    const applied = applyPushResult({
      snapshot: plan.snapshot,
      current: await readRows(tx, identityId, name, new Set(records.map((record) => record.key))),
      returned: records,
      seenDatasetSyncCount,
      lastSyncCount: current.lastSyncCount,
    })
    await tx.putRecords(identityId, name, applied.records)
    await putMeta(tx, current, { lastSyncCount: applied.lastSyncCount, lastSyncDate: now })
    return applied.lastSyncCount
  })
  if (stored === undefined)
    throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" was removed during the sync`)
  const highest = Math.max(...records.map((record) => record.syncCount))
  return { pushed: plan.patches.length, lastSyncCount: stored, caughtUp: stored >= highest }
}

async function putMeta(tx: StorageWriteTx, meta: DatasetMeta, changes: Partial<DatasetMeta>): Promise<void> {
  await tx.putDataset({ ...meta, ...changes })
}
