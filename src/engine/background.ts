import PQueue from 'p-queue'
import type { ConnectivitySource } from '../contracts/connectivity.js'
import { DELETE_PENDING } from '../core/model.js'
import { decideParsedPush } from '../core/push-decision.js'
import type { PushSyncUpdate } from '../core/push-payload.js'
import { isSyncError, SyncError } from '../errors.js'
import { type EngineContext, warn } from './context.js'
import type { SyncResult } from './events.js'
import type { SyncRunner } from './sync-runner.js'

export type { ConnectivitySource }

/** Why a dataset is synchronized in the background; the order is the queue's priority. */
export type BackgroundReason = 'write' | 'push' | 'pending' | 'interval'

const PRIORITY: Readonly<Record<BackgroundReason | 'subscription', number>> = {
  subscription: 4,
  write: 3,
  push: 2,
  pending: 1,
  interval: 0,
}

/** Backoff after a `throttled` answer that named no delay: doubles from 1 s up to a minute. */
const FIRST_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 60_000

interface Job {
  readonly name: string
  reason: BackgroundReason
  /** The newest push that asked for this sync. */
  update: PushSyncUpdate | undefined
  /** The device holds no copy of the dataset: take it up only if the server has it. */
  adopt: boolean
  /** The dataset's version when the push was decided on (see `DatasetState.version`). */
  checkedAt: number | undefined
}

/** A push that asks for a sync, as the push intake decided on it. */
export interface PushJob {
  readonly update: PushSyncUpdate
  readonly adopt: boolean
  /** The dataset's version when the intake read what it decided on. */
  readonly checkedAt?: number
}

export interface BackgroundOptions {
  readonly connectivity: ConnectivitySource | undefined
  readonly syncIntervalMs: number | undefined
  /** Synchronize local writes this long after the last of a burst; undefined: only when asked. */
  readonly writeThroughMs: number | undefined
  /** Background syncs and subscriptions running at once. */
  readonly concurrency: number
}

/**
 * The syncs the app did not call (a push, connectivity coming back, the interval, a newly leading
 * tab) and the subscriptions of `subscribeAll`, in one queue: a bounded number at once, pushes
 * before pending changes before the interval, one entry per dataset (a second reason joins the
 * first), paused while the device is offline and while the server asks to slow down, and emptied
 * on close. A job decides again when it runs whether it is still needed: a push the app's own sync
 * has overtaken costs nothing. A sync the app awaits never waits here: it runs at once.
 */
export class BackgroundWork {
  private readonly queue: PQueue
  private readonly jobs = new Map<string, Job>()
  private readonly context: EngineContext
  private readonly runner: SyncRunner
  private readonly options: BackgroundOptions
  private offline: boolean
  private backoffMs = 0
  private backoffTimer: ReturnType<typeof setTimeout> | undefined
  private readonly stops: Array<() => void> = []
  private readonly writeTimers = new Map<string, ReturnType<typeof setTimeout>>()
  /** Set while this manager may use the network (a lone tab, or the leading one). */
  active = true

  constructor(context: EngineContext, runner: SyncRunner, options: BackgroundOptions) {
    this.context = context
    this.runner = runner
    this.options = options
    this.queue = new PQueue({ concurrency: options.concurrency })
    this.offline = options.connectivity?.isOnline() === false
    if (this.offline) this.queue.pause()
    const connectivity = options.connectivity
    if (connectivity !== undefined) {
      this.stops.push(
        connectivity.subscribe((online) => {
          this.offline = !online
          this.resumeWhenFree()
          if (online) void this.syncPending()
        }),
      )
    }
    const writeThroughMs = options.writeThroughMs
    if (writeThroughMs !== undefined) {
      // A local write in this tab, or one another tab announced: the leading tab sends it.
      const written = (event: { readonly dataset: string; readonly source: 'local' | 'remote' }) => {
        if (event.source === 'local') this.afterWrite(event.dataset, writeThroughMs)
      }
      this.stops.push(
        context.events.on('datasetChanged', written),
        context.events.on('datasetDeleted', written),
      )
    }
    if (options.syncIntervalMs !== undefined) {
      const timer = setInterval(() => void this.syncAll(), options.syncIntervalMs)
      // A timer must not keep a Node process alive on its own.
      ;(timer as { unref?: () => void }).unref?.()
      this.stops.push(() => clearInterval(timer))
    }
  }

