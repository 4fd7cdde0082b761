import type { PushSource } from '../contracts/push-source.js'
import type { StorageAdapter } from '../contracts/storage.js'
import type { TabCoordinator } from '../contracts/tab-coordinator.js'
import type { RemoteDataset, Transport } from '../contracts/transport.js'
import { type ConflictResolver, lastWriterWins } from '../core/conflict.js'
import { planIdentityChange, UNKNOWN_IDENTITY } from '../core/identity.js'
import { type Limits, resolveLimits } from '../core/limits.js'
import { type DatasetMeta, DELETE_PENDING, type Platform } from '../core/model.js'
import { decidePushSync, pushedChangesToApply } from '../core/push-decision.js'
import { type PushedChanges, type PushSyncUpdate, parsePushPayload } from '../core/push-payload.js'
import { createDatasetMeta, type DatasetUsage } from '../core/records.js'
import { validateDatasetName, validateIdentityId } from '../core/validate.js'
import { SyncError } from '../errors.js'
import { type Clock, systemClock } from './clock.js'
import { createDataset, type Dataset, type DatasetStatus } from './dataset.js'
import { SyncEventEmitter, type SyncEvents, type SyncResult } from './events.js'
import { syncFailure, transportError, validationError } from './failures.js'
import { createPushSources } from './push-sources.js'
import { SingleFlight } from './single-flight.js'
import { applyPushedChanges, type SynchronizeOptions, synchronizeDataset } from './synchronize.js'
import { createTabLink, type TabLink } from './tabs.js'

/** Tells the engine when the device goes on- and offline (`navigator.onLine`, NetInfo...). */
export interface ConnectivitySource {
  isOnline(): boolean
  /** Calls `listener` on every change; returns the function that stops it. */
  subscribe(listener: (online: boolean) => void): () => void
}

export interface SyncManagerOptions {
  readonly identityPoolId: string
  /**
   * Whose datasets these are. Without one (before sign-in) the data is kept locally under
   * `unknown` and cannot sync until `changeIdentity`.
   */
  readonly identityId?: string
  readonly storage: StorageAdapter
  /** Bound to `identityId`; required to synchronize. */
  readonly transport?: Transport
  /** Synchronizes datasets with pending changes when the device comes back online. */
  readonly connectivity?: ConnectivitySource
  /**
   * Also synchronizes every local dataset this often (ms). Pushes are the main signal; this is a
   * fallback for platforms where they are unreliable. Off by default.
   */
  readonly syncIntervalMs?: number
  /** Decides conflicts when `synchronize` gets no `onConflict`. Default: last writer wins. */
  readonly conflictResolver?: ConflictResolver
  readonly clock?: Clock
  /** Cognito's limits unless changed (they must match the server's). */
  readonly limits?: Partial<Limits>
  /** Retries after a 409 before SYNC_RETRIES_EXHAUSTED. Default 3. */
  readonly maxRetries?: number
  readonly logger?: Pick<Console, 'warn'>
  /**
   * Tabs of one app sharing this storage (`pushsync/tabs/web-locks`): one leads and talks to the
   * network (syncs, push sources, connectivity and interval syncs); the others read and write
   * locally, hand their syncs to the leader and see every tab's changes at once. Give every tab
   * the same `conflictResolver`: conflicts are decided in the leading tab, and `onConflict`-style
   * callbacks passed to a follower's `synchronize` are not called.
   */
  readonly tabs?: TabCoordinator
}

