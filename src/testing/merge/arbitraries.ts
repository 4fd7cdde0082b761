import fc from 'fast-check'
import { type Limits, resolveLimits } from '../../core/limits.js'
import type { RemoteRecord, SyncRecord } from '../../core/model.js'
import type { Conflict } from '../../core/pull.js'
import type { PushPayloadReason, PushSyncUpdate } from '../../core/push-payload.js'
import { datasetUsage } from '../../core/records.js'
import { utf8ByteLength, type ValidationRule } from '../../core/validate.js'
import { encodeForChannel, PUSH_CHANNELS, type PushChannel } from './notifications.js'

/**
 * fast-check arbitraries of what apps reason about: record keys and values within Cognito's
 * limits (counted as Cognito counts them, in UTF-8 bytes and UTF-16 units), records, datasets,
 * conflicts, and push payloads of every platform, well-formed and malformed. The characters that
 * break naive code come often: `__proto__` and other `Object.prototype` names, characters that look
 * empty, astral characters (two UTF-16 units, four UTF-8 bytes) and keys of exactly the byte limit.
 */

/** Names that break code keeping records in a plain object. */
export const PROTOTYPE_KEYS: readonly string[] = Object.freeze([
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
])

/**
 * Characters a screen shows as nothing or as a plain space: zero-width space, non-joiner and
 * joiner, word joiner, byte-order mark, no-break space, ideographic space, direction marks, soft
 * hyphen, a combining accent with nothing under it, a tab.
 */
export const EMPTY_LOOKING: readonly string[] = Object.freeze([
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u00a0',
  '\u3000',
  '\u200e',
  '\u200f',
  '\u00ad',
  '\u0301',
  '\t',
  ' ',
])

/** Characters outside the Basic Multilingual Plane, and sequences of them. */
export const ASTRAL: readonly string[] = Object.freeze(['😀', '𝔘', '𠀀', '\u{10ffff}', '👩‍💻', '🇫🇷'])

/** Two- and three-byte characters of UTF-8. */
const MULTIBYTE = ['é', 'ß', 'Ж', '中', '€']
const PLAIN = 'abcxyz019_-.'.split('')

export interface LimitsOption {
  /** The limits the generated data must respect; Cognito's unless changed. */
  readonly limits?: Partial<Limits>
}

/** Joins characters drawn from `characters`. */
function text(characters: fc.Arbitrary<string>, minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.array(characters, { minLength, maxLength }).map((parts) => parts.join(''))
}

/** Drops whole code points from the end until the text fits in `maxBytes` of UTF-8. */
function fitBytes(value: string, maxBytes: number): string {
  const points = [...value]
  while (points.length > 0 && utf8ByteLength(points.join('')) > maxBytes) points.pop()
  return points.join('')
}

/** A key of exactly `bytes` bytes of UTF-8, made of `unit` and single-byte filler. */
function keyOfBytes(unit: string, bytes: number): string {
  const size = utf8ByteLength(unit)
  const key = unit.repeat(Math.floor(bytes / size))
  return key + 'k'.repeat(bytes - utf8ByteLength(key))
}

/**
 * Valid record keys: 1 up to `maxKeyBytes` bytes of UTF-8 (128 by default), any characters. Often
 * one of {@link PROTOTYPE_KEYS}, empty-looking, astral, or exactly at the byte limit.
 */
