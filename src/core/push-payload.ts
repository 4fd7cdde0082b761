import { DEFAULT_LIMITS, type Limits } from './limits.js'
import type { RemoteRecord } from './model.js'
import { fail, ok, type Result } from './result.js'
import {
  describeValue,
  type ValidationFailure,
  validateDatasetName,
  validateIdentityId,
  validateIdentityPoolId,
} from './validate.js'
import { readEpochSeconds, readUpdateRecordsAnswer } from './wire.js'

/**
 * A push telling a device that a dataset changed on the server, whatever platform delivered it.
 * `syncCount` is the dataset's sync count on the server after the change.
 */
export interface PushSyncUpdate {
  readonly source: 'cognito-sync'
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  readonly syncCount: number
  /**
   * The change itself, when the channel carried it (pushsync-server's SSE stream does for small
   * changes): a device at `after` can apply it without asking the server (see `pushedChangesToApply`).
   */
  readonly changes?: PushedChanges
  /**
   * The change was the dataset's deletion (pushsync-server's SSE stream says so; Cognito's payloads
   * do not). A device without a copy of the dataset then has nothing to do.
   */
  readonly deleted?: true
}

/**
 * What one UpdateRecords wrote: the records the server stored, all at sync count `after + 1`, which
 * is the update's `syncCount`. A device whose `lastSyncCount` is `after` would pull exactly these.
 */
export interface PushedChanges {
  readonly after: number
  readonly records: readonly RemoteRecord[]
}

/**
 * Why a payload is not a {@link PushSyncUpdate}:
 * - `not-cognito-sync`: it does not carry `source: "cognito-sync"`, so it most likely belongs to
 *   another feature of the app and should be handed on rather than reported as broken;
 * - `malformed`: it claims to be a push-sync update (or cannot be read at all) but breaks a rule.
 */
export type PushPayloadReason = 'malformed' | 'not-cognito-sync'

/** A payload {@link parsePushPayload} refused. */
export interface PushPayloadFailure {
  readonly code: 'PUSH_PAYLOAD_INVALID'
  readonly reason: PushPayloadReason
  /** Names the offending field and its value. */
  readonly message: string
  /** The payload key at fault; absent when the payload as a whole is unusable. */
  readonly field?: string
}

/** The payload shapes {@link encodePushPayload} writes. */
export type PushPayloadPlatform = 'flat-strings' | 'apns' | 'json'

const SOURCE = 'cognito-sync'

/**
 * Canonical decimal only: no sign, exponent, whitespace or leading zeros. Leading zeros are
 * refused although Android's `Long.parseLong` would take them: every producer (Cognito, our
 * server, `encodePushPayload`) writes the canonical form, so a padded count means a producer we
 * do not know, and one spelling per count keeps payloads comparable as text.
 */
const SYNC_COUNT_TEXT = /^(0|[1-9][0-9]*)$/

type PushField = Exclude<keyof PushSyncUpdate, 'source'>

function failure(
  reason: PushPayloadReason,
  message: string,
  field?: string,
): Result<never, PushPayloadFailure> {
  const value: PushPayloadFailure =
    field === undefined
      ? { code: 'PUSH_PAYLOAD_INVALID', reason, message }
      : { code: 'PUSH_PAYLOAD_INVALID', reason, message, field }
  return fail(value)
}

function isRecord(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Describes any value without running its code: `String()` on an object calls `toString`, which
 * may throw or be missing (null-prototype objects).
 */
function show(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'object':
      return 'an object'
    case 'function':
      return 'a function'
    case 'symbol':
      return 'a symbol'
    case 'bigint':
      return `${value}n`
    default:
      return describeValue(value)
  }
}

/**
 * Reads an own data property. Inherited properties (`Object.prototype` pollution, a JSON
 * `__proto__` key) must never pass for payload keys, and a getter is code we do not run, so an
 * accessor counts as absent.
 */
function own(container: object, key: string): { readonly found: boolean; readonly value: unknown } {
  if (!Object.hasOwn(container, key)) return { found: false, value: undefined }
  const descriptor = Object.getOwnPropertyDescriptor(container, key)
  if (descriptor === undefined || !('value' in descriptor)) return { found: false, value: undefined }
  return { found: true, value: descriptor.value }
}