export interface SyncManager {
  readonly identityPoolId: string
  /** The current identity; `unknown` before sign-in. */
  readonly identityId: string
  /**
   * Moves the local data to a new identity (spec §7.2): data kept before sign-in changes owner;
   * another identity's datasets are kept as `NAME.OLDID` and reported as merged at the next sync.
   * Waits for running syncs first.
   */
  changeIdentity(identityId: string, transport: Transport): Promise<void>
  openOrCreateDataset(name: string): Promise<Dataset>
  /** The datasets stored on this device. */
  listDatasets(): Promise<DatasetMeta[]>
  /** The identity's datasets on the server; creates local entries for the ones this device lacks. */
  refreshDatasetMetadata(): Promise<RemoteDataset[]>
  /** Removes everything this device keeps for the identity, pending changes included. */
  wipeData(): Promise<void>
  /**
   * Registers this device's push token with the server and keeps the device id per identity and
   * platform; registering the same token again asks nothing of the server, a new token registers again.
   */
  registerDevice(platform: Platform, token: string): Promise<string>
  isDeviceRegistered(platform?: Platform): Promise<boolean>
  /** Forgets the local registration (the server keeps the device until its token is reported gone). */
  unregisterDevice(platform?: Platform): Promise<void>
  /** Subscribes this device to pushes of every local dataset (each must exist on the server). */
  subscribeAll(): Promise<void>
  /** Unsubscribes every local dataset; datasets or devices the server does not know are fine. */
  unsubscribeAll(): Promise<void>
  /** Any platform's push payload as a PushSyncUpdate; throws PUSH_PAYLOAD_INVALID otherwise. */
  getPushSyncUpdate(payload: unknown): PushSyncUpdate
  /** Synchronizes the dataset a push names when it is newer than this device; resolves what it decided. */
  handlePushSyncUpdate(update: PushSyncUpdate): Promise<'sync' | 'coalesce' | 'ignore'>
  /**
   * Starts a push source (`pushsync/push/sse`, or any {@link PushSource}) and handles what it relays:
   * each payload is parsed (a refused one emits `pushIgnored`) and handed to `handlePushSyncUpdate`;
   * the source's own failures emit `pushSourceError`. Returns the function that stops the source;
   * `close()` stops every source still running.
   */
  addPushSource(source: PushSource): () => void
  on<TName extends keyof SyncEvents>(name: TName, listener: (...args: SyncEvents[TName]) => void): () => void
  /** Whether this tab talks to the network: always, without `tabs`; else while it leads. */
  readonly isLeader: boolean
  /** Waits for running syncs, then closes the storage. Later calls reject with ENGINE_CLOSED. */
  close(): Promise<void>
}

const DEFAULT_RETRIES = 3