export function recordKeys(options: LimitsOption = {}): fc.Arbitrary<string> {
  const { maxKeyBytes } = resolveLimits(options.limits)
  const any = fc.constantFrom(...PLAIN, ...MULTIBYTE, ...ASTRAL, ...EMPTY_LOOKING)
  const atLimit = fc.constantFrom('k', 'é', '中', '😀').map((unit) => keyOfBytes(unit, maxKeyBytes))
  return fc
    .oneof(
      { weight: 3, arbitrary: text(fc.constantFrom(...PLAIN), 1, 8) },
      { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
      { weight: 2, arbitrary: text(fc.constantFrom(...EMPTY_LOOKING), 1, 3) },
      { weight: 2, arbitrary: text(any, 1, 12) },
      { weight: 1, arbitrary: atLimit },
    )
    .map((key) => fitBytes(key, maxKeyBytes))
    .map((key) => (key === '' ? 'k' : key))
}

export interface RecordValueOptions extends LimitsOption {
  /** Longest value in UTF-16 units, short by default (64) so that runs stay fast. */
  readonly maxLength?: number
}

/**
 * Valid record values: strings (the empty string is a value, not a removal) of any characters,
 * at most `maxLength` UTF-16 units and never over `maxValueLength`.
 */
export function recordValues(options: RecordValueOptions = {}): fc.Arbitrary<string> {
  const { maxValueLength } = resolveLimits(options.limits)
  const maxLength = Math.min(options.maxLength ?? 64, maxValueLength)
  const any = fc.constantFrom(...PLAIN, ...MULTIBYTE, ...ASTRAL, ...EMPTY_LOOKING, '"', '\\', '\n', '{', '}')
  return fc
    .oneof(
      { weight: 1, arbitrary: fc.constant('') },
      { weight: 3, arbitrary: text(fc.constantFrom(...PLAIN), 1, 8) },
      { weight: 3, arbitrary: text(any, 1, 16) },
      { weight: 1, arbitrary: fc.constantFrom('{"a":1}', '[]', 'null', 'undefined', '0', 'false') },
    )
    .map((value) => fitLength(value, maxLength))
}

/** Cuts a value to `maxLength` UTF-16 units without splitting a surrogate pair. */
function fitLength(value: string, maxLength: number): string {
  if (value.length <= maxLength) return value
  let cut = value.slice(0, maxLength)
  const last = cut.charCodeAt(cut.length - 1)
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1)
  return cut
}

/**
 * Values of exactly `maxValueLength` UTF-16 units (1,048,575 by default): the largest a device
 * accepts, one ending in an astral character. Large: draw them sparingly.
 */
export function valuesAtLimit(options: LimitsOption = {}): fc.Arbitrary<string> {
  const { maxValueLength } = resolveLimits(options.limits)
  return fc.constantFrom('x', '😀').map((last) => 'x'.repeat(maxValueLength - last.length) + last)
}

/** A key the core refuses, and the rule it breaks. */
export interface InvalidInput {
  readonly input: unknown
  readonly rule: ValidationRule
}

/** Keys `validateKey` refuses: empty, one byte too long, a lone surrogate, not a string. */
export function invalidRecordKeys(options: LimitsOption = {}): fc.Arbitrary<InvalidInput> {
  const { maxKeyBytes } = resolveLimits(options.limits)
  return fc.oneof(
    fc.constant<InvalidInput>({ input: '', rule: 'notEmpty' }),
    fc
      .constantFrom('k', 'é', '中', '😀')
      .map((unit): InvalidInput => ({ input: `${keyOfBytes(unit, maxKeyBytes)}k`, rule: 'maxKeyBytes' })),
    fc
      .constantFrom('\ud800', 'a\udc00', '\ude00\ud83d', `${'k'.repeat(10)}\udbff`)
      .map((input): InvalidInput => ({ input, rule: 'wellFormedUnicode' })),
    fc
      .constantFrom(0, 42, null, undefined, true, {}, [])
      .map((input): InvalidInput => ({ input, rule: 'type' })),
  )
}

/** Values `validateValue` refuses: one unit too long, a lone surrogate, not a string. */
export function invalidRecordValues(options: LimitsOption = {}): fc.Arbitrary<InvalidInput> {
  const { maxValueLength } = resolveLimits(options.limits)
  return fc.oneof(
    fc.constant<InvalidInput>({ input: 'x'.repeat(maxValueLength + 1), rule: 'maxValueLength' }),
    fc
      .constantFrom('\ud800', 'value\udc00', '\ude00\ud83d')
      .map((input): InvalidInput => ({ input, rule: 'wellFormedUnicode' })),
    fc.constantFrom(0, 42, undefined, true, {}, []).map((input): InvalidInput => ({ input, rule: 'type' })),
  )
}

