import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createDatasetMeta,
  DEFAULT_LIMITS,
  DELETE_PENDING,
  datasetUsage,
  planLocalDelete,
  planLocalWrite,
  resolveLimits,
} from '../../src/core/index.js'
import { local, meta } from './helpers/records.js'

const context = { now: 500, limits: DEFAULT_LIMITS }

describe('planLocalWrite', () => {
  it('writes a new record as dirty with sync count 0 and the device time', () => {
    const plan = planLocalWrite(meta, [], [{ key: 'theme', value: 'dark' }], context)
    expect(plan).toEqual({
      ok: true,
      value: {
        meta: { ...meta, lastModifiedDate: 500 },
        records: [local('theme', 'dark', { deviceLastModifiedDate: 500 })],
        usage: { liveRecords: 1, bytes: 9 },
        newlyDirty: 1,
      },
    })
  })

  it('keeps the server sync count a changed record is based on', () => {
    const clean = local('theme', 'light', { syncCount: 7, dirty: false, lastModifiedDate: 70 })
    const plan = planLocalWrite(meta, [clean], [{ key: 'theme', value: 'dark' }], context)
    expect(plan.ok && plan.value.records).toEqual([
      { ...clean, value: 'dark', dirty: true, deviceLastModifiedDate: 500 },
    ])
  })

  it('treats putting the same value as a no-op, so nothing is pushed again', () => {
    const clean = local('theme', 'dark', { syncCount: 7, dirty: false })
    const plan = planLocalWrite(meta, [clean], [{ key: 'theme', value: 'dark' }], context)
    expect(plan).toEqual({
      ok: true,
      value: { meta, records: [], usage: { liveRecords: 1, bytes: 9 }, newlyDirty: 0 },
    })
  })

  it('stores the empty string as a value, not as a removal', () => {
    const plan = planLocalWrite(
      meta,
      [local('a', 'x', { dirty: false, syncCount: 2 })],
      [{ key: 'a', value: '' }],
      context,
    )
    expect(plan.ok && plan.value.records[0]?.value).toBe('')
  })

  it('turns a removal into a dirty tombstone, and ignores removing what is not there', () => {
    const clean = local('a', 'x', { dirty: false, syncCount: 2 })
    const removed = planLocalWrite(meta, [clean], [{ key: 'a', value: null }], context)
    expect(removed.ok && removed.value.records).toEqual([
      { ...clean, value: null, dirty: true, deviceLastModifiedDate: 500 },
    ])
    const nothing = { meta, records: [], usage: { liveRecords: 0, bytes: 0 }, newlyDirty: 0 }
    expect(planLocalWrite(meta, [], [{ key: 'a', value: null }], context)).toEqual({
      ok: true,
      value: nothing,
    })
    const tombstone = local('a', null, { dirty: false, syncCount: 3 })
    expect(planLocalWrite(meta, [tombstone], [{ key: 'a', value: null }], context)).toEqual({
      ok: true,
      value: nothing,
    })
  })

  it('applies putAll all or nothing: one invalid entry changes nothing', () => {
    const plan = planLocalWrite(
      meta,
      [],
      [
        { key: 'a', value: '1' },
        { key: 'b'.repeat(129), value: '2' },
      ],
      context,
    )
    expect(plan).toMatchObject({ ok: false, failure: { code: 'INVALID_ARGUMENT', rule: 'maxKeyBytes' } })
  })

  it('applies the changes of one call in order: the last write to a key wins', () => {
    const plan = planLocalWrite(
      meta,
      [],
      [
        { key: 'a', value: '1' },
        { key: 'a', value: '2' },
      ],
      context,
    )
    expect(plan.ok && plan.value.records.map((r) => r.value)).toEqual(['2'])
  })

  it('refuses the 1,025th live record but not the 1,024th (iOS had this guard inverted)', () => {
    const full = Array.from({ length: 1023 }, (_, i) => local(`k${i}`, 'v', { dirty: false, syncCount: 1 }))
    const at = planLocalWrite(meta, full, [{ key: 'last', value: 'v' }], context)
    expect(at.ok).toBe(true)
    const atLimit = [...full, local('last', 'v')]
    expect(planLocalWrite(meta, atLimit, [{ key: 'over', value: 'v' }], context)).toMatchObject({
      ok: false,
      failure: { code: 'LIMIT_EXCEEDED', rule: 'maxRecordsPerDataset', value: 1025, limit: 1024 },
    })
    // Tombstones do not count, so a removed key frees its slot.
    const withTombstone = [...full, local('gone', null)]
    expect(planLocalWrite(meta, withTombstone, [{ key: 'last', value: 'v' }], context).ok).toBe(true)
  })

  it('counts UTF-8 bytes of keys and values against the 1 MB quota', () => {
    const big = local('big', 'x'.repeat(1024 * 1024 - 3 - 2), { dirty: false, syncCount: 1 })
    expect(datasetUsage([big]).bytes).toBe(1024 * 1024 - 2)
    expect(planLocalWrite(meta, [big], [{ key: 'a', value: 'b' }], context).ok).toBe(true)
    expect(planLocalWrite(meta, [big], [{ key: 'a', value: 'é' }], context)).toMatchObject({
      ok: false,
      failure: { code: 'LIMIT_EXCEEDED', rule: 'maxDatasetBytes', value: 1024 * 1024 + 1 },
    })
  })

  it('lets a dataset that is over a lowered limit shrink', () => {
    const limits = resolveLimits({ maxRecordsPerDataset: 1 })
    const records = [
      local('a', '1', { dirty: false, syncCount: 1 }),
      local('b', '2', { dirty: false, syncCount: 1 }),
    ]
    expect(planLocalWrite(meta, records, [{ key: 'a', value: null }], { now: 1, limits }).ok).toBe(true)
    expect(planLocalWrite(meta, records, [{ key: 'c', value: '3' }], { now: 1, limits }).ok).toBe(false)
  })

  it('refuses a value that is not a string', () => {
    const plan = planLocalWrite(meta, [], [{ key: 'a', value: 42 as unknown as string }], context)
    expect(plan).toMatchObject({ ok: false, failure: { field: 'value', rule: 'type', value: 42 } })
  })
})

