/**
 * The data model shared by the core, the storage contract and the server.
 *
 * All times are epoch milliseconds. Transports convert from the wire's epoch seconds.
 */

/** One key/value record as a device keeps it. */
export interface SyncRecord {
  readonly key: string
  /** `null` is a tombstone: the record was removed and the removal must reach (or came from) the server. */
  readonly value: string | null
  /** The server's sync count this row is based on; 0 when the server has never had it. */
  readonly syncCount: number
  /** Server time of the last change the server accepted (0 when never synced). */
  readonly lastModifiedDate: number
  /** Who made that change, as the server reports it. */
  readonly lastModifiedBy: string | null
  /** Device clock of the last write, local or (for pulled records) the writer's. */
  readonly deviceLastModifiedDate: number
  /** The row holds a local change the server has not acknowledged. */
  readonly dirty: boolean
}

/** A record as the server returns it (ListRecords, UpdateRecords). */
export interface RemoteRecord {
  readonly key: string
  readonly value: string | null
  readonly syncCount: number
  readonly lastModifiedDate: number
  readonly lastModifiedBy: string | null
  /** The writer's device clock, when the writer sent one. */
  readonly deviceLastModifiedDate: number | null
}

/** `lastSyncCount` of a dataset deleted locally whose deletion has not reached the server yet. */
export const DELETE_PENDING = -1

/** Metadata of a local dataset, owned by one identity. */
export interface DatasetMeta {
  readonly identityId: string
  readonly name: string
  /**
   * The highest server sync count this device has fully applied; 0 when never synced and
   * {@link DELETE_PENDING} after a local delete that the next synchronize pushes.
   */
  readonly lastSyncCount: number
  readonly creationDate: number
  /** Last local or remote change to the dataset. */
  readonly lastModifiedDate: number
  readonly lastModifiedBy: string | null
  /** Last time a synchronize of this dataset succeeded; 0 when never. */
  readonly lastSyncDate: number
}

/** One patch of an UpdateRecords request. */
export interface RecordPatch {
  readonly op: 'replace' | 'remove'
  readonly key: string
  /** `null` for `remove`. */
  readonly value: string | null
  /** The server count the change is based on; 0 for a record the server has never had. */
  readonly syncCount: number
  readonly deviceLastModifiedDate: number
}

/** What a ListRecords pass (all pages) told the device. */
export interface PullResult {
  readonly records: readonly RemoteRecord[]
  readonly datasetSyncCount: number
  readonly datasetExists: boolean
  readonly datasetDeletedAfterRequestedSyncCount: boolean
  readonly mergedDatasetNames: readonly string[]
}

/** Push platforms a device can register for. `WEBPUSH` is ours; the others are Cognito's. */
export type Platform = 'APNS' | 'APNS_SANDBOX' | 'GCM' | 'ADM' | 'WEBPUSH'

/** Every {@link Platform}, for checking a platform that arrives as a string. */
export const PLATFORMS: readonly Platform[] = ['APNS', 'APNS_SANDBOX', 'GCM', 'ADM', 'WEBPUSH']

/** A device's push registration with the server, kept per identity and platform. */
export interface DeviceRegistration {
  readonly identityId: string
  readonly platform: Platform
  readonly deviceId: string
  /** The platform token the device id was issued for; a new token means registering again. */
  readonly token: string
}
