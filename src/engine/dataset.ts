import type { StorageAdapter } from '../contracts/storage.js'
import type { Limits } from '../core/limits.js'
import type { SyncRecord } from '../core/model.js'
import {
  type DatasetUsage,
  type LocalChange,
  type LocalWriteState,
  planLocalDelete,
  planLocalWrite,
  validateChanges,
} from '../core/records.js'
import { validateKey } from '../core/validate.js'
import { SyncError } from '../errors.js'
import type { Clock } from './clock.js'
import type { SyncEventEmitter, SyncResult } from './events.js'
import { validationError } from './failures.js'
import { KEYS_READ_ONE_BY_ONE } from './local-rows.js'
import type { SynchronizeOptions } from './synchronize.js'

/** What a UI shows about a dataset. */
export interface DatasetStatus {
  /** Local changes the server has not acknowledged. */
  readonly pendingChanges: number
  readonly syncing: boolean
  /** Epoch ms of the last successful synchronize; 0 when never. */
  readonly lastSyncedAt: number
  readonly lastError: SyncError | null
}

/** One dataset of the manager's identity. Reads and writes are local; `synchronize()` talks to the server. */
export interface Dataset {
  readonly name: string
  get(key: string): Promise<string | undefined>
  /** Every live record, as a plain object (with a null prototype: keys are data). */
  getAll(): Promise<Record<string, string>>
  put(key: string, value: string): Promise<void>
  /** All or nothing. */
  putAll(values: Readonly<Record<string, string>>): Promise<void>
  remove(key: string): Promise<void>
  getLastSyncCount(): Promise<number>
  synchronize(options?: SynchronizeOptions): Promise<SyncResult>
  /** Synchronizes now when online, else as soon as the manager's connectivity source reports online. */
  synchronizeOnConnectivity(options?: SynchronizeOptions): Promise<SyncResult>
  /** Subscribes this device to the dataset's pushes; the dataset must exist on the server (sync first). */
  subscribe(): Promise<void>
  /** Unsubscribes; a dataset or device the server does not know is fine. */
  unsubscribe(): Promise<void>
  /** Deletes the dataset locally now and on the server at the next synchronize. */
  delete(): Promise<void>
  getStatus(): DatasetStatus
  /** Calls `listener` with each new status; returns the function that stops it. */
  onStatus(listener: (status: DatasetStatus) => void): () => void
}

export interface DatasetHost {
  readonly identityId: () => string
  readonly storage: StorageAdapter
  readonly clock: Clock
  readonly limits: Limits
  readonly events: SyncEventEmitter
  assertOpen(): void
  synchronize(name: string, options?: SynchronizeOptions): Promise<SyncResult>
  synchronizeOnConnectivity(name: string, options?: SynchronizeOptions): Promise<SyncResult>
  subscription(name: string, subscribed: boolean): Promise<void>
  status(name: string): DatasetStatus
  watchStatus(name: string, listener: (status: DatasetStatus) => void): () => void
  refreshPending(name: string): Promise<void>
  /** The dataset's usage as of the last local write, while no sync has changed it since. */
  knownUsage(name: string): DatasetUsage | undefined
  rememberUsage(name: string, usage: DatasetUsage): void
  forgetUsage(name: string): void
  /** Adds to the pending count a write made dirty. */
  addPending(name: string, newlyDirty: number): Promise<void>
}

function notAString(key: string, value: unknown): SyncError {
  return new SyncError(
    'INVALID_ARGUMENT',
    `the value of ${JSON.stringify(key)} must be a string; use remove() to delete`,
    {
      details: { field: 'value', rule: 'type', value },
    },
  )
}

