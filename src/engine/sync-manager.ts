import type { StorageAdapter } from '../contracts/storage.js'
import type { RemoteDataset, Transport } from '../contracts/transport.js'
import { type ConflictResolver, lastWriterWins } from '../core/conflict.js'
import { type Limits, resolveLimits } from '../core/limits.js'
import type { DatasetMeta, Platform } from '../core/model.js'
import { decidePushSync } from '../core/push-decision.js'
import { type PushSyncUpdate, parsePushPayload } from '../core/push-payload.js'
import { createDatasetMeta } from '../core/records.js'
import { validateDatasetName } from '../core/validate.js'
import { isSyncError, SyncError } from '../errors.js'
import { type Clock, systemClock } from './clock.js'
import { createDataset, type Dataset, type DatasetStatus } from './dataset.js'
import { SyncEventEmitter, type SyncEvents, type SyncResult } from './events.js'
import { transportError, validationError } from './failures.js'
import { SingleFlight } from './single-flight.js'
import { type SynchronizeOptions, synchronizeDataset } from './synchronize.js'

export interface SyncManagerOptions {
  readonly identityPoolId: string
  readonly identityId: string
  readonly storage: StorageAdapter
  readonly transport: Transport
  /** Decides conflicts when `synchronize` gets no `onConflict`. Default: last writer wins. */
  readonly conflictResolver?: ConflictResolver
  readonly clock?: Clock
  /** Cognito's limits unless changed (they must match the server's). */
  readonly limits?: Partial<Limits>
  /** Retries after a 409 before SYNC_RETRIES_EXHAUSTED. Default 3. */
  readonly maxRetries?: number
  readonly logger?: Pick<Console, 'warn'>
}

export interface SyncManager {
  readonly identityPoolId: string
  readonly identityId: string
  openOrCreateDataset(name: string): Promise<Dataset>
  /** The datasets stored on this device. */
  listDatasets(): Promise<DatasetMeta[]>
  /** The identity's datasets on the server; creates local entries for the ones this device lacks. */
  refreshDatasetMetadata(): Promise<RemoteDataset[]>
  /** Removes everything this device keeps for the identity, pending changes included. */
  wipeData(): Promise<void>
  registerDevice(platform: Platform, token: string): Promise<string>
  isDeviceRegistered(): Promise<boolean>
  /** Any platform's push payload as a PushSyncUpdate; throws PUSH_PAYLOAD_INVALID otherwise. */
  getPushSyncUpdate(payload: unknown): PushSyncUpdate
  /** Synchronizes the dataset a push names when it is newer than this device; resolves what it decided. */
  handlePushSyncUpdate(update: PushSyncUpdate): Promise<'sync' | 'coalesce' | 'ignore'>
  on<TName extends keyof SyncEvents>(name: TName, listener: (...args: SyncEvents[TName]) => void): () => void
  /** Waits for running syncs, then closes the storage. Later calls reject with ENGINE_CLOSED. */
  close(): Promise<void>
}

const DEFAULT_RETRIES = 3