export function createSyncManager(options: SyncManagerOptions): SyncManager {
  const { identityPoolId, storage } = options
  let identityId = options.identityId ?? UNKNOWN_IDENTITY
  let transport = options.transport
  const clock = options.clock ?? systemClock
  const limits = resolveLimits(options.limits)
  const events = new SyncEventEmitter()
  const flights = new SingleFlight<SyncResult>()
  const statuses = new Map<string, DatasetStatus>()
  // Usage kept between local writes; a sync changes records behind it, so it is dropped then.
  const usages = new Map<string, DatasetUsage>()
  const watchers = new Map<string, Set<(status: DatasetStatus) => void>>()
  let closed = false
  /** Set when the manager runs in one of several tabs; see SyncManagerOptions.tabs. */
  let tabs: TabLink | undefined
  const leads = () => tabs === undefined || tabs.leader

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
  /** The device id of this device's push registration, if any; also kept for push sources. */
  let knownRegisteredId: string | undefined
  const deviceId = async () => {
    const devices = await storage.read((tx) => tx.listDevices(identityId))
    knownRegisteredId = devices[0]?.deviceId
    return knownRegisteredId
  }
  // A device without a registration still needs an id once it listens to a push source: the server
  // leaves out of a connection's stream the changes written with that connection's DeviceId, so
  // UpdateRecords must carry the same id or this manager is pushed its own writes. Made on first
  // use: `crypto.randomUUID` is missing on some runtimes (React Native without a polyfill), and an
  // app that never adds a push source must not depend on it, nor send a DeviceId it never had.
  let localDeviceId: string | undefined
  const pushDeviceId = () => {
    if (knownRegisteredId !== undefined) return knownRegisteredId
    localDeviceId ??= randomDeviceId()
    return localDeviceId
  }
  const updateDeviceId = async () => {
    const registered = await deviceId()
    return registered ?? localDeviceId
  }

  const requireTransport = (): Transport => {
    if (transport === undefined || identityId === UNKNOWN_IDENTITY) {
      throw new SyncError(
        'TRANSPORT_AUTH',
        'no identity yet: call changeIdentity after sign-in to synchronize',
      )
    }
    return transport
  }

  /**
   * Synchronizes `name` in this tab's single flight (or the leading tab's). `pushed`: changes a push
   * carried, applied in place of the sync when they follow this device's state; only taken when
   * this call starts the flight, since a queued follow-up is shared by later callers, whose pushes
   * may name newer counts that only a full sync brings.
   */
  const synchronize = (
    name: string,
    syncOptions?: SynchronizeOptions,
    pushed?: PushedChanges,
  ): Promise<SyncResult> => {
    let current: Transport
    try {
      assertOpen()
      current = requireTransport()
    } catch (error) {
      return Promise.reject(error)
    }
    const inline = flights.isRunning(name) ? undefined : pushed
    return flights.run(name, async () => {
      let ranHere = false
      usages.delete(name)
      setStatus(name, { syncing: true })
      events.emit('syncStarted', { dataset: name })
      try {
        const fromLeader = tabs === undefined ? 'lead' : await tabs.requestSync(name)
        ranHere = fromLeader === 'lead'
        if (!ranHere) warnOfUnusedCallbacks(syncOptions)
        const result = fromLeader === 'lead' ? await syncHere(name, current, syncOptions, inline) : fromLeader
        setStatus(name, { syncing: false, lastSyncedAt: clock.now(), lastError: null })
        events.emit('syncSucceeded', { dataset: name, result })
        return result
      } catch (caught) {
        const error = syncFailure(caught)
        setStatus(name, { syncing: false, lastError: error })
        events.emit('syncFailed', { dataset: name, error })
        throw error
      } finally {
        usages.delete(name)
        await refreshPending(name).catch(() => {})
        if (ranHere) tabs?.announceSettled(name)
      }
    })
  }

  /** The sync itself, in this tab: the pushed changes when they apply, else a full synchronize. */
  const syncHere = async (
    name: string,
    current: Transport,
    syncOptions: SynchronizeOptions | undefined,
    pushed: PushedChanges | undefined,
  ): Promise<SyncResult> => {
    const applied =
      pushed === undefined
        ? undefined
        : await applyPushedChanges({ identityId, storage, clock, events }, name, pushed)
    return (
      applied ??
      synchronizeDataset(
        {
          identityId,
          storage,
          transport: current,
          clock,
          limits,
          resolver: options.conflictResolver ?? lastWriterWins,
          events,
          maxRetries: options.maxRetries ?? DEFAULT_RETRIES,
          deviceId: updateDeviceId,
        },
        name,
        syncOptions,
      )
    )
  }

  const warnOfUnusedCallbacks = (syncOptions: SynchronizeOptions | undefined) => {
    if (syncOptions === undefined || !Object.values(syncOptions).some((value) => typeof value === 'function'))
      return
    options.logger?.warn(
      '[pushsync] this tab follows: the leading tab synchronized and its conflictResolver decided; the callbacks given to synchronize were not called',
    )
  }

  const synchronizeOnConnectivity = (name: string, syncOptions?: SynchronizeOptions): Promise<SyncResult> => {
    const connectivity = options.connectivity
    if (connectivity === undefined || connectivity.isOnline()) return synchronize(name, syncOptions)
    return new Promise((resolve, reject) => {
      const stop = connectivity.subscribe((online) => {
        if (!online) return
        stop()
        synchronize(name, syncOptions).then(resolve, reject)
      })
    })
  }

  /** Subscribes or unsubscribes this device; unsubscribing what the server does not know is fine. */
  const subscription = async (name: string, subscribed: boolean) => {
    assertOpen()
    const current = requireTransport()
    const device = await deviceId()
    if (device === undefined) {
      if (!subscribed) return
      throw new SyncError('DEVICE_NOT_REGISTERED', 'register the device (registerDevice) before subscribing')
    }
    const result = subscribed
      ? await current.subscribe(name, device)
      : await current.unsubscribe(name, device)
    if (result.ok || (!subscribed && result.failure.kind === 'notFound')) return
    throw transportError(
      result.failure,
      current.name,
      `${subscribed ? 'subscribing to' : 'unsubscribing from'} dataset "${name}"`,
    )
  }

  const host = {
    identityId: () => identityId,
    subscription,
    synchronizeOnConnectivity,
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
    knownUsage: (name: string) => (flights.isRunning(name) ? undefined : usages.get(name)),
    rememberUsage(name: string, usage: DatasetUsage) {
      // Other tabs write the same database behind this cache: with tabs, every write reads anew.
      if (flights.isRunning(name) || tabs !== undefined) usages.delete(name)
      else usages.set(name, usage)
    },
    forgetUsage: (name: string) => void usages.delete(name),
    async addPending(name: string, newlyDirty: number) {
      const known = statuses.get(name)
      if (known === undefined || flights.isRunning(name)) await refreshPending(name)
      else if (newlyDirty !== 0) setStatus(name, { pendingChanges: known.pendingChanges + newlyDirty })
    },
  }

  const ensureDataset = async (name: string) => {
    const now = clock.now()
    await storage.write(async (tx) => {
      if ((await tx.getDataset(identityId, name)) !== undefined) return
      const valid = validateDatasetName(name, limits)
      if (!valid.ok) throw validationError(valid.failure)
      const meta = createDatasetMeta(identityId, name, await tx.listDatasets(identityId), { now, limits })
      if (!meta.ok) throw validationError(meta.failure)
      await tx.putDataset(meta.value)
    })
  }

  const syncPending = async () => {
    if (closed || !leads() || transport === undefined || identityId === UNKNOWN_IDENTITY) return
    const datasets = await storage.read((tx) => tx.listDatasets(identityId))
    for (const meta of datasets) {
      const dirty = await storage.read((tx) => tx.listRecords(identityId, meta.name, { dirtyOnly: true }))
      if (dirty.length > 0 || meta.lastSyncCount === DELETE_PENDING) {
        synchronize(meta.name).catch((error: unknown) =>
          options.logger?.warn('[pushsync] background sync failed', error),
        )
      }
    }
  }
  const stopConnectivity = options.connectivity?.subscribe((online) => {
    if (online) syncPending().catch(() => {})
  })
  const interval =
    options.syncIntervalMs === undefined
      ? undefined
      : setInterval(() => {
          if (options.connectivity?.isOnline() === false) return
          syncAll().catch(() => {})
        }, options.syncIntervalMs)
  // A timer must not keep a Node process alive on its own.
  ;(interval as { unref?: () => void } | undefined)?.unref?.()
  const syncAll = async () => {
    if (closed || !leads() || transport === undefined || identityId === UNKNOWN_IDENTITY) return
    for (const meta of await storage.read((tx) => tx.listDatasets(identityId))) {
      synchronize(meta.name).catch((error: unknown) =>
        options.logger?.warn('[pushsync] background sync failed', error),
      )
    }
  }

  const handlePushSyncUpdate = async (update: PushSyncUpdate): Promise<'sync' | 'coalesce' | 'ignore'> => {
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
    // A change the push carried spares the pull when it follows this device's state directly.
    const pushed =
      meta === undefined || decision.action !== 'sync'
        ? undefined
        : pushedChangesToApply(
            {
              lastSyncCount: meta.lastSyncCount,
              hasLocalChanges: status(update.datasetName).pendingChanges > 0,
            },
            update,
          )
    // A coalesced push joins the follow-up run the single flight already queues.
    synchronize(update.datasetName, undefined, pushed).catch(() => {})
    return decision.action
  }

  const pushSources = createPushSources({
    limits,
    events,
    logger: options.logger,
    isClosed: () => closed,
    leads,
    deviceId: pushDeviceId,
    readRegistration: deviceId,
    handle: handlePushSyncUpdate,
  })

  if (options.tabs !== undefined) {
    // Events this tab re-emits for another tab's change must not be announced back.
    let relaying = false
    const relay = (emit: () => void) => {
      relaying = true
      try {
        emit()
      } finally {
        relaying = false
      }
    }
    const link = createTabLink(options.tabs, {
      identityId: () => identityId,
      synchronize: (name) => synchronize(name),
      changedElsewhere(event) {
        usages.delete(event.dataset)
        refreshPending(event.dataset).catch(() => {})
        relay(() => events.emit('datasetChanged', event))
      },
      conflictElsewhere: (event) => relay(() => events.emit('conflict', event)),
      settledElsewhere(dataset) {
        usages.delete(dataset)
        refreshPending(dataset).catch(() => {})
      },
      leadershipChanged(leader) {
        pushSources.leadershipChanged(leader)
        // Changes the other tabs made while no tab led (or this one's, before it led) go out now.
        if (leader) syncPending().catch(() => {})
      },
      warn: (message, error) => options.logger?.warn(message, error),
    })
    tabs = link
    events.on('datasetChanged', (event) => {
      if (!relaying) link.announceChange(event)
    })
    events.on('conflict', (event) => {
      if (!relaying) link.announceConflict(event)
    })
  }

  return {
    identityPoolId,
    get identityId() {
      return identityId
    },
    get isLeader() {
      return leads()
    },
    async changeIdentity(newIdentityId, newTransport) {
      assertOpen()
      const valid = validateIdentityId(newIdentityId)
      if (!valid.ok) throw validationError(valid.failure)
      if (newTransport.identityId !== newIdentityId) {
        throw new SyncError('INVALID_ARGUMENT', 'the transport must be bound to the new identity')
      }
      await flights.idle()
      const from = identityId
      if (from !== newIdentityId) {
        await storage.write(async (tx) => {
          const taken = new Set((await tx.listDatasets(newIdentityId)).map((meta) => meta.name))
          for (const meta of await tx.listDatasets(from)) {
            const records = await tx.listRecords(from, meta.name)
            const plan = planIdentityChange(meta.name, records, from, taken)
            taken.add(plan.name)
            await tx.putDataset({
              ...meta,
              identityId: newIdentityId,
              name: plan.name,
              ...(plan.resetSync ? { lastSyncCount: 0, lastSyncDate: 0 } : {}),
            })
            await tx.putRecords(newIdentityId, plan.name, plan.records)
            await tx.deleteDataset(from, meta.name)
          }
          for (const device of await tx.listDevices(from)) await tx.deleteDevice(from, device.platform)
        })
      }
      identityId = newIdentityId
      transport = newTransport
      statuses.clear()
      usages.clear()
      await deviceId()
    },
    async openOrCreateDataset(name) {
      assertOpen()
      // Names are checked when a dataset is created: a merged `NAME.OLDID` may be longer than a new
      // name may be, and must still open.
      if (typeof name !== 'string') throw new SyncError('INVALID_ARGUMENT', 'dataset name must be a string')
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
      const current = requireTransport()
      const result = await current.listDatasets()
      if (!result.ok) throw transportError(result.failure, current.name, 'listing datasets')
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
      usages.clear()
      await deviceId()
    },
    async registerDevice(platform, token) {
      assertOpen()
      const known = await storage.read((tx) => tx.getDevice(identityId, platform))
      if (known !== undefined && known.token === token) return known.deviceId
      const current = requireTransport()
      const result = await current.registerDevice(platform, token)
      if (!result.ok) throw transportError(result.failure, current.name, `registering a ${platform} device`)
      await storage.write((tx) => tx.putDevice({ identityId, platform, deviceId: result.value, token }))
      await deviceId()
      return result.value
    },
    async isDeviceRegistered(platform) {
      assertOpen()
      if (platform === undefined) return (await deviceId()) !== undefined
      return (await storage.read((tx) => tx.getDevice(identityId, platform))) !== undefined
    },
    async unregisterDevice(platform) {
      assertOpen()
      await storage.write(async (tx) => {
        for (const device of await tx.listDevices(identityId)) {
          if (platform === undefined || device.platform === platform)
            await tx.deleteDevice(identityId, device.platform)
        }
      })
      await deviceId()
    },
    async subscribeAll() {
      assertOpen()
      for (const meta of await storage.read((tx) => tx.listDatasets(identityId)))
        await subscription(meta.name, true)
    },
    async unsubscribeAll() {
      assertOpen()
      for (const meta of await storage.read((tx) => tx.listDatasets(identityId)))
        await subscription(meta.name, false)
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
    handlePushSyncUpdate,
    addPushSource(source) {
      assertOpen()
      return pushSources.add(source)
    },
    on(name, listener) {
      events.on(name, listener as never)
      return () => void events.off(name, listener as never)
    },
    async close() {
      if (closed) return
      closed = true
      // Leaving first lets another tab take the lead while this one winds down.
      tabs?.stop()
      pushSources.stopAll()
      stopConnectivity?.()
      if (interval !== undefined) clearInterval(interval)
      await flights.idle()
      await storage.close()
    },
  }
}

/** A random device id; `crypto.randomUUID` where the runtime has it. */
function randomDeviceId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID()
  // Only uniqueness matters here (it tells this manager's writes apart), not unpredictability.
  let id = ''
  for (let i = 0; i < 32; i++) id += Math.floor(Math.random() * 16).toString(16)
  return id
}