export interface RecordOptions extends LimitsOption {
  /** Default {@link recordKeys}. */
  readonly keys?: fc.Arbitrary<string>
  /** Default {@link recordValues}; removals (`null`) come besides. */
  readonly values?: fc.Arbitrary<string>
}

/** Server times: whole seconds (the wire carries epoch seconds), close together so that ties happen. */
const serverTime = fc.integer({ min: 1_600_000_000, max: 1_600_000_020 }).map((seconds) => seconds * 1000)
/** Device clocks: whole seconds too, near the server's, sometimes behind it. */
const deviceTime = fc.integer({ min: 1_599_999_990, max: 1_600_000_020 }).map((seconds) => seconds * 1000)
const writer = fc.constantFrom('us-east-1:00000000-0000-4000-8000-000000000001', 'd0', 'd1')

function valuesOrRemoval(options: RecordOptions): fc.Arbitrary<string | null> {
  return fc.option(options.values ?? recordValues(options), { nil: null, freq: 4 })
}

/** Records as the server returns them: a sync count of 1 or more, both dates, tombstones too. */
export function remoteRecords(options: RecordOptions = {}): fc.Arbitrary<RemoteRecord> {
  return fc.record({
    key: options.keys ?? recordKeys(options),
    value: valuesOrRemoval(options),
    syncCount: fc.integer({ min: 1, max: 20 }),
    lastModifiedDate: serverTime,
    lastModifiedBy: fc.option(writer, { nil: null }),
    deviceLastModifiedDate: fc.option(deviceTime, { nil: null }),
  })
}

/**
 * Records as a device keeps them: clean rows are the server's (sync count 1 or more), dirty rows
 * hold a local change based on a server count, 0 for a record the server never had.
 */
export function syncRecords(options: RecordOptions = {}): fc.Arbitrary<SyncRecord> {
  const clean = remoteRecords(options).map(
    (remote): SyncRecord => ({
      ...remote,
      deviceLastModifiedDate: remote.deviceLastModifiedDate ?? remote.lastModifiedDate,
      dirty: false,
    }),
  )
  const dirty = fc
    .record({
      key: options.keys ?? recordKeys(options),
      value: valuesOrRemoval(options),
      syncCount: fc.integer({ min: 0, max: 20 }),
      lastModifiedDate: serverTime,
      lastModifiedBy: fc.option(writer, { nil: null }),
      deviceLastModifiedDate: deviceTime,
    })
    .map(
      (row): SyncRecord =>
        row.syncCount === 0
          ? { ...row, lastModifiedDate: 0, lastModifiedBy: null, dirty: true }
          : { ...row, dirty: true },
    )
  return fc.oneof(clean, dirty)
}

export interface DatasetOptions extends RecordOptions {
  /** Most records in one dataset; default 8. */
  readonly maxRecords?: number
}

/** The rows of one dataset: unique keys, within the record and byte quotas. */
export function datasets(options: DatasetOptions = {}): fc.Arbitrary<SyncRecord[]> {
  const limits = resolveLimits(options.limits)
  return fc
    .uniqueArray(syncRecords(options), {
      maxLength: options.maxRecords ?? 8,
      selector: (record) => record.key,
    })
    .filter((rows) => {
      const usage = datasetUsage(rows)
      return usage.liveRecords <= limits.maxRecordsPerDataset && usage.bytes <= limits.maxDatasetBytes
    })
}

/**
 * Conflicts as `planPull` raises them: a dirty local row and a newer, different remote record of
 * the same key; removals on either side, device and server dates that tie now and then.
 */
