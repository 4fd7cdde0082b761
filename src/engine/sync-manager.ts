import type { PushSource } from '../contracts/push-source.js'
import type { StorageAdapter } from '../contracts/storage.js'
import type { TabCoordinator } from '../contracts/tab-coordinator.js'
import type { RemoteDataset, Transport } from '../contracts/transport.js'
import { type Limits, resolveLimits } from '../core/limits.js'
import type { DatasetMeta, Platform } from '../core/model.js'
import type { PushSyncUpdate } from '../core/push-payload.js'
import { validateIdentityId } from '../core/validate.js'
import { SyncError, syncErrorFromFailure } from '../errors.js'
import { BackgroundWork, type ConnectivitySource } from './background.js'
import { type Clock, systemClock } from './clock.js'
import type { EngineContext, SyncHandlers } from './context.js'
import { createDataset, type Dataset } from './dataset.js'
import { DatasetCache } from './dataset-state.js'
import { DatasetView } from './dataset-view.js'
import { DeviceIds } from './device-id.js'
import { SyncEventEmitter, type SyncEvents } from './events.js'
import { transportError } from './failures.js'
import { moveLocalData, wipeLocalData } from './local-data.js'
import { countPending, ensureDataset } from './local-writes.js'
import { PushIntake, type PushOutcome } from './push-intake.js'
import { type PushSourceStatus, PushSources } from './push-sources.js'
import { Session } from './session.js'
import {
  type InferInput,
  type InferOutput,
  isStandardSchema,
  type StandardSchemaV1,
} from './standard-schema.js'
import { setSubscription } from './subscriptions.js'
import { SyncRunner } from './sync-runner.js'
import { createTabLink } from './tabs.js'
import { createTypedDataset, type TypedDataset } from './typed-dataset.js'

export type { ConnectivitySource } from './background.js'

/** What `createSyncManager` takes: whose data, where it is kept, how it reaches the server. */
export interface SyncManagerOptions extends SyncHandlers {
  /** The Cognito identity pool, `REGION:GUID`. */
  readonly identityPoolId: string
  /**
   * Whose datasets these are. Without one (before sign-in) the data is kept locally under
   * `unknown` and cannot sync until `changeIdentity`.
   */
  readonly identityId?: string
  /** Where this device keeps the datasets (`pushsync/storage/indexeddb`, `/sqlite`, `/memory`). */
  readonly storage: StorageAdapter
  /** Bound to `identityId`; required to synchronize. */
  readonly transport?: Transport
  /** Pauses background syncs while offline, and synchronizes pending changes when it is back. */
  readonly connectivity?: ConnectivitySource
  /**
   * Also synchronizes every local dataset this often (ms). Pushes are the main signal; this is a
   * fallback for platforms where they are unreliable. Off by default.
   */
  readonly syncIntervalMs?: number
  /**
   * Synchronizes local writes by itself: a burst of writes within `delayMs` (default 20) goes out in
   * one background sync shortly after the last of them, while the device is online. `synchronize()`
   * still works as before. Off by default.
   */
  readonly writeThrough?: boolean | { readonly delayMs?: number }
  /**
   * Background syncs (and subscriptions of `subscribeAll`) running at once. Default 4: a browser
   * opens at most 6 HTTP/1.1 connections to one origin, and the push stream and the app's own
   * syncs need theirs.
   */
  readonly backgroundConcurrency?: number
  /** The time of record dates; the system clock by default (tests pass their own). */
  readonly clock?: Clock
  /** Cognito's limits unless changed (they must match the server's). */
  readonly limits?: Partial<Limits>
  /** Retries after a 409 before SYNC_RETRIES_EXHAUSTED. Default 3. */
  readonly maxRetries?: number
  /** Receives warnings: a listener that threw, a background sync that failed. */
  readonly logger?: Pick<Console, 'warn'>
  /**
   * Tabs of one app sharing this storage (`pushsync/tabs/web-locks`): one leads and talks to the
   * network (syncs, push sources, connectivity and interval syncs); the others read and write
   * locally, hand their syncs to the leader and see every tab's changes at once. Give every tab
   * the same handlers: the leading tab's decide, and callbacks passed to a follower's
   * `synchronize` are not called.
   */
  readonly tabs?: TabCoordinator
}

