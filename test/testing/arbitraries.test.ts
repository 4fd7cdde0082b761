import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_LIMITS,
  datasetUsage,
  decidePushSync,
  parsePushPayload,
  planPull,
  pushedChangesToApply,
  utf8ByteLength,
  validateKey,
  validateValue,
} from '../../src/core/index.js'
import {
  ASTRAL,
  conflicts,
  datasets,
  EMPTY_LOOKING,
  invalidRecordKeys,
  invalidRecordValues,
  malformedPushPayloads,
  PROTOTYPE_KEYS,
  pushPayloads,
  pushSyncUpdates,
  recordKeys,
  recordValues,
  remoteRecords,
  syncRecords,
  valuesAtLimit,
} from '../../src/testing/merge/index.js'

const SMALL = { maxKeyBytes: 6, maxValueLength: 5, maxDatasetBytes: 40, maxRecordsPerDataset: 3 }

describe('record arbitraries', () => {
  it('keys are always valid, under Cognito’s limits and lowered ones', () => {
    fc.assert(
      fc.property(recordKeys(), recordKeys({ limits: SMALL }), (key, small) => {
        expect(validateKey(key, DEFAULT_LIMITS).ok).toBe(true)
        expect(validateKey(small, { ...DEFAULT_LIMITS, ...SMALL }).ok).toBe(true)
      }),
    )
  })

  it('keys come often as the ones that break naive code', () => {
    const keys = fc.sample(recordKeys(), 2000)
    const has = (test: (key: string) => boolean) => keys.some(test)
    expect(has((key) => key === '__proto__')).toBe(true)
    expect(has((key) => PROTOTYPE_KEYS.includes(key) && key !== '__proto__')).toBe(true)
    expect(has((key) => [...key].every((character) => EMPTY_LOOKING.includes(character)))).toBe(true)
    expect(has((key) => ASTRAL.some((character) => key.includes(character)))).toBe(true)
    expect(
      has((key) => utf8ByteLength(key) === DEFAULT_LIMITS.maxKeyBytes && utf8ByteLength(key) > key.length),
    ).toBe(true)
  })

  it('values are always valid, the empty string among them', () => {
    fc.assert(
      fc.property(recordValues(), recordValues({ limits: SMALL }), (value, small) => {
        expect(validateValue(value, DEFAULT_LIMITS).ok).toBe(true)
        expect(validateValue(small, { ...DEFAULT_LIMITS, ...SMALL }).ok).toBe(true)
      }),
    )
    expect(fc.sample(recordValues(), 500)).toContain('')
  })

  it('values at the limit are exactly as long as allowed, astral character included', () => {
    for (const value of fc.sample(valuesAtLimit(), 10)) {
      expect(value.length).toBe(DEFAULT_LIMITS.maxValueLength)
      expect(validateValue(value, DEFAULT_LIMITS).ok).toBe(true)
      expect(validateValue(`${value}x`, DEFAULT_LIMITS).ok).toBe(false)
    }
  })

  it('invalid keys and values break the rule they name', () => {
    fc.assert(
      fc.property(invalidRecordKeys(), invalidRecordValues(), (key, value) => {
        const keyResult = validateKey(key.input, DEFAULT_LIMITS)
        expect(keyResult.ok ? undefined : keyResult.failure.rule).toBe(key.rule)
        const valueResult = validateValue(value.input, DEFAULT_LIMITS)
        expect(valueResult.ok ? undefined : valueResult.failure.rule).toBe(value.rule)
      }),
    )
  })

  it('records hold together: clean ones come from the server, new dirty ones have never been there', () => {
    fc.assert(
      fc.property(syncRecords(), remoteRecords(), (row, remote) => {
        expect(remote.syncCount).toBeGreaterThan(0)
        if (!row.dirty) expect(row.syncCount).toBeGreaterThan(0)
        if (row.syncCount === 0) expect([row.lastModifiedDate, row.lastModifiedBy]).toEqual([0, null])
      }),
    )
  })

  it('datasets have one row per key and stay within the quotas', () => {
    const limits = { ...DEFAULT_LIMITS, ...SMALL }
    fc.assert(
      fc.property(datasets({ limits: SMALL, maxRecords: 6 }), (rows) => {
        expect(new Set(rows.map((row) => row.key)).size).toBe(rows.length)
        const usage = datasetUsage(rows)
        expect(usage.liveRecords).toBeLessThanOrEqual(limits.maxRecordsPerDataset)
        expect(usage.bytes).toBeLessThanOrEqual(limits.maxDatasetBytes)
      }),
    )
  })

  it('conflicts are the ones planPull raises, with removals on either side', () => {
    fc.assert(
      fc.property(conflicts(), (conflict) => {
        const plan = planPull(
          [conflict.local],
          {
            records: [conflict.remote],
            datasetSyncCount: conflict.remote.syncCount,
            datasetExists: true,
            datasetDeletedAfterRequestedSyncCount: false,
            mergedDatasetNames: [],
          },
          conflict.local.syncCount,
        )
        expect(plan.conflicts).toEqual([conflict])
      }),
    )
    const sample = fc.sample(conflicts(), 500)
    expect(sample.some((conflict) => conflict.local.value === null)).toBe(true)
    expect(sample.some((conflict) => conflict.remote.value === null)).toBe(true)
    expect(sample.some((conflict) => conflict.remote.deviceLastModifiedDate === null)).toBe(true)
  })
})

describe('push payload arbitraries', () => {
  it('every platform’s payload reads back as the update it carries', () => {
    fc.assert(
      fc.property(pushPayloads(), ({ payload, update }) => {
        const parsed = parsePushPayload(payload)
        expect(parsed).toEqual({ ok: true, value: update })
      }),
    )
    const channels = new Set(fc.sample(pushPayloads(), 300).map((sample) => sample.channel))
    expect([...channels].sort()).toEqual(['apns', 'flat-strings', 'json', 'sse'])
  })

  it('updates carrying a change are what a device right behind them applies', () => {
    fc.assert(
      fc.property(pushSyncUpdates(), (update) => {
        if (update.changes === undefined) return
        expect(update.changes.after).toBe(update.syncCount - 1)
        const applied = pushedChangesToApply(
          { lastSyncCount: update.changes.after, hasLocalChanges: false },
          update,
        )
        expect(applied?.records).toEqual(update.changes.records)
      }),
    )
  })

  it('malformed payloads are refused for the reason they name, and lead to nothing', () => {
    fc.assert(
      fc.property(malformedPushPayloads(), ({ payload, reason }) => {
        const parsed = parsePushPayload(payload)
        expect(parsed.ok ? 'accepted' : parsed.failure.reason).toBe(reason)
        const decision = decidePushSync(
          { identityPoolId: 'us-east-1:0', identityId: 'us-east-1:1', lastSyncCount: 0, syncing: false },
          payload,
        )
        expect(decision).toMatchObject({ action: 'ignore', reason })
      }),
    )
    const faults = new Set(fc.sample(malformedPushPayloads(), 2000).map((sample) => sample.fault))
    expect(faults.size).toBeGreaterThan(25)
  })
})
