import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  applyPushResult,
  lastSyncCountAfterPushConflict,
  planPull,
  planPush,
  type SyncRecord,
} from '../../src/core/index.js'
import { local, pulled, remote } from './helpers/records.js'

describe('planPull', () => {
  it('applies remote records over missing and clean rows, and moves lastSyncCount to the dataset count', () => {
    const rows = [local('a', 'old', { dirty: false, syncCount: 1 })]
    const plan = planPull(rows, pulled([remote('a', 'new', 3), remote('b', 'x', 2)], 3), 1)
    expect(plan.conflicts).toEqual([])
    expect(plan.apply.map((r) => [r.key, r.value, r.syncCount, r.dirty])).toEqual([
      ['a', 'new', 3, false],
      ['b', 'x', 2, false],
    ])
    expect(plan.lastSyncCount).toBe(3)
  })

  it('keeps remote tombstones as tombstones (the JS client turned them into empty strings)', () => {
    const plan = planPull(
      [local('a', 'x', { dirty: false, syncCount: 1 })],
      pulled([remote('a', null, 2)], 2),
      1,
    )
    expect(plan.apply[0]).toMatchObject({ key: 'a', value: null, syncCount: 2, dirty: false })
  })

  it('takes the server count and clears dirty when a dirty row already has the remote value (no endless 409)', () => {
    const rows = [local('a', 'same', { syncCount: 1 })]
    const plan = planPull(rows, pulled([remote('a', 'same', 4)], 4), 1)
    expect(plan.conflicts).toEqual([])
    expect(plan.apply).toEqual([
      expect.objectContaining({ key: 'a', value: 'same', syncCount: 4, dirty: false }),
    ])
  })

  it('keeps a dirty edit the server has not changed since (Android let the remote value overwrite it)', () => {
    const rows = [local('a', 'mine', { syncCount: 4 })]
    const plan = planPull(rows, pulled([remote('a', 'theirs-at-4', 4)], 6), 3)
    expect(plan.apply).toEqual([])
    expect(plan.conflicts).toEqual([])
  })

  it('reports a conflict when both sides changed, and still applies the other remote records', () => {
    const rows = [local('a', 'mine', { syncCount: 1 }), local('b', 'b0', { dirty: false, syncCount: 1 })]
    const plan = planPull(rows, pulled([remote('a', 'theirs', 2), remote('b', 'b1', 2)], 2), 1)
    expect(plan.conflicts).toEqual([{ key: 'a', local: rows[0], remote: remote('a', 'theirs', 2) }])
    expect(plan.apply.map((r) => r.key)).toEqual(['b'])
  })

  it('uses the newest record when pages list a key twice', () => {
    const plan = planPull([], pulled([remote('a', 'v5', 5), remote('a', 'v3', 3)], 5), 0)
    expect(plan.apply).toEqual([expect.objectContaining({ value: 'v5', syncCount: 5 })])
  })

  it('never lowers lastSyncCount', () => {
    fc.assert(
      fc.property(fc.nat(100), fc.nat(100), (before, seen) => {
        expect(planPull([], pulled([], seen), before).lastSyncCount).toBe(Math.max(before, seen))
      }),
    )
  })
})

describe('planPush', () => {
  it('sends each dirty record with the sync count it is based on; tombstones as remove, "" as replace', () => {
    const rows: SyncRecord[] = [
      local('a', 'x', { syncCount: 3, deviceLastModifiedDate: 9 }),
      local('b', null, { syncCount: 2 }),
      local('c', ''),
      local('d', 'clean', { dirty: false, syncCount: 3 }),
    ]
    expect(planPush(rows).patches).toEqual([
      { op: 'replace', key: 'a', value: 'x', syncCount: 3, deviceLastModifiedDate: 9 },
      { op: 'remove', key: 'b', value: null, syncCount: 2, deviceLastModifiedDate: 0 },
      { op: 'replace', key: 'c', value: '', syncCount: 0, deviceLastModifiedDate: 0 },
    ])
    expect(planPush(rows).snapshot.map((r) => r.key)).toEqual(['a', 'b', 'c'])
  })
})

describe('applyPushResult', () => {
  const sent = [local('a', 'x', { syncCount: 3, deviceLastModifiedDate: 9 })]
  const returned = [remote('a', 'x', 6, { lastModifiedBy: 'this-device', deviceLastModifiedDate: 9 })]

  it('cleans rows unchanged since the snapshot and advances lastSyncCount by the +1 rule', () => {
    const result = applyPushResult({
      snapshot: sent,
      current: sent,
      returned,
      seenDatasetSyncCount: 5,
      lastSyncCount: 5,
    })
    expect(result.records).toEqual([
      expect.objectContaining({ key: 'a', value: 'x', syncCount: 6, dirty: false }),
    ])
    expect(result.lastSyncCount).toBe(6)
  })

  it('does not advance lastSyncCount past another writer’s change (the JS client did and skipped it)', () => {
    const result = applyPushResult({
      snapshot: sent,
      current: sent,
      returned: [remote('a', 'x', 7)],
      seenDatasetSyncCount: 5,
      lastSyncCount: 5,
    })
    expect(result.lastSyncCount).toBe(5)
    expect(result.records[0]).toMatchObject({ syncCount: 7, dirty: false })
  })

  it('keeps a row written during the push dirty, rebased on the new server count', () => {
    const edited = [local('a', 'y', { syncCount: 3, deviceLastModifiedDate: 12 })]
    const result = applyPushResult({
      snapshot: sent,
      current: edited,
      returned,
      seenDatasetSyncCount: 5,
      lastSyncCount: 5,
    })
    expect(result.records).toEqual([
      expect.objectContaining({ key: 'a', value: 'y', syncCount: 6, dirty: true }),
    ])
  })

  it('takes a value a sync trigger rewrote, and records it added, unless the row is dirty', () => {
    const result = applyPushResult({
      snapshot: sent,
      current: [...sent, local('added-dirty', 'mine', { syncCount: 0 })],
      returned: [remote('a', 'X!', 6), remote('added', 'by trigger', 6), remote('added-dirty', 'trigger', 6)],
      seenDatasetSyncCount: 5,
      lastSyncCount: 5,
    })
    expect(result.records.map((r) => [r.key, r.value, r.dirty])).toEqual([
      ['a', 'X!', false],
      ['added', 'by trigger', false],
    ])
  })
})

describe('lastSyncCountAfterPushConflict', () => {
  it('drops to the highest base of the patches so the next pull re-delivers what changed', () => {
    const patches = planPush([local('a', 'x', { syncCount: 3 }), local('b', 'y', { syncCount: 5 })]).patches
    expect(lastSyncCountAfterPushConflict(9, patches)).toBe(5)
    expect(lastSyncCountAfterPushConflict(4, patches)).toBe(4)
  })
})
