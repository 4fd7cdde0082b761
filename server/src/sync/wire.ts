import type { DatasetRow, RecordRow } from '../store/contract.js'

/** The wire's timestamps are epoch seconds, possibly fractional; the store keeps milliseconds. */
export function toEpochSeconds(ms: number): number {
  return ms / 1000
}

export function fromEpochSeconds(seconds: number): number {
  return Math.round(seconds * 1000)
}

export interface WireRecord {
  Key: string
  Value?: string
  SyncCount: number
  LastModifiedDate: number
  LastModifiedBy?: string
  DeviceLastModifiedDate?: number
}

/** A tombstone goes out without `Value`: every Cognito client reads a missing value as deleted. */
export function wireRecord(row: RecordRow): WireRecord {
  const record: WireRecord = {
    Key: row.key,
    SyncCount: row.syncCount,
    LastModifiedDate: toEpochSeconds(row.lastModifiedDate),
  }
  if (row.value !== null) record.Value = row.value
  if (row.lastModifiedBy !== null) record.LastModifiedBy = row.lastModifiedBy
  if (row.deviceLastModifiedDate !== null)
    record.DeviceLastModifiedDate = toEpochSeconds(row.deviceLastModifiedDate)
  return record
}

export interface WireDataset {
  IdentityId: string
  DatasetName: string
  CreationDate: number
  LastModifiedDate: number
  LastModifiedBy?: string
  DataStorage: number
  NumRecords: number
}

export function wireDataset(row: DatasetRow): WireDataset {
  const dataset: WireDataset = {
    IdentityId: row.identityId,
    DatasetName: row.name,
    CreationDate: toEpochSeconds(row.creationDate),
    LastModifiedDate: toEpochSeconds(row.lastModifiedDate),
    DataStorage: row.dataStorage,
    NumRecords: row.numRecords,
  }
  if (row.lastModifiedBy !== null) dataset.LastModifiedBy = row.lastModifiedBy
  return dataset
}