/** What the manager is doing, for a UI or a health check. */
export interface SyncManagerStatus {
  /** Each started push source: `connecting`, `live` or `offline`. */
  readonly pushSources: readonly PushSourceStatus[]
  /** Background syncs running and waiting, and whether the queue waits (offline, or told to slow down). */
  readonly background: { readonly running: number; readonly waiting: number; readonly paused: boolean }
}

/**
 * One device's view of an identity's datasets: opens them, runs their syncs (the app's own, and
 * those that pushes, connectivity, the interval and other tabs call for), and reports what happens
 * through events and statuses. Made by {@link createSyncManager}.
 */
export interface SyncManager {
  readonly identityPoolId: string
  /** The current identity; `unknown` before sign-in. */
  readonly identityId: string
  /**
   * Moves the local data to a new identity (spec §7.2): data kept before sign-in changes owner;
   * another identity's datasets are kept as `NAME.OLDID` and reported as merged at the next sync.
   * Cancels the syncs under way first (they reject with SYNC_CANCELLED).
   */
  changeIdentity(identityId: string, transport: Transport): Promise<void>
  /** Opens the dataset, creating it locally when this device has none of that name. */
  openOrCreateDataset(name: string): Promise<Dataset>
  /**
   * Opens the dataset with typed values: JSON checked by `schema` (any Standard Schema: zod,
   * valibot, arktype...), strings on the device and the wire.
   */
  openOrCreateDataset<TSchema extends StandardSchemaV1>(
    name: string,
    options: { readonly schema: TSchema },
  ): Promise<TypedDataset<InferInput<TSchema>, InferOutput<TSchema>>>
  /** The datasets stored on this device. */
  listDatasets(): Promise<DatasetMeta[]>
  /** The identity's datasets on the server; creates local entries for the ones this device lacks. */
  refreshDatasetMetadata(): Promise<RemoteDataset[]>
  /**
   * Removes everything this device keeps for the identity, pending changes included. Syncs under
   * way are cancelled first (they reject with SYNC_CANCELLED) and write nothing more.
   */
  wipeData(): Promise<void>
  /**
   * Registers this device's push token with the server and keeps the device id per identity and
   * platform; registering the same token again asks nothing of the server, a new token registers again.
   */
  registerDevice(platform: Platform, token: string): Promise<string>
  /** Whether this device registered for pushes on `platform` (on any platform without one). */
  isDeviceRegistered(platform?: Platform): Promise<boolean>
  /** Forgets the local registration (the server keeps the device until its token is reported gone). */
  unregisterDevice(platform?: Platform): Promise<void>
  /** Subscribes this device to pushes of every local dataset (each must exist on the server). */
  subscribeAll(): Promise<void>
  /** Unsubscribes every local dataset; datasets or devices the server does not know are fine. */
  unsubscribeAll(): Promise<void>
  /** Any platform's push payload as a PushSyncUpdate; throws PUSH_PAYLOAD_INVALID otherwise. */
  getPushSyncUpdate(payload: unknown): PushSyncUpdate
  /**
   * Decides what a push means for this device and queues the sync it calls for; resolves what it
   * decided (`ignore` with a `pushIgnored` event saying why).
   */
  handlePushSyncUpdate(update: PushSyncUpdate): Promise<PushOutcome>
  /**
   * Starts a push source (`pushsync/push/sse`, or any {@link PushSource}) and handles what it relays:
   * each payload is parsed (a refused one emits `pushIgnored`) and handed to `handlePushSyncUpdate`;
   * the source's own failures emit `pushSourceError`. Returns the function that stops the source;
   * `close()` stops every source still running.
   */
  addPushSource(source: PushSource): () => void
  /**
   * Listens to one of the manager's events (`datasetChanged`, `conflict`, `syncFailed`...; see
   * {@link SyncEvents}); returns the function that removes the listener. A listener that throws is
   * reported to the logger and changes nothing.
   */
  on<TName extends keyof SyncEvents>(name: TName, listener: (...args: SyncEvents[TName]) => void): () => void
  /** What the push sources and the background queue are doing. */
  getStatus(): SyncManagerStatus
  /** Whether this tab talks to the network: always, without `tabs`; else while it leads. */
  readonly isLeader: boolean
  /**
   * Stops push sources and background work, cancels the syncs under way (they reject with
   * SYNC_CANCELLED, and write nothing more), then closes the storage. Later calls reject with ENGINE_CLOSED.
   */
  close(): Promise<void>
}

