import { describe, expect, it } from 'vitest'
import { mergedDatasetName, planIdentityChange, UNKNOWN_IDENTITY } from '../../src/core/index.js'
import { local } from './helpers/records.js'

describe('planIdentityChange', () => {
  const records = [local('a', '1', { dirty: false, syncCount: 3 }), local('b', null, { syncCount: 4 })]

  it('re-owns data kept before sign-in under its own name, untouched', () => {
    expect(planIdentityChange('settings', records, UNKNOWN_IDENTITY, new Set())).toEqual({
      name: 'settings',
      records,
      resetSync: false,
    })
  })

  it('takes the merged name when the identity already has a dataset of that name', () => {
    expect(planIdentityChange('settings', records, UNKNOWN_IDENTITY, new Set(['settings'])).name).toBe(
      'settings.unknown',
    )
  })

  it('keeps another identity’s data as NAME.OLDID, every live record new and dirty', () => {
    const plan = planIdentityChange('settings', records, 'us-east-1:old', new Set())
    expect(plan.name).toBe(mergedDatasetName('settings', 'us-east-1:old'))
    expect(plan.name).toBe('settings.us-east-1:old')
    expect(plan.resetSync).toBe(true)
    expect(plan.records.map((r) => [r.key, r.value, r.syncCount, r.dirty])).toEqual([['a', '1', 0, true]])
  })
})
