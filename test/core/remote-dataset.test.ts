import { describe, expect, it } from 'vitest'
import {
  defaultRemoteDeletionChoice,
  findMergedDatasets,
  isRemoteDeletion,
  planRemoteDeletion,
} from '../../src/core/index.js'
import { local, pulled, remote } from './helpers/records.js'

describe('remote deletion', () => {
  it('is detected as Cognito clients detect it, except for a device that never synced', () => {
    expect(isRemoteDeletion(5, pulled([], 0, { datasetExists: false }))).toBe(true)
    expect(isRemoteDeletion(5, pulled([], 9, { datasetDeletedAfterRequestedSyncCount: true }))).toBe(true)
    expect(isRemoteDeletion(5, pulled([], 9))).toBe(false)
    expect(isRemoteDeletion(0, pulled([], 0, { datasetExists: false }))).toBe(false)
    expect(isRemoteDeletion(0, pulled([], 9, { datasetDeletedAfterRequestedSyncCount: true }))).toBe(false)
    // Only its own new records: still nothing the server gave it.
    expect(isRemoteDeletion(0, pulled([], 0, { datasetExists: false }), [local('a', '1')])).toBe(false)
  })

  it('is detected from 0 against the rows the server once gave the device', () => {
    // An acknowledged push left lastSyncCount at 0 (another writer got in first): row a is at #2.
    const known = [local('a', '1', { dirty: false, syncCount: 2 }), local('b', '2')]
    expect(isRemoteDeletion(0, pulled([], 3, { datasetExists: false }), known)).toBe(true)
    // Deleted and made again: the complete listing from 0 no longer has a, not even as a tombstone.
    expect(isRemoteDeletion(0, pulled([remote('c', '3', 4)], 4), known)).toBe(true)
    // Still there (or removed, which leaves a tombstone): no deletion.
    expect(isRemoteDeletion(0, pulled([remote('a', '1', 2), remote('c', '3', 4)], 4), known)).toBe(false)
    expect(isRemoteDeletion(0, pulled([remote('a', null, 5)], 5), known)).toBe(false)
  })

  it('keeps a dataset with unsynced changes by default, and follows the deletion otherwise', () => {
    expect(
      defaultRemoteDeletionChoice([local('a', '1', { dirty: false, syncCount: 2 }), local('b', '2')]),
    ).toBe('keep')
    expect(defaultRemoteDeletionChoice([local('a', '1', { dirty: false, syncCount: 2 })])).toBe('delete')
  })

  it('keep: re-creates every live record as new and drops tombstones', () => {
    const records = [
      local('a', '1', { dirty: false, syncCount: 2 }),
      local('b', '2', { syncCount: 3 }),
      local('c', null, { syncCount: 3 }),
    ]
    const plan = planRemoteDeletion(records, 'keep', pulled([], 0, { datasetExists: false }))
    expect(plan.records.map((r) => [r.key, r.value, r.syncCount, r.dirty])).toEqual([
      ['a', '1', 0, true],
      ['b', '2', 0, true],
    ])
    expect(plan.deleteKeys).toEqual(['c'])
    expect(plan).toMatchObject({ dropDataset: false, lastSyncCount: 0 })
  })

  it('delete: removes the local records, and the dataset too unless the server has a new incarnation', () => {
    const records = [local('a', '1', { dirty: false, syncCount: 2 })]
    expect(planRemoteDeletion(records, 'delete', pulled([], 0, { datasetExists: false }))).toEqual({
      records: [],
      deleteKeys: ['a'],
      dropDataset: true,
      lastSyncCount: 0,
    })
    const recreated = pulled([], 12, { datasetDeletedAfterRequestedSyncCount: true })
    expect(planRemoteDeletion(records, 'delete', recreated)).toMatchObject({
      dropDataset: false,
      lastSyncCount: 0,
    })
  })
})

describe('findMergedDatasets', () => {
  it('reports remote merged names and local NAME.OLDID datasets, sorted and without duplicates', () => {
    expect(
      findMergedDatasets(
        'settings',
        ['settings.us-east-1:aaa'],
        ['settings', 'settings.us-east-1:aaa', 'settings.us-east-1:bbb', 'settingsX', 'other.us-east-1:ccc'],
      ),
    ).toEqual(['settings.us-east-1:aaa', 'settings.us-east-1:bbb'])
    expect(findMergedDatasets('settings', [], ['settings'])).toEqual([])
  })
})
