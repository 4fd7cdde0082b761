import type { SyncRecord } from './model.js'

/** Local owner of datasets created before the app had an identity (Android's `unknown`). */
export const UNKNOWN_IDENTITY = 'unknown'

/** The name a dataset of `oldIdentityId` takes once merged into another identity (Cognito's scheme). */
export function mergedDatasetName(name: string, oldIdentityId: string): string {
  return `${name}.${oldIdentityId}`
}

/**
 * What an identity change does to one local dataset of the old identity.
 *
 * - From no identity to one (`unknown` → known): the data was never synced, so it simply changes
 *   owner and keeps its name, unless the new identity already has a dataset of that name here, in
 *   which case it takes the merged name so neither is lost.
 * - From one identity to another: the old identity's data is not the new one's, so it is kept under
 *   the merged name `NAME.OLDID` and reported as merged, for the app to fold in. Its records become
 *   new (dirty, sync count 0, tombstones dropped) because the new identity's server has none of them.
 */
export function planIdentityChange(
  name: string,
  records: readonly SyncRecord[],
  from: string,
  takenNames: ReadonlySet<string>,
): { readonly name: string; readonly records: readonly SyncRecord[]; readonly resetSync: boolean } {
  if (from === UNKNOWN_IDENTITY) {
    return { name: takenNames.has(name) ? mergedDatasetName(name, from) : name, records, resetSync: false }
  }
  const live = records.filter((record) => record.value !== null)
  return {
    name: mergedDatasetName(name, from),
    records: live.map((record) => ({
      ...record,
      syncCount: 0,
      lastModifiedDate: 0,
      lastModifiedBy: null,
      dirty: true,
    })),
    resetSync: true,
  }
}