/**
 * APNs `userInfo` and FCM's RemoteMessage nest the keys under `data`; FCM/GCM/ADM data, Android
 * intent extras, Web Push and SSE bodies carry them at the top. `source` decides: when the top
 * level has none, the keys are looked for under an object-valued `data`.
 */
function keyContainer(payload: object): object {
  if (own(payload, 'source').found) return payload
  const data = own(payload, 'data')
  return data.found && isRecord(data.value) ? data.value : payload
}

function parseSyncCount(value: unknown): Result<number, PushPayloadFailure> {
  const invalid = (why: string) =>
    failure('malformed', `push payload syncCount ${show(value)} is invalid: ${why}`, 'syncCount')
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return invalid('it must be a non-negative safe integer')
    // -0 from JSON text is still zero; normalising keeps the update equal to one encoded from 0.
    return ok(value === 0 ? 0 : value)
  }
  if (typeof value === 'string') {
    if (!SYNC_COUNT_TEXT.test(value)) {
      return invalid('it must be decimal digits without sign or leading zeros')
    }
    const count = Number(value)
    if (!Number.isSafeInteger(count)) return invalid('it exceeds the largest safe integer')
    return ok(count)
  }
  return invalid(`it must be a number or a decimal string, got ${value === null ? 'null' : typeof value}`)
}

function fieldFailure(field: PushField, value: unknown, validation: ValidationFailure) {
  return failure('malformed', `push payload ${field} ${show(value)} is invalid: ${validation.message}`, field)
}

function parseObject(payload: object, limits: Limits): Result<PushSyncUpdate, PushPayloadFailure> {
  const container = keyContainer(payload)
  const source = own(container, 'source')
  if (!source.found) return failure('not-cognito-sync', 'push payload has no source field', 'source')
  if (source.value !== SOURCE) {
    return failure(
      'not-cognito-sync',
      `push payload source ${show(source.value)} is not ${JSON.stringify(SOURCE)}`,
      'source',
    )
  }

  const read = (field: PushField) => {
    const entry = own(container, field)
    return entry.found
      ? ok(entry.value)
      : failure('malformed', `push payload is missing the ${field} field`, field)
  }

  const poolValue = read('identityPoolId')
  if (!poolValue.ok) return poolValue
  const pool = validateIdentityPoolId(poolValue.value)
  if (!pool.ok) return fieldFailure('identityPoolId', poolValue.value, pool.failure)

  const identityValue = read('identityId')
  if (!identityValue.ok) return identityValue
  const identity = validateIdentityId(identityValue.value)
  if (!identity.ok) return fieldFailure('identityId', identityValue.value, identity.failure)

  const nameValue = read('datasetName')
  if (!nameValue.ok) return nameValue
  const name = validateDatasetName(nameValue.value, limits)
  if (!name.ok) return fieldFailure('datasetName', nameValue.value, name.failure)

  const countValue = read('syncCount')
  if (!countValue.ok) return countValue
  const count = parseSyncCount(countValue.value)
  if (!count.ok) return count

  // An optimisation riding along: when it does not hold together the push is still a push, and the
  // device syncs as it would without it.
  const changesValue = own(container, 'changes')
  const deleted = own(container, 'deleted').value === true
  const changes =
    changesValue.found && !deleted ? parsePushedChanges(changesValue.value, count.value) : undefined

  return ok(
    Object.freeze({
      source: SOURCE,
      identityPoolId: pool.value,
      identityId: identity.value,
      datasetName: name.value,
      syncCount: count.value,
      ...(changes === undefined ? {} : { changes }),
      ...(deleted ? { deleted: true as const } : {}),
    }),
  )
}

/**
 * The `changes` of a payload, in the wire's record shape (as UpdateRecords answers), or undefined
 * when anything is off: a record not at `syncCount`, a key twice, `after` not just below it.
 */
function parsePushedChanges(value: unknown, syncCount: number): PushedChanges | undefined {
  if (!isRecord(value)) return undefined
  const after = own(value, 'after').value
  const list = own(value, 'records').value
  if (typeof after !== 'number' || !Number.isSafeInteger(after) || after + 1 !== syncCount) return undefined
  if (!Array.isArray(list) || list.length === 0) return undefined
  // The records are UpdateRecords' own (timestamps in epoch seconds): read them as its answer is.
  const read = readUpdateRecordsAnswer({ Records: list }, readEpochSeconds)
  if (!read.ok) return undefined
  const records = read.value
  if (records.some((record) => record.syncCount !== syncCount)) return undefined
  if (new Set(records.map((record) => record.key)).size !== records.length) return undefined
  return Object.freeze({ after, records: Object.freeze(records) })
}

function parseAny(payload: unknown, limits: Limits): Result<PushSyncUpdate, PushPayloadFailure> {
  let value = payload
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      return failure('malformed', `push payload ${show(payload)} is a string but not JSON text`)
    }
  }
  if (!isRecord(value)) {
    const what = value === payload ? '' : ' JSON text holding'
    return failure('malformed', `push payload is${what} ${show(value)}, not an object`)
  }
  return parseObject(value, limits)
}

/**
 * Turns a push payload of any platform into a {@link PushSyncUpdate}:
 * - FCM/GCM/ADM data and Android intent extras: the five keys at the top, every value a string;
 * - APNs `userInfo` and FCM RemoteMessage-like objects: the five keys under `data`;
 * - Web Push and SSE JSON bodies: `syncCount` as a number or a decimal string;
 * - a string holding the JSON text of any of these (SSE `event.data`, a Web Push text body).
 *
 * Keys other than the five are ignored (FCM adds `from`, `collapse_key`, `google.*`...), but for
 * pushsync-server's own `changes` and `deleted`, and only own data properties are read. It never
 * throws, whatever it is given.
 *
 * @param limits - bounds the dataset name; Cognito's defaults when omitted.
 * @returns a fresh frozen update holding the five keys (and `changes` or `deleted` when the payload
 *   carried them well-formed), or why the payload was refused.
 */
export function parsePushPayload(
  payload: unknown,
  limits?: Limits,
): Result<PushSyncUpdate, PushPayloadFailure> {
  try {
    return parseAny(payload, limits ?? DEFAULT_LIMITS)
  } catch {
    // Only exotic objects get here: a Proxy whose traps throw, a revoked Proxy.
    return failure('malformed', 'push payload could not be read')
  }
}

/**
 * Writes an update in a platform's shape; {@link parsePushPayload} reads every shape back to an
 * equal update.
 * - `flat-strings`: FCM/GCM/ADM data, whose values must all be strings (Android reads `syncCount`
 *   with `Long.parseLong`);
 * - `apns`: a silent (`content-available`) notification with the keys under `data`, as iOS reads
 *   `userInfo["data"]`;
 * - `json`: the five keys with a numeric `syncCount`, for Web Push and SSE bodies, and the update's
 *   `changes` when it has some (records in the wire's shape, timestamps in epoch seconds) or
 *   `deleted: true`.
 */
export function encodePushPayload(
  update: PushSyncUpdate,
  platform: PushPayloadPlatform,
): Record<string, unknown> {
  const fields = {
    source: SOURCE,
    identityPoolId: update.identityPoolId,
    identityId: update.identityId,
    datasetName: update.datasetName,
  }
  switch (platform) {
    case 'flat-strings':
      return { ...fields, syncCount: String(update.syncCount) }
    case 'apns':
      return { aps: { 'content-available': 1 }, data: { ...fields, syncCount: update.syncCount } }
    case 'json':
      if (update.deleted === true) return { ...fields, syncCount: update.syncCount, deleted: true }
      return update.changes === undefined
        ? { ...fields, syncCount: update.syncCount }
        : { ...fields, syncCount: update.syncCount, changes: encodePushedChanges(update.changes) }
  }
}

function encodePushedChanges(changes: PushedChanges): Record<string, unknown> {
  return {
    after: changes.after,
    records: changes.records.map((record) => ({
      Key: record.key,
      ...(record.value === null ? {} : { Value: record.value }),
      SyncCount: record.syncCount,
      LastModifiedDate: record.lastModifiedDate / 1000,
      ...(record.lastModifiedBy === null ? {} : { LastModifiedBy: record.lastModifiedBy }),
      ...(record.deviceLastModifiedDate === null
        ? {}
        : { DeviceLastModifiedDate: record.deviceLastModifiedDate / 1000 }),
    })),
  }
}