const DEFAULT_RETRIES = 3
const DEFAULT_WRITE_THROUGH_MS = 20

function writeThroughDelay(option: SyncManagerOptions['writeThrough']): number | undefined {
  if (option === undefined || option === false) return undefined
  const delayMs = option === true ? DEFAULT_WRITE_THROUGH_MS : (option.delayMs ?? DEFAULT_WRITE_THROUGH_MS)
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new SyncError(
      'INVALID_ARGUMENT',
      `writeThrough.delayMs must be a number of milliseconds, not ${String(delayMs)}`,
    )
  }
  return delayMs
}
const DEFAULT_BACKGROUND_CONCURRENCY = 4

/**
 * Creates a device's sync manager: datasets kept in `storage`, synchronized through `transport`
 * with Cognito Sync's rules, pushes handled from the sources added with `addPushSource`. Nothing is
 * read or sent until a dataset is opened.
 *
 * @throws SyncError `INVALID_ARGUMENT` for options that cannot work (a negative write-through delay...).
 *
 * @example
 * ```ts
 * const manager = createSyncManager({
 *   identityPoolId,
 *   identityId,
 *   storage: createIndexedDbStorage({ name: 'my-app' }),
 *   transport: createHttpTransport({ endpoint, identityPoolId, identityId, getToken }),
 *   writeThrough: true,
 * })
 * manager.addPushSource(createSsePushSource({ endpoint, identityPoolId, identityId, getToken }))
 * const settings = await manager.openOrCreateDataset('settings')
 * await settings.put('theme', 'dark')
 * ```
 */