  /** What the queue holds: running and waiting jobs. */
  get load(): { readonly running: number; readonly waiting: number; readonly paused: boolean } {
    return { running: this.queue.pending, waiting: this.queue.size, paused: this.queue.isPaused }
  }

  /** Queues a sync of `name`, or joins the one already queued (taking the higher priority). */
  schedule(name: string, reason: BackgroundReason, push?: PushJob): void {
    if (!this.active || !this.context.session.canSync) return
    const queued = this.jobs.get(name)
    if (queued !== undefined) {
      if (
        push !== undefined &&
        (queued.update === undefined || push.update.syncCount > queued.update.syncCount)
      ) {
        queued.update = push.update
        queued.adopt = push.adopt
        queued.checkedAt = push.checkedAt
      }
      if (PRIORITY[reason] > PRIORITY[queued.reason]) {
        queued.reason = reason
        this.queue.setPriority(name, PRIORITY[reason])
      }
      return
    }
    const job: Job = {
      name,
      reason,
      update: push?.update,
      adopt: push?.adopt ?? false,
      checkedAt: push?.checkedAt,
    }
    this.jobs.set(name, job)
    // No signal per job (every queued job would listen on the session's): `dropWaiting` empties the
    // queue when the session is cancelled, and a job that already started is cancelled by its sync.
    this.queue
      .add(() => this.run(job), { id: name, priority: PRIORITY[reason] })
      .catch((error: unknown) => {
        if (!isSyncError(error, 'SYNC_CANCELLED'))
          warn(this.context, '[pushsync] background sync failed', error)
      })
  }

  /** Writes within `delayMs` of each other go out in one sync, queued after the last of them. */
  private afterWrite(name: string, delayMs: number): void {
    if (!this.active) return
    const waiting = this.writeTimers.get(name)
    if (waiting !== undefined) clearTimeout(waiting)
    const timer = setTimeout(() => {
      this.writeTimers.delete(name)
      this.schedule(name, 'write')
    }, delayMs)
    ;(timer as { unref?: () => void }).unref?.()
    this.writeTimers.set(name, timer)
  }

  /** Queues a sync of every dataset with pending changes (or a pending delete). */
  async syncPending(): Promise<void> {
    for (const name of await this.localDatasets(true)) this.schedule(name, 'pending')
  }

  /** Queues a sync of every local dataset. */
  async syncAll(): Promise<void> {
    if (this.offline) return
    for (const name of await this.localDatasets(false)) this.schedule(name, 'interval')
  }

  /**
   * Runs `task` for each name through the queue, ahead of background syncs, and resolves when all
   * are done (rejecting with the first failure). Refused at once while the device is offline.
   */
  async runEach(names: readonly string[], task: (name: string) => Promise<void>): Promise<void> {
    if (this.offline) {
      throw new SyncError('TRANSPORT_OFFLINE', 'the device is offline (as its connectivity source reports)')
    }
    const signal = this.context.session.signal
    const all = Promise.allSettled(
      names.map((name) =>
        this.queue.add(
          () => {
            signal.throwIfAborted()
            return task(name)
          },
          { priority: PRIORITY.subscription },
        ),
      ),
    )
    // A cancelled session drops the waiting tasks, whose promises then never settle: stop waiting.
    const results = await new Promise<PromiseSettledResult<void>[]>((resolve, reject) => {
      const cancel = () => reject(signal.reason)
      signal.addEventListener('abort', cancel, { once: true })
      all.then(resolve).finally(() => signal.removeEventListener('abort', cancel))
    })
    const failed = results.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  /** Synchronizes now when online, else as soon as the connectivity source reports online. */
  whenOnline(sync: () => Promise<SyncResult>): Promise<SyncResult> {
    const connectivity = this.options.connectivity
    if (connectivity === undefined || connectivity.isOnline()) return sync()
    return new Promise((resolve, reject) => {
      const signal = this.context.session.signal
      const stop = connectivity.subscribe((online) => {
        if (!online) return
        finish()
        sync().then(resolve, reject)
      })
      const cancel = () => {
        finish()
        reject(signal.reason)
      }
      const finish = () => {
        stop()
        signal.removeEventListener('abort', cancel)
      }
      signal.addEventListener('abort', cancel, { once: true })
    })
  }

  /**
   * Forgets what waits in the queue: the session was cancelled (a wipe, an identity change), so
   * it was meant for data that is gone. Jobs already running are cancelled by their sync.
   */
  dropWaiting(): void {
    this.queue.clear()
    this.jobs.clear()
    for (const timer of this.writeTimers.values()) clearTimeout(timer)
    this.writeTimers.clear()
  }

  /** Stops the connectivity listener, the interval and the backoff, and drops what waits. */
  async stop(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop()
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer)
    this.dropWaiting()
    await this.queue.onIdle()
  }