describe('createDatasetMeta', () => {
  it('validates the name and starts at lastSyncCount 0', () => {
    expect(createDatasetMeta(meta.identityId, 'notes', [], context)).toEqual({
      ok: true,
      value: { ...meta, name: 'notes', creationDate: 500, lastModifiedDate: 500 },
    })
    expect(createDatasetMeta(meta.identityId, 'bad name', [], context)).toMatchObject({
      ok: false,
      failure: { rule: 'pattern' },
    })
  })

  it('refuses the 21st dataset of an identity, not counting datasets whose delete is pending', () => {
    const twenty = Array.from({ length: 20 }, (_, i) => ({ ...meta, name: `d${i}` }))
    expect(createDatasetMeta(meta.identityId, 'extra', twenty, context)).toMatchObject({
      ok: false,
      failure: { code: 'LIMIT_EXCEEDED', rule: 'maxDatasetsPerIdentity', value: 21, limit: 20 },
    })
    const oneLeaving = twenty.map((m, i) => (i === 0 ? { ...m, lastSyncCount: DELETE_PENDING } : m))
    expect(createDatasetMeta(meta.identityId, 'extra', oneLeaving, context).ok).toBe(true)
  })
})

describe('planLocalDelete', () => {
  it('removes every local row and marks the remote delete as pending', () => {
    const plan = planLocalDelete({ ...meta, lastSyncCount: 9 }, [local('a', '1'), local('b', null)], 700)
    expect(plan).toEqual({
      meta: { ...meta, lastSyncCount: DELETE_PENDING, lastModifiedDate: 700 },
      deleteKeys: ['a', 'b'],
    })
  })
})

describe('planLocalWrite with a kept usage', () => {
  const row = fc.record({
    key: fc.constantFrom('a', 'b', 'c', 'd', 'é', '😀'),
    value: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
    dirty: fc.boolean(),
  })
  const change = fc.record({
    key: fc.constantFrom<string>('a', 'b', 'c', 'e', '😀'),
    value: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
  })

  it('decides exactly as with every row, given only the touched rows and the usage', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(row, { selector: (r) => r.key }),
        fc.array(change, { maxLength: 6 }),
        (rows, changes) => {
          const records = rows.map((r) =>
            local(r.key, r.value, { dirty: r.dirty, syncCount: r.dirty ? 0 : 1 }),
          )
          const limits = resolveLimits({ maxRecordsPerDataset: 4, maxDatasetBytes: 20 })
          const touched = new Set(changes.map((c) => c.key))
          const full = planLocalWrite(meta, records, changes, { now: 1, limits })
          const kept = planLocalWrite(
            meta,
            { rows: records.filter((r) => touched.has(r.key)), usage: datasetUsage(records) },
            changes,
            { now: 1, limits },
          )
          expect(kept).toEqual(full)
          if (full.ok) {
            const after = new Map(records.map((r) => [r.key, r]))
            for (const written of full.value.records) after.set(written.key, written)
            expect(full.value.usage).toEqual(datasetUsage(after.values()))
            const dirtyBefore = records.filter((r) => r.dirty).length
            expect(full.value.newlyDirty).toBe(
              [...after.values()].filter((r) => r.dirty).length - dirtyBefore,
            )
          }
        },
      ),
    )
  })
})