export function createSyncManager(options: SyncManagerOptions): SyncManager {
  const { identityPoolId, identityId, storage, transport } = options
  const clock = options.clock ?? systemClock
  const limits = resolveLimits(options.limits)
  const events = new SyncEventEmitter()
  const flights = new SingleFlight<SyncResult>()
  const statuses = new Map<string, DatasetStatus>()
  const watchers = new Map<string, Set<(status: DatasetStatus) => void>>()
  let closed = false

  const assertOpen = () => {
    if (closed) throw new SyncError('ENGINE_CLOSED', 'the sync manager is closed')
  }
  const status = (name: string): DatasetStatus =>
    statuses.get(name) ?? { pendingChanges: 0, syncing: false, lastSyncedAt: 0, lastError: null }
  const setStatus = (name: string, changes: Partial<DatasetStatus>) => {
    const next = { ...status(name), ...changes }
    statuses.set(name, next)
    for (const listener of watchers.get(name) ?? []) {
      try {
        listener(next)
      } catch (error) {
        options.logger?.warn('[pushsync] a status listener threw', error)
      }
    }
  }
  const refreshPending = async (name: string) => {
    const dirty = await storage.read((tx) => tx.listRecords(identityId, name, { dirtyOnly: true }))
    setStatus(name, { pendingChanges: dirty.length })
  }
  const deviceId = async () => {
    const devices = await storage.read((tx) => tx.listDevices(identityId))
    return devices[0]?.deviceId
  }

  const synchronize = (name: string, syncOptions?: SynchronizeOptions): Promise<SyncResult> => {
    try {
      assertOpen()
    } catch (error) {
      return Promise.reject(error)
    }
    return flights.run(name, async () => {
      setStatus(name, { syncing: true })
      events.emit('syncStarted', { dataset: name })
      try {
        const result = await synchronizeDataset(
          {
            identityId,
            storage,
            transport,
            clock,
            limits,
            resolver: options.conflictResolver ?? lastWriterWins,
            events,
            maxRetries: options.maxRetries ?? DEFAULT_RETRIES,
            deviceId,
          },
          name,
          syncOptions,
        )
        setStatus(name, { syncing: false, lastSyncedAt: clock.now(), lastError: null })
        events.emit('syncSucceeded', { dataset: name, result })
        return result
      } catch (caught) {
        const error = isSyncError(caught)
          ? caught
          : new SyncError('STORAGE_UNAVAILABLE', 'synchronize failed unexpectedly', { cause: caught })
        setStatus(name, { syncing: false, lastError: error })
        events.emit('syncFailed', { dataset: name, error })
        throw error
      } finally {
        await refreshPending(name).catch(() => {})
      }
    })
  }

  const host = {
    identityId: () => identityId,
    storage,
    clock,
    limits,
    events,
    assertOpen,
    synchronize,
    status,
    watchStatus(name: string, listener: (status: DatasetStatus) => void) {
      const set = watchers.get(name) ?? new Set()
      set.add(listener)
      watchers.set(name, set)
      return () => void set.delete(listener)
    },
    refreshPending,
  }

  const ensureDataset = async (name: string) => {
    const now = clock.now()
    await storage.write(async (tx) => {
      if ((await tx.getDataset(identityId, name)) !== undefined) return
      const meta = createDatasetMeta(identityId, name, await tx.listDatasets(identityId), { now, limits })
      if (!meta.ok) throw validationError(meta.failure)
      await tx.putDataset(meta.value)
    })
  }

  return {
    identityPoolId,
    identityId,
    async openOrCreateDataset(name) {
      assertOpen()
      const valid = validateDatasetName(name, limits)
      if (!valid.ok) throw validationError(valid.failure)
      await ensureDataset(name)
      await refreshPending(name)
      return createDataset(host, name)
    },
    async listDatasets() {
      assertOpen()
      return storage.read((tx) => tx.listDatasets(identityId))
    },
    async refreshDatasetMetadata() {
      assertOpen()
      const result = await transport.listDatasets()
      if (!result.ok) throw transportError(result.failure, transport.name, 'listing datasets')
      for (const remote of result.value) await ensureDataset(remote.name)
      return result.value
    },
    async wipeData() {
      assertOpen()
      await storage.write(async (tx) => {
        for (const meta of await tx.listDatasets(identityId)) await tx.deleteDataset(identityId, meta.name)
        for (const device of await tx.listDevices(identityId))
          await tx.deleteDevice(identityId, device.platform)
      })
      statuses.clear()
    },
    async registerDevice(platform, token) {
      assertOpen()
      const known = await storage.read((tx) => tx.getDevice(identityId, platform))
      if (known !== undefined && known.token === token) return known.deviceId
      const result = await transport.registerDevice(platform, token)
      if (!result.ok) throw transportError(result.failure, transport.name, `registering a ${platform} device`)
      await storage.write((tx) => tx.putDevice({ identityId, platform, deviceId: result.value, token }))
      return result.value
    },
    async isDeviceRegistered() {
      assertOpen()
      return (await deviceId()) !== undefined
    },
    getPushSyncUpdate(payload) {
      const parsed = parsePushPayload(payload, limits)
      if (!parsed.ok) {
        throw new SyncError('PUSH_PAYLOAD_INVALID', parsed.failure.message, {
          details: {
            reason: parsed.failure.reason,
            ...(parsed.failure.field === undefined ? {} : { field: parsed.failure.field }),
          },
        })
      }
      return parsed.value
    },
    async handlePushSyncUpdate(update) {
      assertOpen()
      const meta = await storage.read((tx) => tx.getDataset(identityId, update.datasetName))
      const decision = decidePushSync(
        {
          identityPoolId,
          identityId,
          lastSyncCount: meta?.lastSyncCount ?? 0,
          syncing: flights.isRunning(update.datasetName),
        },
        update,
        limits,
      )
      if (decision.action === 'ignore') {
        events.emit('pushIgnored', { payload: update, reason: decision.reason, message: decision.message })
        return 'ignore'
      }
      events.emit('pushReceived', { update, decision })
      if (meta === undefined) await ensureDataset(update.datasetName)
      // A coalesced push joins the follow-up run the single flight already queues.
      synchronize(update.datasetName).catch(() => {})
      return decision.action
    },
    on(name, listener) {
      events.on(name, listener as never)
      return () => void events.off(name, listener as never)
    },
    async close() {
      if (closed) return
      closed = true
      await flights.idle()
      await storage.close()
    },
  }
}
