import type { DatasetMeta, PullResult, RemoteRecord, SyncRecord } from '../../../src/core/index.js'

export function local(key: string, value: string | null, overrides: Partial<SyncRecord> = {}): SyncRecord {
  return {
    key,
    value,
    syncCount: 0,
    lastModifiedDate: 0,
    lastModifiedBy: null,
    deviceLastModifiedDate: 0,
    dirty: true,
    ...overrides,
  }
}

export function remote(
  key: string,
  value: string | null,
  syncCount: number,
  overrides: Partial<RemoteRecord> = {},
) {
  const record: RemoteRecord = {
    key,
    value,
    syncCount,
    lastModifiedDate: 10_000 + syncCount,
    lastModifiedBy: 'other-device',
    deviceLastModifiedDate: null,
    ...overrides,
  }
  return record
}

export function pulled(
  records: RemoteRecord[],
  datasetSyncCount: number,
  overrides: Partial<PullResult> = {},
) {
  const result: PullResult = {
    records,
    datasetSyncCount,
    datasetExists: true,
    datasetDeletedAfterRequestedSyncCount: false,
    mergedDatasetNames: [],
    ...overrides,
  }
  return result
}

export const meta: DatasetMeta = {
  identityId: 'us-east-1:00000000-0000-0000-0000-000000000001',
  name: 'settings',
  lastSyncCount: 0,
  creationDate: 1,
  lastModifiedDate: 1,
  lastModifiedBy: null,
  lastSyncDate: 0,
}