export function conflicts(options: RecordOptions = {}): fc.Arbitrary<Conflict> {
  const value = valuesOrRemoval(options)
  return fc
    .record({
      key: options.keys ?? recordKeys(options),
      localValue: value,
      remoteValue: value,
      base: fc.integer({ min: 0, max: 10 }),
      ahead: fc.integer({ min: 1, max: 10 }),
      localDate: deviceTime,
      remoteDate: serverTime,
      remoteDeviceDate: fc.option(deviceTime, { nil: null }),
      remoteWriter: fc.option(writer, { nil: null }),
    })
    .filter(({ localValue, remoteValue }) => localValue !== remoteValue)
    .map(
      (c): Conflict => ({
        key: c.key,
        local: {
          key: c.key,
          value: c.localValue,
          syncCount: c.base,
          lastModifiedDate: c.base === 0 ? 0 : c.remoteDate - 60_000,
          lastModifiedBy: null,
          deviceLastModifiedDate: c.localDate,
          dirty: true,
        },
        remote: {
          key: c.key,
          value: c.remoteValue,
          syncCount: c.base + c.ahead,
          lastModifiedDate: c.remoteDate,
          lastModifiedBy: c.remoteWriter,
          deviceLastModifiedDate: c.remoteDeviceDate,
        },
      }),
    )
}

const DATASET_NAME_CHARACTERS = 'abcXYZ019_.:-'.split('')

const datasetNames: fc.Arbitrary<string> = fc.oneof(
  text(fc.constantFrom(...DATASET_NAME_CHARACTERS), 1, 16),
  fc.constant('d'.repeat(128)),
)

/** Cognito ids, `REGION:GUID`, lower- or upper-case as the service's examples show. */
const cognitoIds: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('us-east-1', 'eu-west-1', 'ap-southeast-2'), fc.uuid(), fc.boolean())
  .map(([region, guid, upper]) => `${region}:${upper ? guid.toUpperCase() : guid}`)

/**
 * Valid push-sync updates: any pool, identity and dataset name, sync counts up to the largest safe
 * integer, sometimes the change itself (records at the update's count) or a deletion.
 */
export function pushSyncUpdates(options: RecordOptions = {}): fc.Arbitrary<PushSyncUpdate> {
  const syncCount = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(Number.MAX_SAFE_INTEGER))
  const base = fc.record({
    source: fc.constant('cognito-sync' as const),
    identityPoolId: cognitoIds,
    identityId: cognitoIds,
    datasetName: datasetNames,
    syncCount,
  })
  const changed = fc
    .tuple(
      base,
      fc.uniqueArray(remoteRecords(options), {
        minLength: 1,
        maxLength: 3,
        selector: (record) => record.key,
      }),
    )
    .filter(([update]) => update.syncCount >= 1)
    .map(
      ([update, records]): PushSyncUpdate => ({
        ...update,
        changes: {
          after: update.syncCount - 1,
          records: records.map((record) => ({ ...record, syncCount: update.syncCount })),
        },
      }),
    )
  const deleted = base.map((update): PushSyncUpdate => ({ ...update, deleted: true }))
  return fc.oneof(
    { weight: 3, arbitrary: base },
    { weight: 2, arbitrary: changed },
    { weight: 1, arbitrary: deleted },
  )
}

/** A payload as a platform delivers it, and the update `parsePushPayload` must read from it. */
export interface PushPayloadCase {
  readonly channel: PushChannel
  readonly payload: unknown
  /** What the payload says: the platforms that carry only the five keys drop `changes` and `deleted`. */
  readonly update: PushSyncUpdate
}

/**
 * Payloads of every platform (`flat-strings` for FCM/GCM/ADM data, `apns`, `json` for Web Push,
 * `sse` as event-stream text), each with the update it carries.
 */
export function pushPayloads(options: RecordOptions = {}): fc.Arbitrary<PushPayloadCase> {
  return fc.tuple(pushSyncUpdates(options), fc.constantFrom(...PUSH_CHANNELS)).map(([update, channel]) => {
    const carriesAll = channel === 'json' || channel === 'sse'
    const { changes, deleted, ...fields } = update
    const expected: PushSyncUpdate = carriesAll ? update : fields
    return { channel, payload: encodeForChannel(update, channel), update: expected }
  })
}

/** A payload `parsePushPayload` must refuse, the reason it must give, and what is wrong with it. */
export interface MalformedPushPayload {
  readonly payload: unknown
  readonly reason: PushPayloadReason
  readonly fault: string
}

type Breaker = (fields: Record<string, unknown>) => MalformedPushPayload