export function createSyncManager(options: SyncManagerOptions): SyncManager {
  const { identityPoolId, storage } = options
  const events = new SyncEventEmitter(options.logger)
  const session = new Session(options.identityId, options.transport)
  const context: EngineContext = {
    identityPoolId,
    storage,
    clock: options.clock ?? systemClock,
    limits: resolveLimits(options.limits),
    events,
    // The views read through the context, which exists by the time anyone watches.
    datasets: new DatasetCache(events, (name) => new DatasetView(context, name)),
    session,
    deviceIds: new DeviceIds(storage, options.tabs !== undefined),
    handlers: options,
    maxRetries: options.maxRetries ?? DEFAULT_RETRIES,
    logger: options.logger,
    sharedStorage: options.tabs !== undefined,
    channel: {
      // Read only while syncs run, after the push sources below exist.
      get live() {
        return pushSources.live
      },
    },
  }
  const runner = new SyncRunner(context)
  const background = new BackgroundWork(context, runner, {
    connectivity: options.connectivity,
    syncIntervalMs: options.syncIntervalMs,
    writeThroughMs: writeThroughDelay(options.writeThrough),
    concurrency: options.backgroundConcurrency ?? DEFAULT_BACKGROUND_CONCURRENCY,
  })
  const intake = new PushIntake(context, background)
  const pushSources = new PushSources(context, intake)
  const services = { context, runner, background }

  const setLeader = (leader: boolean) => {
    background.active = leader
    pushSources.setActive(leader)
    // Changes the other tabs made while no tab led (or this one's, before it led) go out now.
    if (leader) background.syncPending().catch(() => {})
  }
  if (options.tabs !== undefined) {
    setLeader(false)
    runner.tabs = createTabLink(options.tabs, context, runner, setLeader)
  }
  const leads = () => runner.tabs === undefined || runner.tabs.leader

  /** Cancels what runs for the current data and waits until it has stopped writing. */
  const cancelRunning = async (reason: string) => {
    session.cancel(reason)
    background.dropWaiting()
    await context.datasets.idle()
  }
  const localNames = async () =>
    (await storage.read((tx) => tx.listDatasets(session.identityId))).map((meta) => meta.name)

  return {
    identityPoolId,
    get identityId() {
      return session.identityId
    },
    get isLeader() {
      return leads()
    },
    async changeIdentity(newIdentityId, newTransport) {
      session.assertOpen()
      const valid = validateIdentityId(newIdentityId)
      if (!valid.ok) throw syncErrorFromFailure(valid.failure)
      if (newTransport.identityId !== newIdentityId) {
        throw new SyncError('INVALID_ARGUMENT', 'the transport must be bound to the new identity')
      }
      await cancelRunning('the identity changed')
      await moveLocalData(storage, session.identityId, newIdentityId)
      session.switchTo(newIdentityId, newTransport)
      context.datasets.reset()
      await context.deviceIds.refresh(newIdentityId)
    },
    async openOrCreateDataset(name: string, typed?: { readonly schema: StandardSchemaV1 }) {
      session.assertOpen()
      if (typeof name !== 'string') throw new SyncError('INVALID_ARGUMENT', 'dataset name must be a string')
      if (typed !== undefined && !isStandardSchema(typed.schema)) {
        throw new SyncError(
          'INVALID_ARGUMENT',
          'schema must implement Standard Schema (zod, valibot, arktype...)',
        )
      }
      await ensureDataset(context, name)
      await countPending(context, name)
      const dataset = createDataset(services, name)
      // The overloads tie the result to the arguments; one body serves both.
      return (typed === undefined ? dataset : createTypedDataset(dataset, typed.schema, events)) as never
    },
    async listDatasets() {
      session.assertOpen()
      return storage.read((tx) => tx.listDatasets(session.identityId))
    },
    async refreshDatasetMetadata() {
      const transport = session.requireTransport()
      const result = await Session.scoped(session.signal, (signal) => transport.listDatasets(signal))
      if (!result.ok) throw transportError(result.failure, transport.name, 'listing datasets')
      for (const remote of result.value) await ensureDataset(context, remote.name)
      return result.value
    },
    async wipeData() {
      session.assertOpen()
      await cancelRunning('the data was wiped')
      await wipeLocalData(storage, session.identityId)
      context.datasets.reset()
      await context.deviceIds.refresh(session.identityId)
    },
    async registerDevice(platform, token) {
      session.assertOpen()
      const identityId = session.identityId
      const known = await storage.read((tx) => tx.getDevice(identityId, platform))
      if (known !== undefined && known.token === token) return known.deviceId
      const transport = session.requireTransport()
      const result = await Session.scoped(session.signal, (signal) =>
        transport.registerDevice(platform, token, signal),
      )
      if (!result.ok) throw transportError(result.failure, transport.name, `registering a ${platform} device`)
      await storage.write((tx) => tx.putDevice({ identityId, platform, deviceId: result.value, token }))
      await context.deviceIds.refresh(identityId)
      return result.value
    },
    async isDeviceRegistered(platform) {
      session.assertOpen()
      if (platform === undefined) return (await context.deviceIds.refresh(session.identityId)) !== undefined
      return (await storage.read((tx) => tx.getDevice(session.identityId, platform))) !== undefined
    },
    async unregisterDevice(platform) {
      session.assertOpen()
      const identityId = session.identityId
      await storage.write(async (tx) => {
        for (const device of await tx.listDevices(identityId)) {
          if (platform === undefined || device.platform === platform)
            await tx.deleteDevice(identityId, device.platform)
        }
      })
      await context.deviceIds.refresh(identityId)
    },
    async subscribeAll() {
      session.requireTransport()
      await background.runEach(await localNames(), (name) => setSubscription(context, name, true))
    },
    async unsubscribeAll() {
      session.requireTransport()
      await background.runEach(await localNames(), (name) => setSubscription(context, name, false))
    },
    getPushSyncUpdate: (payload) => intake.toUpdate(payload),
    handlePushSyncUpdate: (update) => intake.handle(update),
    addPushSource(source) {
      session.assertOpen()
      return pushSources.add(source)
    },
    on: (name, listener) => events.on(name, listener),
    getStatus: () => ({ pushSources: pushSources.statuses, background: background.load }),
    async close() {
      if (session.closed) return
      session.close()
      // Leaving first lets another tab take the lead while this one winds down.
      runner.tabs?.stop()
      pushSources.stopAll()
      await background.stop()
      await context.datasets.idle()
      await storage.close()
    },
  }
}
