import {
  cleanRecord,
  type DatasetUsage,
  planLocalWrite,
  type RecordPatch,
  validateKey,
  validateValue,
} from 'pushsync/core'
import { CognitoError, invalidParameter, limitExceeded } from '../errors.js'
import type { DatasetRow, RecordRow, StoreTx } from '../store/contract.js'
import { authorizeIdentity, checkDatasetName } from './access.js'
import type { OperationContext } from './context.js'
import { buildSyncTriggerEvent, readSyncTriggerOutput, runSyncTrigger } from './sync-trigger.js'
import { fromEpochSeconds, type WireRecord, wireRecord } from './wire.js'

export interface UpdateRecordsInput {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  /** The parsed JSON body. */
  readonly body: unknown
}

export interface UpdateRecordsOutput {
  Records: WireRecord[]
  /**
   * The next session's token, an extension of Cognito's answer (its clients read only `Records`):
   * a device that keeps it can send its next UpdateRecords without a ListRecords first, while it
   * knows of nothing newer on the server.
   */
  SyncSessionToken: string
}

/** The end of year 9999: later (or negative) device times are mistakes, not clocks. */
const MAX_EPOCH_SECONDS = 253_402_300_799

/** A patch as the wire sends it, checked: the core's `RecordPatch`, whose device time may be absent. */
export type Patch = Omit<RecordPatch, 'deviceLastModifiedDate'> & {
  readonly deviceLastModifiedDate: number | null
}

export interface UpdateRequest {
  readonly patches: readonly Patch[]
  readonly syncSessionToken: unknown
  readonly deviceId: string | null
}

/**
 * UpdateRecords, all or nothing: every patch's SyncCount must equal the record's current count (0
 * for a key the dataset never had), else 409 and nothing changes. An accepted call raises the
 * dataset's count by exactly one and stamps every record it wrote with it; removals leave tombstones
 * so that other devices learn of them; the dataset is created on first write; a successful call
 * spends its SyncSessionToken and answers with the next one.
 */
export async function updateRecords(
  context: OperationContext,
  input: UpdateRecordsInput,
): Promise<UpdateRecordsOutput> {
  const { identityPoolId, identityId } = input
  authorizeIdentity(context.principal, identityPoolId, identityId)
  const datasetName = checkDatasetName(input.datasetName, context)
  const request = parseUpdateRequest(input.body, context)
  const binding = { identityPoolId, identityId, datasetName }
  const session = context.sessions.verify(request.syncSessionToken, binding, context.now)
  const lastModifiedBy = context.principal.kind === 'identity' ? identityId : context.principal.accessKeyId
  const patches = await applySyncTrigger(context, binding, session.tokenId, request.patches)

  return context.store
    .transaction(
      async (tx) => {
        if (await tx.isSessionSpent(session.tokenId)) {
          throw invalidParameter('SyncSessionToken not valid for these inputs')
        }
        const existing = await tx.getDataset(identityId, datasetName)
        const next = () => context.sessions.issue(binding, context.now, context.randomId)
        const live = existing?.exists === true ? existing : undefined
        if (live === undefined) {
          const usage = await tx.identityUsage(identityId)
          if (usage.datasetCount + 1 > context.limits.maxDatasetsPerIdentity) {
            throw limitExceeded(
              `Identity ${identityId} would have more than ${context.limits.maxDatasetsPerIdentity} datasets`,
            )
          }
        }

        const current = await currentRows(tx, identityId, datasetName, patches)
        checkSyncCounts(patches, current)
        if (patches.length === 0) {
          await tx.spendSession(session.tokenId, session.expiresAt)
          return {
            output: { Records: [], SyncSessionToken: next() },
            change: undefined,
          }
        }

        const syncCount = (existing?.syncCount ?? 0) + 1
        const usage = usageAfter(live, datasetName, current, patches, context)
        const written: RecordRow[] = patches.map((patch) => ({
          key: patch.key,
          value: patch.value,
          syncCount,
          lastModifiedDate: context.now,
          lastModifiedBy,
          deviceLastModifiedDate: patch.deviceLastModifiedDate,
        }))

        const dataset: DatasetRow = {
          identityPoolId,
          identityId,
          name: datasetName,
          syncCount,
          exists: true,
          deletedAtSyncCount: existing?.deletedAtSyncCount ?? 0,
          creationDate: live?.creationDate ?? context.now,
          lastModifiedDate: context.now,
          lastModifiedBy,
          numRecords: usage.liveRecords,
          dataStorage: usage.bytes,
          mergedInto: live?.mergedInto ?? null,
        }
        await tx.putRecords(identityId, datasetName, written)
        await tx.putDataset(dataset)
        await tx.spendSession(session.tokenId, session.expiresAt)
        // A row of this identity's: writers of other identities of the pool never wait for it.
        await tx.countSyncSession(identityPoolId, identityId)
        const change = {
          identityPoolId,
          identityId,
          datasetName,
          syncCount,
          originDeviceId: request.deviceId,
          kind: 'updated' as const,
          written: { after: existing?.syncCount ?? 0, records: written },
        }
        await context.changes?.inTransaction?.(tx, change)
        return { output: { Records: written.map(wireRecord), SyncSessionToken: next() }, change }
      },
      { lock: identityId },
    )
    .then(({ output, change }) => {
      if (change !== undefined) context.changes?.afterCommit?.(change)
      context.spentSessions?.spent(context.now)
      return output
    })
}

