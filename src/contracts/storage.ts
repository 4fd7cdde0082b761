import type { DatasetMeta, DeviceRegistration, Platform, SyncRecord } from '../core/model.js'

/**
 * The storage port. A device keeps datasets, their records and its push registrations here.
 *
 * Transactions are callback-scoped so nobody can forget to commit: `write(fn)` applies everything
 * `fn` did when its promise resolves, and nothing when it rejects. Transactions on one adapter are
 * serialised: a second `write` starts after the first has settled. A callback awaits only the
 * transaction's own methods, never the network or a timer: IndexedDB ends a transaction that waits
 * on anything else.
 *
 * Keys are data: `__proto__`, `constructor` or `''`-looking Unicode keys round-trip like any other.
 * Returned objects are copies; changing them changes nothing stored.
 */
export interface StorageAdapter {
  /** `'storage:<impl>'`, used in error messages. */
  readonly name: string
  /** Runs `fn` in a read-only transaction and resolves with what it returned. */
  read<T>(fn: (tx: StorageReadTx) => Promise<T>): Promise<T>
  /** Runs `fn` in a transaction that applies everything it wrote when it resolves, nothing when it rejects. */
  write<T>(fn: (tx: StorageWriteTx) => Promise<T>): Promise<T>
  /** Releases the medium. Later calls reject with `STORAGE_CLOSED`. */
  close(): Promise<void>
}

/** Which records `listRecords` returns. */
export interface ListRecordsOptions {
  /** Only the records with local changes the server has not acknowledged. */
  readonly dirtyOnly?: boolean
}

/** What a read transaction can do; a write transaction can do it too. */
export interface StorageReadTx {
  /** The dataset's metadata, or undefined when this device has no such dataset. */
  getDataset(identityId: string, name: string): Promise<DatasetMeta | undefined>
  /** The identity's datasets, ordered by name. */
  listDatasets(identityId: string): Promise<DatasetMeta[]>
  /** The record of `key` (a tombstone included), or undefined. */
  getRecord(identityId: string, dataset: string, key: string): Promise<SyncRecord | undefined>
  /** The dataset's records including tombstones, ordered by key (UTF-16 code unit order). */
  listRecords(identityId: string, dataset: string, options?: ListRecordsOptions): Promise<SyncRecord[]>
  /** The identity's push registration on `platform`, or undefined. */
  getDevice(identityId: string, platform: Platform): Promise<DeviceRegistration | undefined>
  /** The identity's registrations, ordered by platform. */
  listDevices(identityId: string): Promise<DeviceRegistration[]>
}

/** What a write transaction can do: everything a read can, and change what is stored. */
export interface StorageWriteTx extends StorageReadTx {
  /** Creates or replaces the dataset's metadata (identified by `meta.identityId` and `meta.name`). */
  putDataset(meta: DatasetMeta): Promise<void>
  /** Removes the dataset's metadata and all of its records. Absent datasets are fine. */
  deleteDataset(identityId: string, name: string): Promise<void>
  /** Creates or replaces records of a dataset. Tombstones (`value: null`) are records too. */
  putRecords(identityId: string, dataset: string, records: readonly SyncRecord[]): Promise<void>
  /** Removes rows outright (not tombstoning them). Absent keys are fine. */
  deleteRecords(identityId: string, dataset: string, keys: readonly string[]): Promise<void>
  /** Creates or replaces the identity's registration on the registration's platform. */
  putDevice(registration: DeviceRegistration): Promise<void>
  /** Forgets the identity's registration on `platform`. Absent ones are fine. */
  deleteDevice(identityId: string, platform: Platform): Promise<void>
}
