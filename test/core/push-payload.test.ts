import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, resolveLimits } from '../../src/core/limits.js'
import {
  encodePushPayload,
  type PushPayloadFailure,
  type PushPayloadPlatform,
  type PushSyncUpdate,
  parsePushPayload,
} from '../../src/core/push-payload.js'

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/push/${name}`, import.meta.url), 'utf8'))
}

const FIELDS = ['source', 'identityPoolId', 'identityId', 'datasetName', 'syncCount'] as const
type Field = (typeof FIELDS)[number]
const PLATFORMS: readonly PushPayloadPlatform[] = ['flat-strings', 'apns', 'json']

const chars = (set: string) => fc.constantFrom(...set)
const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'
const HEX = '0123456789abcdefABCDEF-'
// REGION:GUID within Cognito's 55 characters: at most 20 + 1 + 34.
const cognitoId = fc
  .tuple(
    fc.string({ unit: chars(WORD), minLength: 1, maxLength: 20 }),
    fc.string({ unit: chars(HEX), minLength: 1, maxLength: 34 }),
  )
  .map(([region, guid]) => `${region}:${guid}`)
const datasetName = fc.string({
  unit: chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-'),
  minLength: 1,
  maxLength: DEFAULT_LIMITS.maxDatasetNameLength,
})
const syncCount = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER))
const update: fc.Arbitrary<PushSyncUpdate> = fc.record({
  source: fc.constant('cognito-sync' as const),
  identityPoolId: cognitoId,
  identityId: cognitoId,
  datasetName,
  syncCount,
})
const platform = fc.constantFrom(...PLATFORMS)

/** The object holding the five keys in an encoded payload. */
function keysOf(payload: Record<string, unknown>, p: PushPayloadPlatform): Record<string, unknown> {
  return p === 'apns' ? (payload.data as Record<string, unknown>) : payload
}

function expectFailure(result: ReturnType<typeof parsePushPayload>): PushPayloadFailure {
  expect(result.ok).toBe(false)
  if (result.ok) throw new Error('unreachable')
  expect(result.failure.code).toBe('PUSH_PAYLOAD_INVALID')
  return result.failure
}

const UPDATE: PushSyncUpdate = {
  source: 'cognito-sync',
  identityPoolId: 'us-east-1:4f3e0a5c-2b8d-4e19-9a7b-1c6d2e8f0a34',
  identityId: 'us-east-1:9b2c7d41-8e5f-4a63-b0d2-7f1e3c5a9d86',
  datasetName: 'settings',
  syncCount: 12,
}

/** Values each key must refuse, beyond absence. */
const INVALID: Record<Exclude<Field, 'source'>, readonly unknown[]> = {
  identityPoolId: [
    '',
    'us-east-1',
    'us-east-1:not-hex-zz',
    ' us-east-1:4f3e0a5c',
    `us-east-1:${'a'.repeat(46)}`,
    'us east 1:4f3e',
    42,
    null,
    undefined,
    true,
    ['us-east-1:4f3e'],
    { id: 'us-east-1:4f3e' },
  ],
  identityId: [
    '',
    'eu-west-1',
    'eu-west-1:xyz',
    'eu-west-1:4f3e\n',
    `eu-west-1:${'0'.repeat(46)}`,
    7,
    null,
    {},
    [],
  ],
  datasetName: [
    '',
    'a b',
    'naïve',
    'a/b',
    'x'.repeat(DEFAULT_LIMITS.maxDatasetNameLength + 1),
    ' settings',
    12,
    null,
    false,
    {},
    [],
  ],
  syncCount: [
    -1,
    -12,
    1.5,
    0.1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_SAFE_INTEGER + 1,
    2 ** 60,
    1e21,
    '1e3',
    ' 12',
    '12 ',
    '\t12',
    '',
    '-1',
    '-0',
    '+12',
    '1.0',
    '12.5',
    '0x10',
    '0b1',
    '012',
    '00',
    '١٢',
    '１２',
    'NaN',
    'Infinity',
    '9007199254740992',
    '99999999999999999999',
    null,
    true,
    {},
    [12],
    12n,
  ],
}

describe('parsePushPayload: platform fixtures', () => {
  it('reads an FCM data message as delivered to Android, ignoring the google.* extras', () => {
    expect(parsePushPayload(fixture('fcm-android-data.json'))).toEqual({ ok: true, value: UPDATE })
  })

  it('reads an FCM RemoteMessage-like object with the keys under data', () => {
    expect(parsePushPayload(fixture('fcm-remote-message.json'))).toEqual({ ok: true, value: UPDATE })
  })

  it('reads an APNs userInfo with aps and data', () => {
    expect(parsePushPayload(fixture('apns-user-info.json'))).toEqual({
      ok: true,
      value: {
        source: 'cognito-sync',
        identityPoolId: 'eu-west-1:0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5',
        identityId: 'eu-west-1:7A6B5C4D-3E2F-1A0B-9C8D-7E6F5A4B3C2D',
        datasetName: 'game_state.v2',
        syncCount: 57,
      },
    })
  })

  const bookmarks = {
    source: 'cognito-sync',
    identityPoolId: 'ap-northeast-1:5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9',
    identityId: 'ap-northeast-1:1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
    datasetName: 'bookmarks:work',
  }

  it('reads a Web Push JSON body, as an object and as its text', () => {
    const body = fixture('web-push-body.json')
    const expected = { ok: true, value: { ...bookmarks, syncCount: 3 } }
    expect(parsePushPayload(body)).toEqual(expected)
    expect(parsePushPayload(JSON.stringify(body))).toEqual(expected)
  })

  it('reads the data string of an SSE event, with syncCount as a decimal string', () => {
    const event = fixture('sse-event.json') as { data: string }
    expect(typeof event.data).toBe('string')
    expect(parsePushPayload(event.data)).toEqual({ ok: true, value: { ...bookmarks, syncCount: 4 } })
  })

  it('tells a push of another app feature from a broken one', () => {
    const failure = expectFailure(parsePushPayload(fixture('fcm-android-other-feature.json')))
    expect(failure).toEqual({
      code: 'PUSH_PAYLOAD_INVALID',
      reason: 'not-cognito-sync',
      field: 'source',
      message: expect.stringContaining('source'),
    })
  })

  it('returns a fresh frozen object with exactly the five keys', () => {
    const payload = fixture('fcm-android-data.json')
    const first = parsePushPayload(payload)
    const second = parsePushPayload(payload)
    if (!first.ok || !second.ok) throw new Error('expected both to parse')
    expect(Object.isFrozen(first.value)).toBe(true)
    expect(Object.keys(first.value).sort()).toEqual([...FIELDS].sort())
    expect(first.value).not.toBe(second.value)
    expect(first.value).not.toBe(payload)
  })
})

describe('parsePushPayload: example refusals', () => {
  it.each([
    ['syncCount', '1e3', '"1e3"'],
    ['syncCount', ' 12', '" 12"'],
    ['syncCount', -1, '-1'],
    ['syncCount', 1.5, '1.5'],
    ['syncCount', Number.NaN, 'NaN'],
    ['syncCount', '012', '"012"'],
    ['identityId', 'eu-west-1:xyz', '"eu-west-1:xyz"'],
    ['identityPoolId', 42, '42'],
    ['datasetName', 'a b', '"a b"'],
  ] as const)('names the field and the value for %s = %s', (field, value, shown) => {
    const failure = expectFailure(parsePushPayload({ ...UPDATE, [field]: value }))
    expect(failure.reason).toBe('malformed')
    expect(failure.field).toBe(field)
    expect(failure.message).toContain(field)
    expect(failure.message).toContain(shown)
  })

  it('names a missing field', () => {
    const { datasetName: _, ...rest } = UPDATE
    expect(expectFailure(parsePushPayload(rest))).toEqual({
      code: 'PUSH_PAYLOAD_INVALID',
      reason: 'malformed',
      field: 'datasetName',
      message: 'push payload is missing the datasetName field',
    })
  })

  it('names the foreign source', () => {
    const failure = expectFailure(parsePushPayload({ ...UPDATE, source: 'marketing' }))
    expect(failure.reason).toBe('not-cognito-sync')
    expect(failure.message).toContain('"marketing"')
  })

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 12],
    ['a boolean', true],
    ['an array', [UPDATE]],
    ['a function', () => UPDATE],
    ['a symbol', Symbol('push')],
    ['text that is not JSON', 'hello'],
    ['truncated JSON text', JSON.stringify(UPDATE).slice(0, -1)],
    ['JSON text of a number', '12'],
    ['JSON text of null', 'null'],
    ['JSON text of an array', JSON.stringify([UPDATE])],
    ['JSON text of a string', JSON.stringify(JSON.stringify(UPDATE))],
  ])('refuses %s as malformed, with no field', (_, payload) => {
    const failure = expectFailure(parsePushPayload(payload))
    expect(failure.reason).toBe('malformed')
    expect(failure.field).toBeUndefined()
    expect(failure.message).toContain('push payload')
  })

  it('only reads own properties: inherited keys do not count', () => {
    expect(expectFailure(parsePushPayload(Object.create(UPDATE))).reason).toBe('not-cognito-sync')
    const { syncCount: _, ...rest } = UPDATE
    const failure = expectFailure(parsePushPayload(Object.assign(Object.create({ syncCount: 1 }), rest)))
    expect(failure).toMatchObject({ reason: 'malformed', field: 'syncCount' })
  })

  it('is not confused by a __proto__ key in JSON text', () => {
    const { syncCount: _, ...rest } = UPDATE
    const hidden = `{"__proto__":{"syncCount":5},${JSON.stringify(rest).slice(1)}`
    expect(expectFailure(parsePushPayload(hidden))).toMatchObject({ reason: 'malformed', field: 'syncCount' })
    const all = `{"__proto__":${JSON.stringify(UPDATE)}}`
    expect(expectFailure(parsePushPayload(all)).reason).toBe('not-cognito-sync')
    const nested = `{"aps":{},"data":{"__proto__":${JSON.stringify(UPDATE)}}}`
    expect(expectFailure(parsePushPayload(nested)).reason).toBe('not-cognito-sync')
    // An own __proto__ key beside the five is one more unknown key.
    expect(parsePushPayload(`{"__proto__":{"syncCount":5},${JSON.stringify(UPDATE).slice(1)}`)).toEqual({
      ok: true,
      value: UPDATE,
    })
  })

  it('reads null-prototype objects and never runs getters or proxy traps that throw', () => {
    expect(parsePushPayload(Object.assign(Object.create(null), UPDATE))).toEqual({ ok: true, value: UPDATE })
    const getter = { ...UPDATE }
    Object.defineProperty(getter, 'syncCount', {
      enumerable: true,
      get() {
        throw new Error('getter ran')
      },
    })
    expect(expectFailure(parsePushPayload(getter))).toMatchObject({ reason: 'malformed', field: 'syncCount' })
    const hostile = new Proxy(
      {},
      {
        getOwnPropertyDescriptor() {
          throw new Error('trap ran')
        },
      },
    )
    expect(expectFailure(parsePushPayload(hostile)).reason).toBe('malformed')
    const revocable = Proxy.revocable({}, {})
    revocable.revoke()
    expect(expectFailure(parsePushPayload(revocable.proxy)).reason).toBe('malformed')
  })

  it('prefers top-level keys over a data member when source is at the top', () => {
    const payload = { ...UPDATE, data: { ...UPDATE, syncCount: 99 } }
    expect(parsePushPayload(payload)).toEqual({ ok: true, value: UPDATE })
  })

  it('accepts -0 as 0 and the largest safe integer', () => {
    const zero = parsePushPayload({ ...UPDATE, syncCount: -0 })
    expect(zero.ok && Object.is(zero.value.syncCount, 0)).toBe(true)
    expect(parsePushPayload(JSON.stringify({ ...UPDATE, syncCount: -0 }))).toEqual({
      ok: true,
      value: { ...UPDATE, syncCount: 0 },
    })
    expect(parsePushPayload({ ...UPDATE, syncCount: '0' })).toEqual({
      ok: true,
      value: { ...UPDATE, syncCount: 0 },
    })
    const max = String(Number.MAX_SAFE_INTEGER)
    expect(parsePushPayload({ ...UPDATE, syncCount: max })).toEqual({
      ok: true,
      value: { ...UPDATE, syncCount: Number.MAX_SAFE_INTEGER },
    })
  })

  it('bounds the dataset name with the limits given', () => {
    const long = { ...UPDATE, datasetName: 'd'.repeat(150) }
    expect(expectFailure(parsePushPayload(long))).toMatchObject({ reason: 'malformed', field: 'datasetName' })
    expect(parsePushPayload(long, resolveLimits({ maxDatasetNameLength: 200 }))).toEqual({
      ok: true,
      value: long,
    })
    const short = expectFailure(parsePushPayload(UPDATE, resolveLimits({ maxDatasetNameLength: 4 })))
    expect(short).toMatchObject({ reason: 'malformed', field: 'datasetName' })
    expect(short.message).toContain('"settings"')
  })
})

describe('encodePushPayload', () => {
  it('writes each platform shape', () => {
    const { source, identityPoolId, identityId, datasetName } = UPDATE
    const five = { source, identityPoolId, identityId, datasetName }
    expect(encodePushPayload(UPDATE, 'flat-strings')).toEqual({ ...five, syncCount: '12' })
    expect(encodePushPayload(UPDATE, 'apns')).toEqual({
      aps: { 'content-available': 1 },
      data: { ...five, syncCount: 12 },
    })
    expect(encodePushPayload(UPDATE, 'json')).toEqual({ ...five, syncCount: 12 })
  })

  it('writes only strings in the flat shape, as Android extras need', () => {
    fc.assert(
      fc.property(update, (u) => {
        const values = Object.values(encodePushPayload(u, 'flat-strings'))
        expect(values.every((value) => typeof value === 'string')).toBe(true)
        expect(Number(encodePushPayload(u, 'flat-strings').syncCount)).toBe(u.syncCount)
      }),
    )
  })
})

describe('parsePushPayload: properties', () => {
  it('round-trips every valid update through every platform shape, as an object and as JSON text', () => {
    fc.assert(
      fc.property(update, platform, (u, p) => {
        const encoded = encodePushPayload(u, p)
        for (const payload of [encoded, JSON.stringify(encoded)]) {
          const parsed = parsePushPayload(payload)
          expect(parsed).toEqual({ ok: true, value: u })
          if (parsed.ok) {
            expect(Object.isFrozen(parsed.value)).toBe(true)
            expect(Object.keys(parsed.value).sort()).toEqual([...FIELDS].sort())
          }
        }
      }),
    )
  })

  it('accepts a string syncCount exactly when it is the canonical decimal of a safe integer', () => {
    fc.assert(
      fc.property(update, fc.oneof(fc.string(), fc.stringMatching(/^[0-9]{1,20}$/)), (u, text) => {
        const parsed = parsePushPayload({ ...encodePushPayload(u, 'flat-strings'), syncCount: text })
        const canonical = /^(0|[1-9][0-9]*)$/.test(text) && Number.isSafeInteger(Number(text))
        if (canonical) expect(parsed).toEqual({ ok: true, value: { ...u, syncCount: Number(text) } })
        else expect(expectFailure(parsed)).toMatchObject({ reason: 'malformed', field: 'syncCount' })
      }),
    )
  })

  it('accepts a numeric syncCount exactly when it is a non-negative safe integer', () => {
    fc.assert(
      fc.property(update, fc.oneof(fc.double(), fc.integer(), fc.maxSafeInteger()), (u, count) => {
        const parsed = parsePushPayload({ ...encodePushPayload(u, 'json'), syncCount: count })
        if (Number.isSafeInteger(count) && count >= 0) {
          expect(parsed).toEqual({ ok: true, value: { ...u, syncCount: count === 0 ? 0 : count } })
        } else {
          expect(expectFailure(parsed)).toMatchObject({ reason: 'malformed', field: 'syncCount' })
        }
      }),
    )
  })

  it('refuses a payload missing any of the five keys, naming it', () => {
    fc.assert(
      fc.property(update, platform, fc.constantFrom(...FIELDS), (u, p, field) => {
        const encoded = encodePushPayload(u, p)
        delete keysOf(encoded, p)[field]
        const failure = expectFailure(parsePushPayload(encoded))
        expect(failure.field).toBe(field)
        expect(failure.message).toContain(field)
        expect(failure.reason).toBe(field === 'source' ? 'not-cognito-sync' : 'malformed')
      }),
    )
  })

  it('refuses each key holding an invalid value, naming it', () => {
    const invalidField = fc.oneof(
      ...(Object.entries(INVALID) as [Field, readonly unknown[]][]).map(([field, values]) =>
        fc.tuple(fc.constant(field), fc.constantFrom(...values)),
      ),
    )
    fc.assert(
      fc.property(update, platform, invalidField, (u, p, [field, value]) => {
        const encoded = encodePushPayload(u, p)
        keysOf(encoded, p)[field] = value
        const failure = expectFailure(parsePushPayload(encoded))
        expect(failure).toMatchObject({ reason: 'malformed', field })
        expect(failure.message).toContain(field)
      }),
    )
  })

  it('refuses arbitrary values for the ids and the dataset name unless they follow the rules', () => {
    const validId = (v: unknown) =>
      typeof v === 'string' && v.length <= 55 && /^[\w-]+:[0-9a-fA-F-]+$/.test(v)
    const validName = (v: unknown) => typeof v === 'string' && v.length <= 128 && /^[a-zA-Z0-9_.:-]+$/.test(v)
    const field = fc.constantFrom('identityPoolId', 'identityId', 'datasetName') as fc.Arbitrary<Field>
    fc.assert(
      fc.property(update, platform, field, fc.oneof(fc.anything(), fc.string()), (u, p, key, value) => {
        const encoded = encodePushPayload(u, p)
        keysOf(encoded, p)[key] = value
        const parsed = parsePushPayload(encoded)
        const valid = key === 'datasetName' ? validName(value) : validId(value)
        if (valid) expect(parsed).toEqual({ ok: true, value: { ...u, [key]: value } })
        else expect(expectFailure(parsed)).toMatchObject({ reason: 'malformed', field: key })
      }),
    )
  })

  it('refuses any source but "cognito-sync" as not-cognito-sync', () => {
    fc.assert(
      fc.property(
        update,
        platform,
        fc.anything().filter((v) => v !== 'cognito-sync'),
        (u, p, source) => {
          const encoded = encodePushPayload(u, p)
          keysOf(encoded, p).source = source
          expect(expectFailure(parsePushPayload(encoded))).toMatchObject({
            reason: 'not-cognito-sync',
            field: 'source',
          })
        },
      ),
    )
  })

  it('ignores unknown keys beside the five', () => {
    const extraKey = fc.string().filter((k) => !(FIELDS as readonly string[]).includes(k) && k !== 'data')
    fc.assert(
      fc.property(update, platform, fc.dictionary(extraKey, fc.jsonValue()), (u, p, extras) => {
        const encoded = encodePushPayload(u, p)
        const target = keysOf(encoded, p)
        for (const [key, value] of Object.entries(extras)) {
          Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
        }
        expect(parsePushPayload(encoded)).toEqual({ ok: true, value: u })
        expect(parsePushPayload(JSON.stringify(encoded))).toEqual({ ok: true, value: u })
      }),
    )
  })

  it('never throws, and answers a valid update or a typed failure, whatever it is given', () => {
    const reasons = ['malformed', 'not-cognito-sync']
    const input = fc.oneof(
      fc.anything({
        withBigInt: true,
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withNullPrototype: true,
        withObjectString: true,
        withSet: true,
        withSparseArray: true,
        withTypedArray: true,
      }),
      fc.jsonValue(),
      fc.json(),
      fc.string(),
      fc.record({ data: fc.anything() }),
      update.chain((u) => fc.constantFrom(...PLATFORMS).map((p) => JSON.stringify(encodePushPayload(u, p)))),
    )
    fc.assert(
      fc.property(input, (payload) => {
        const parsed = parsePushPayload(payload)
        if (parsed.ok) {
          expect(Object.keys(parsed.value).sort()).toEqual([...FIELDS].sort())
          expect(parsePushPayload(parsed.value)).toEqual(parsed)
        } else {
          expect(parsed.failure.code).toBe('PUSH_PAYLOAD_INVALID')
          expect(reasons).toContain(parsed.failure.reason)
          expect(parsed.failure.message.length).toBeGreaterThan(0)
        }
      }),
    )
  })
})

describe('changes carried by a push', () => {
  const record = fc.record({
    key: fc.string({ minLength: 1, maxLength: 8 }),
    value: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
    // Whole milliseconds, as every timestamp of the model is.
    lastModifiedDate: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    lastModifiedBy: fc.option(cognitoId, { nil: null }),
    deviceLastModifiedDate: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: null }),
  })
  const withChanges = fc
    .tuple(update, fc.uniqueArray(record, { minLength: 1, maxLength: 5, selector: (r) => r.key }))
    .filter(([u]) => u.syncCount >= 1)
    .map(
      ([u, records]): PushSyncUpdate => ({
        ...u,
        changes: { after: u.syncCount - 1, records: records.map((r) => ({ ...r, syncCount: u.syncCount })) },
      }),
    )

  it('reads back what the json encoding wrote, records and all, also from JSON text', () => {
    fc.assert(
      fc.property(withChanges, (pushed) => {
        const encoded = encodePushPayload(pushed, 'json')
        expect(parsePushPayload(encoded)).toEqual({ ok: true, value: pushed })
        expect(parsePushPayload(JSON.stringify(encoded))).toEqual({ ok: true, value: pushed })
      }),
    )
  })

  it('keeps the push but drops changes that do not hold together', () => {
    const base = { ...UPDATE, syncCount: 5 }
    const good = { Key: 'k', Value: 'v', SyncCount: 5, LastModifiedDate: 1_700_000_000 }
    const broken: unknown[] = [
      { after: 3, records: [good] }, // not just below syncCount
      { after: 4, records: [] },
      { after: 4, records: [good, good] }, // a key twice
      { after: 4, records: [{ ...good, SyncCount: 4 }] },
      { after: 4, records: [{ ...good, Value: 5 }] },
      { after: 4, records: [{ ...good, LastModifiedDate: 'yesterday' }] },
      { after: 4, records: [{ Value: 'v', SyncCount: 5, LastModifiedDate: 1 }] },
      { after: '4', records: [good] },
      { after: 4, records: 'k=v' },
      [good],
      null,
    ]
    for (const changes of broken) {
      const parsed = parsePushPayload({ ...encodePushPayload(base, 'json'), changes })
      expect(parsed).toEqual({ ok: true, value: base })
    }
    // A record without a value is a removal, as in ListRecords.
    const removal = parsePushPayload({
      ...encodePushPayload(base, 'json'),
      changes: { after: 4, records: [{ Key: 'k', SyncCount: 5, LastModifiedDate: 1 }] },
    })
    expect(removal.ok && removal.value.changes?.records[0]?.value).toBe(null)
  })

  it('leaves changes out of the platforms whose payloads cannot hold them', () => {
    fc.assert(
      fc.property(withChanges, fc.constantFrom<PushPayloadPlatform>('flat-strings', 'apns'), (pushed, p) => {
        const parsed = parsePushPayload(encodePushPayload(pushed, p))
        expect(parsed.ok && parsed.value.changes).toBe(undefined)
      }),
    )
  })
})