const malformed =
  (fault: string, change: (fields: Record<string, unknown>) => unknown): Breaker =>
  (fields) => ({ payload: change({ ...fields }), reason: 'malformed', fault })

const notOurs =
  (fault: string, change: (fields: Record<string, unknown>) => unknown): Breaker =>
  (fields) => ({ payload: change({ ...fields }), reason: 'not-cognito-sync', fault })

const BREAKERS: readonly Breaker[] = [
  notOurs('no source', ({ source: _, ...rest }) => rest),
  notOurs('another source', (fields) => ({ ...fields, source: 'another-feature' })),
  notOurs('the keys only inherited', (fields) => Object.create(fields)),
  notOurs('the keys under a JSON "__proto__"', (fields) =>
    JSON.parse(`{"__proto__": ${JSON.stringify(fields)}}`),
  ),
  malformed('no syncCount', ({ syncCount: _, ...rest }) => rest),
  malformed('no identityId', ({ identityId: _, ...rest }) => rest),
  malformed('no identityPoolId', ({ identityPoolId: _, ...rest }) => rest),
  malformed('no datasetName', ({ datasetName: _, ...rest }) => rest),
  malformed('syncCount with a leading zero', (fields) => ({ ...fields, syncCount: '01' })),
  malformed('syncCount negative', (fields) => ({ ...fields, syncCount: -1 })),
  malformed('syncCount as "-1"', (fields) => ({ ...fields, syncCount: '-1' })),
  malformed('syncCount in exponent form', (fields) => ({ ...fields, syncCount: '1e3' })),
  malformed('syncCount with a space', (fields) => ({ ...fields, syncCount: ' 1' })),
  malformed('syncCount fractional', (fields) => ({ ...fields, syncCount: 1.5 })),
  malformed('syncCount past the safe integers', (fields) => ({ ...fields, syncCount: '9007199254740993' })),
  malformed('syncCount null', (fields) => ({ ...fields, syncCount: null })),
  malformed('syncCount a boolean', (fields) => ({ ...fields, syncCount: true })),
  malformed('syncCount a getter', (fields) => {
    const { syncCount, ...rest } = fields
    return Object.defineProperty(rest, 'syncCount', { get: () => syncCount, enumerable: true })
  }),
  malformed('identityId without a region', (fields) => ({ ...fields, identityId: 'no-colon' })),
  malformed('identityPoolId empty', (fields) => ({ ...fields, identityPoolId: '' })),
  malformed('identityId too long', (fields) => ({ ...fields, identityId: `us-east-1:${'a'.repeat(50)}` })),
  malformed('datasetName with a space', (fields) => ({ ...fields, datasetName: 'my dataset' })),
  malformed('datasetName too long', (fields) => ({ ...fields, datasetName: 'd'.repeat(129) })),
  malformed('datasetName empty', (fields) => ({ ...fields, datasetName: '' })),
  malformed('not an object', () => 42),
  malformed('null', () => null),
  malformed('an array', (fields) => [fields]),
  malformed('text that is not JSON', () => '{"source": "cognito-sync",'),
  malformed('JSON text of an array', (fields) => JSON.stringify([fields])),
  malformed('APNs data with a bad syncCount', (fields) => ({
    aps: { 'content-available': 1 },
    data: { ...fields, syncCount: 'x' },
  })),
]

/**
 * Payloads that claim to be push-sync updates and break a rule (`malformed`), or that belong to
 * another feature of the app (`not-cognito-sync`): missing and inherited fields, sync counts in
 * every wrong spelling, ids and names out of pattern, getters, values that are not objects.
 */
export function malformedPushPayloads(): fc.Arbitrary<MalformedPushPayload> {
  const fields = pushSyncUpdates().map(
    (update): Record<string, unknown> => ({
      source: update.source,
      identityPoolId: update.identityPoolId,
      identityId: update.identityId,
      datasetName: update.datasetName,
      syncCount: update.syncCount,
    }),
  )
  return fc.tuple(fields, fc.constantFrom(...BREAKERS)).map(([valid, breaker]) => breaker(valid))
}