async function currentRows(tx: StoreTx, identityId: string, dataset: string, patches: readonly Patch[]) {
  const rows = await tx.getRecords(
    identityId,
    dataset,
    patches.map((patch) => patch.key),
  )
  return new Map(rows.map((row) => [row.key, row]))
}

/** Every patch must be based on the record's current count, 0 for a key the dataset never had. */
function checkSyncCounts(patches: readonly Patch[], current: ReadonlyMap<string, RecordRow>): void {
  for (const patch of patches) {
    const count = current.get(patch.key)?.syncCount ?? 0
    if (count !== patch.syncCount) {
      throw new CognitoError(
        'ResourceConflictException',
        `Current SyncCount for: ${patch.key} is: ${count} not: ${patch.syncCount}`,
      )
    }
  }
}

/**
 * Runs the pool's sync trigger, as Cognito ran its Lambda, for identity credentials only. The
 * trigger runs outside any transaction (it may take seconds); the records it adds are based on the
 * counts it saw, so a write that slipped in meanwhile makes the commit a 409 rather than lose it.
 */
async function applySyncTrigger(
  context: OperationContext,
  binding: { identityPoolId: string; identityId: string; datasetName: string },
  tokenId: string,
  patches: readonly Patch[],
): Promise<readonly Patch[]> {
  if (context.principal.kind !== 'identity' || patches.length === 0 || context.syncTriggerFor === undefined) {
    return patches
  }
  const { identityPoolId, identityId, datasetName } = binding
  const prepared = await context.store.transaction(async (tx) => {
    const pool = await tx.getPool(identityPoolId)
    const events =
      pool?.events === null || pool?.events === undefined
        ? {}
        : (JSON.parse(pool.events) as Record<string, string>)
    const hook = context.syncTriggerFor?.(events.SyncTrigger)
    if (hook === undefined) return undefined
    if (await tx.isSessionSpent(tokenId))
      throw invalidParameter('SyncSessionToken not valid for these inputs')
    checkSyncCounts(patches, await currentRows(tx, identityId, datasetName, patches))
    return { hook, rows: await tx.listRecords(identityId, datasetName, { afterSyncCount: 0 }) }
  })
  if (prepared === undefined) return patches

  const region = identityPoolId.slice(0, identityPoolId.indexOf(':'))
  const event = buildSyncTriggerEvent(
    { region, identityPoolId, identityId, datasetName },
    prepared.rows,
    patches,
  )
  const changes = readSyncTriggerOutput(event, await runSyncTrigger(prepared.hook, event), context)
  const rows = new Map(prepared.rows.map((row) => [row.key, row]))
  const result = patches.map((patch): Patch => {
    if (!changes.has(patch.key)) return patch
    const value = changes.get(patch.key) ?? null
    return { ...patch, op: value === null ? 'remove' : 'replace', value }
  })
  const asked = new Set(patches.map((patch) => patch.key))
  for (const [key, value] of changes) {
    if (asked.has(key)) continue
    const row = rows.get(key)
    if (value === null && (row === undefined || row.value === null)) continue
    result.push({
      op: value === null ? 'remove' : 'replace',
      key,
      value,
      syncCount: row?.syncCount ?? 0,
      deviceLastModifiedDate: null,
    })
  }
  return result
}

/**
 * The dataset's live records and bytes once the patches are applied, by the core's quota rule (the
 * one devices apply before they send): a patch that would take the dataset over a limit is refused,
 * unless the dataset only shrinks (it may be over a lowered limit). The core skips patches that
 * change nothing; they change no usage either.
 */
