import type { DatasetMeta } from '../core/model.js'
import { DELETE_PENDING } from '../core/model.js'
import { applyPushResult, lastSyncCountAfterPushConflict, type PushPlan, planPush } from '../core/push.js'
import { SyncError } from '../errors.js'
import type { EngineContext } from './context.js'
import { throwIfCancelled, transportError } from './failures.js'
import { readRows } from './local-rows.js'
import { putMeta, type SyncRun } from './sync-run.js'

/** The push side of a sync: sending the dirty records and storing the server's answer. */

/** Kept session tokens older than this are not used: the server's last 15 minutes. */
const SESSION_MAX_AGE_MS = 10 * 60_000

/**
 * The one-round-trip sync of a device that is current: its live channel is up and has told it of
 * no count above its `lastSyncCount`, so the pull would bring nothing, and it holds a session token
 * from its last answer. It sends UpdateRecords straight away; the server's count check still
 * decides conflicts. Undefined when it does not apply; the outcome otherwise, and anything but
 * `caughtUp` (a 409, a refused token, another writer in between) means the full sync follows, once.
 */
export async function pushDirectly(context: EngineContext, run: SyncRun): Promise<PushOutcome | undefined> {
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
 * `deleted`: the app deleted the dataset while the push was under way; the answer was not stored,
 * and the pending delete goes out next (after what was pushed, as the app did them).
 */
export type PushOutcome =
  | { readonly pushed: number; readonly lastSyncCount: number; readonly caughtUp: boolean }
  | 'conflict'
  | 'refused'
  | 'deleted'

/**
 * Pushes the dirty records with `syncSessionToken`, based on the dataset count the device saw
 * (`seenDatasetSyncCount`), and stores the answer conditionally. The next session's token, when the
 * server hands one out, is kept for the next direct push.
 */
export async function push(
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
    // Storing the answer would write the server's count over the delete's mark, and lose the delete.
    if (current.lastSyncCount === DELETE_PENDING) return 'deleted' as const
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
  if (stored === 'deleted') return stored
  const highest = Math.max(...records.map((record) => record.syncCount))
  return { pushed: plan.patches.length, lastSyncCount: stored, caughtUp: stored >= highest }
}