  private async run(job: Job): Promise<void> {
    this.jobs.delete(job.name)
    if (!(await this.stillNeeded(job))) return
    try {
      await this.runner.synchronize(job.name, {
        ...(job.update?.changes === undefined ? {} : { pushed: job.update.changes }),
        ...(job.adopt ? { adopt: true } : {}),
      })
      this.backoffMs = 0
    } catch (error) {
      if (isSyncError(error, 'TRANSPORT_THROTTLED')) {
        this.backOff(error.details.retryAfterMs)
        this.schedule(
          job.name,
          job.reason,
          job.update === undefined ? undefined : { update: job.update, adopt: job.adopt },
        )
      }
      throw error
    }
  }

  /** A job queued for a push is dropped when the device has caught up with the push meanwhile. */
  private async stillNeeded(job: Job): Promise<boolean> {
    const { storage, session, datasets } = this.context
    if (job.reason === 'interval' || job.reason === 'write') return true
    // Nothing happened to the dataset since the push intake read it and decided this sync is
    // needed (no write, no sync started or ended): the decision stands, without reading again.
    const state = datasets.get(job.name)
    if (job.reason === 'push' && job.checkedAt === state.version && !state.flight.isRunning) return true
    const meta = await storage.read((tx) => tx.getDataset(session.identityId, job.name))
    if (job.reason === 'pending') {
      if (meta === undefined) return false
      if (meta.lastSyncCount === DELETE_PENDING) return true
      return datasets.get(job.name).status.pendingChanges > 0 || !datasets.get(job.name).knowsPending
    }
    if (job.update === undefined) return true
    const decision = decideParsedPush(
      {
        identityPoolId: this.context.identityPoolId,
        identityId: session.identityId,
        lastSyncCount: meta?.lastSyncCount ?? 0,
        held: meta !== undefined,
        syncing: false,
      },
      job.update,
    )
    return decision.action !== 'ignore'
  }

  private async localDatasets(pendingOnly: boolean): Promise<string[]> {
    if (!this.active || !this.context.session.canSync) return []
    const { storage, session } = this.context
    const identityId = session.identityId
    return storage.read(async (tx) => {
      const names: string[] = []
      for (const meta of await tx.listDatasets(identityId)) {
        const pending =
          meta.lastSyncCount === DELETE_PENDING ||
          (await tx.listRecords(identityId, meta.name, { dirtyOnly: true })).length > 0
        if (!pendingOnly || pending) names.push(meta.name)
      }
      return names
    })
  }

  /** Pauses the queue for the server's delay, or for a doubling one when it named none. */
  private backOff(retryAfterMs: unknown): void {
    this.backoffMs =
      typeof retryAfterMs === 'number' && retryAfterMs > 0
        ? retryAfterMs
        : Math.min(MAX_BACKOFF_MS, Math.max(FIRST_BACKOFF_MS, this.backoffMs * 2))
    this.queue.pause()
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer)
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined
      this.resumeWhenFree()
    }, this.backoffMs)
    ;(this.backoffTimer as { unref?: () => void }).unref?.()
  }

  /** Runs the queue again unless the device is offline or a backoff is still on. */
  private resumeWhenFree(): void {
    if (this.offline || this.backoffTimer !== undefined) this.queue.pause()
    else this.queue.start()
  }
}