export function createDataset(host: DatasetHost, name: string): Dataset {
  const write = async (changes: LocalChange[]) => {
    host.assertOpen()
    const valid = validateChanges(changes, host.limits)
    if (!valid.ok) throw validationError(valid.failure)
    const identityId = host.identityId()
    const now = host.clock.now()
    const keys = [...new Set(changes.map((change) => change.key))]
    const known = host.knownUsage(name)
    const written = await host.storage.write(async (tx) => {
      const meta = await tx.getDataset(identityId, name)
      if (meta === undefined) {
        throw new SyncError('DATASET_NOT_FOUND', `dataset "${name}" does not exist; open it first`)
      }
      // The quota check needs the dataset's usage: kept from the last write it costs a read per
      // touched key instead of a read of the whole dataset.
      let state: LocalWriteState | readonly SyncRecord[]
      if (known === undefined || keys.length > KEYS_READ_ONE_BY_ONE)
        state = await tx.listRecords(identityId, name)
      else {
        const rows: SyncRecord[] = []
        for (const key of keys) {
          const row = await tx.getRecord(identityId, name, key)
          if (row !== undefined) rows.push(row)
        }
        state = { rows, usage: known }
      }
      const plan = planLocalWrite(meta, state, changes, { now, limits: host.limits })
      if (!plan.ok) throw validationError(plan.failure)
      if (plan.value.records.length > 0) {
        await tx.putRecords(identityId, name, plan.value.records)
        await tx.putDataset(plan.value.meta)
      }
      return plan.value
    })
    host.rememberUsage(name, written.usage)
    if (written.records.length > 0) {
      const changedKeys = written.records.map((record) => record.key)
      host.events.emit('datasetChanged', { dataset: name, keys: changedKeys, source: 'local' })
      await host.addPending(name, written.newlyDirty)
    }
  }

  return {
    name,
    async get(key) {
      host.assertOpen()
      const valid = validateKey(key, host.limits)
      if (!valid.ok) throw validationError(valid.failure)
      const record = await host.storage.read((tx) => tx.getRecord(host.identityId(), name, key))
      return record?.value ?? undefined
    },
    async getAll() {
      host.assertOpen()
      const records = await host.storage.read((tx) => tx.listRecords(host.identityId(), name))
      const values: Record<string, string> = Object.create(null)
      for (const record of records) if (record.value !== null) values[record.key] = record.value
      return values
    },
    // `null` means removal inside the core; from put it is a mistake, so it is refused, not obeyed.
    put: (key, value) =>
      typeof value === 'string' ? write([{ key, value }]) : Promise.reject(notAString(key, value)),
    putAll: (values) => {
      if (typeof values !== 'object' || values === null) {
        return Promise.reject(new SyncError('INVALID_ARGUMENT', 'putAll takes an object of string values'))
      }
      const entries = Object.entries(values)
      const bad = entries.find(([, value]) => typeof value !== 'string')
      if (bad !== undefined) return Promise.reject(notAString(bad[0], bad[1]))
      return write(entries.map(([key, value]) => ({ key, value })))
    },
    remove: (key) => write([{ key, value: null }]),
    async getLastSyncCount() {
      host.assertOpen()
      const meta = await host.storage.read((tx) => tx.getDataset(host.identityId(), name))
      return meta?.lastSyncCount ?? 0
    },
    synchronize: (options) => host.synchronize(name, options),
    synchronizeOnConnectivity: (options) => host.synchronizeOnConnectivity(name, options),
    subscribe: () => host.subscription(name, true),
    unsubscribe: () => host.subscription(name, false),
    async delete() {
      host.assertOpen()
      const identityId = host.identityId()
      const now = host.clock.now()
      const keys = await host.storage.write(async (tx) => {
        const meta = await tx.getDataset(identityId, name)
        if (meta === undefined) return []
        const plan = planLocalDelete(meta, await tx.listRecords(identityId, name), now)
        await tx.deleteRecords(identityId, name, plan.deleteKeys)
        await tx.putDataset(plan.meta)
        return plan.deleteKeys
      })
      host.forgetUsage(name)
      host.events.emit('datasetChanged', { dataset: name, keys, source: 'local' })
      await host.refreshPending(name)
    },
    getStatus: () => host.status(name),
    onStatus: (listener) => host.watchStatus(name, listener),
  }
}