function usageAfter(
  live: DatasetRow | undefined,
  name: string,
  current: ReadonlyMap<string, RecordRow>,
  patches: readonly Patch[],
  context: OperationContext,
): DatasetUsage {
  const plan = planLocalWrite(
    {
      identityId: live?.identityId ?? '',
      name,
      lastSyncCount: 0,
      creationDate: 0,
      lastModifiedDate: 0,
      lastModifiedBy: null,
      lastSyncDate: 0,
    },
    {
      rows: [...current.values()].map(cleanRecord),
      usage: { liveRecords: live?.numRecords ?? 0, bytes: live?.dataStorage ?? 0 },
    },
    patches.map((patch) => ({ key: patch.key, value: patch.value })),
    { now: context.now, limits: context.limits },
  )
  if (plan.ok) return plan.value.usage
  throw plan.failure.code === 'LIMIT_EXCEEDED'
    ? limitExceeded(plan.failure.message)
    : invalidParameter(plan.failure.message)
}

/**
 * Checks the body before anything is read from the store. Key and value lengths are quotas in
 * Cognito (LimitExceededException); a malformed patch is an InvalidParameterException.
 */
export function parseUpdateRequest(body: unknown, context: OperationContext): UpdateRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidParameter('The request body must be a JSON object')
  }
  const fields = body as Record<string, unknown>
  const { RecordPatches, SyncSessionToken, DeviceId } = fields
  if (SyncSessionToken === undefined || SyncSessionToken === null || SyncSessionToken === '') {
    throw invalidParameter('SyncSessionToken is required')
  }
  if (
    DeviceId !== undefined &&
    DeviceId !== null &&
    (typeof DeviceId !== 'string' || DeviceId.length > 256)
  ) {
    throw invalidParameter('DeviceId must be a string of at most 256 characters')
  }
  if (RecordPatches !== undefined && RecordPatches !== null && !Array.isArray(RecordPatches)) {
    throw invalidParameter('RecordPatches must be a list')
  }
  const patches = ((RecordPatches as unknown[] | undefined | null) ?? []).map((patch, index) =>
    parsePatch(patch, index, context),
  )
  const seen = new Set<string>()
  for (const patch of patches) {
    if (seen.has(patch.key)) throw invalidParameter(`Duplicate key in RecordPatches: ${patch.key}`)
    seen.add(patch.key)
  }
  return {
    patches,
    syncSessionToken: SyncSessionToken,
    deviceId: typeof DeviceId === 'string' && DeviceId !== '' ? DeviceId : null,
  }
}

function parsePatch(patch: unknown, index: number, context: OperationContext): Patch {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw invalidParameter(`RecordPatches[${index}] must be an object`)
  }
  const { Op, Key, Value, SyncCount, DeviceLastModifiedDate } = patch as Record<string, unknown>
  if (Op !== 'replace' && Op !== 'remove') {
    throw invalidParameter(`RecordPatches[${index}].Op must be "replace" or "remove"`)
  }
  if (typeof Key !== 'string' || Key.length === 0) {
    throw invalidParameter(`RecordPatches[${index}].Key must be a non-empty string`)
  }
  const key = validateKey(Key, context.limits)
  if (!key.ok) {
    if (key.failure.rule === 'maxKeyBytes') throw limitExceeded(key.failure.message)
    throw invalidParameter(key.failure.message)
  }
  if (typeof SyncCount !== 'number' || !Number.isSafeInteger(SyncCount) || SyncCount < 0) {
    throw invalidParameter(`RecordPatches[${index}].SyncCount must be a non-negative integer`)
  }
  let value: string | null = null
  if (Op === 'replace') {
    const valid = validateValue(Value, context.limits)
    if (!valid.ok) {
      if (valid.failure.rule === 'maxValueLength') throw limitExceeded(valid.failure.message)
      throw invalidParameter(`RecordPatches[${index}].Value: ${valid.failure.message}`)
    }
    value = valid.value
  }
  let deviceLastModifiedDate: number | null = null
  if (DeviceLastModifiedDate !== undefined && DeviceLastModifiedDate !== null) {
    if (
      typeof DeviceLastModifiedDate !== 'number' ||
      !Number.isFinite(DeviceLastModifiedDate) ||
      DeviceLastModifiedDate < 0 ||
      DeviceLastModifiedDate > MAX_EPOCH_SECONDS
    ) {
      throw invalidParameter(
        `RecordPatches[${index}].DeviceLastModifiedDate must be a number of epoch seconds`,
      )
    }
    deviceLastModifiedDate = fromEpochSeconds(DeviceLastModifiedDate)
  }
  return { op: Op, key: Key, value, syncCount: SyncCount, deviceLastModifiedDate }
}
