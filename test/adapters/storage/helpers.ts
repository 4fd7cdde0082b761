import type { SyncRecord } from '../../../src/core/model.js'

/** A record with everything but key, value and dirty at its zero value. */
export function record(key: string, value: string | null, dirty = true): SyncRecord {
  return {
    key,
    value,
    syncCount: 0,
    lastModifiedDate: 0,
    lastModifiedBy: null,
    deviceLastModifiedDate: 0,
    dirty,
  }
}

/** The error a promise rejects with; a promise that resolves fails the test. */
export const caught = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )
