import type { PushedChanges } from '../core/push-payload.js'
import { type EngineContext, warn } from './context.js'
import type { DatasetState } from './dataset-state.js'
import type { SyncResult } from './events.js'
import { syncFailure } from './failures.js'
import { countPending } from './local-writes.js'
import { Session } from './session.js'
import {
  applyPushedChanges,
  type SynchronizeOptions,
  type SyncRun,
  synchronizeDataset,
} from './synchronize.js'
import type { TabLink } from './tabs.js'

/** One request to synchronize a dataset. */
export interface SyncCall {
  /** The app's `synchronize()` options. */
  readonly options?: SynchronizeOptions
  /** Changes a push carried: applied in place of the sync when they follow this device's state. */
  readonly pushed?: PushedChanges
  /** The device holds no copy of the dataset: take it up only if the server has it. */
  readonly adopt?: boolean
}

/**
 * Runs syncs: one at a time per dataset (its single flight), in this tab or, when another tab
 * leads, in that one. Keeps the dataset's status and the sync events in step with each run, and
 * the pending count right before either is announced.
 */
export class SyncRunner {
  /** Set when tabs share the storage; only the leading tab talks to the network. */
  tabs: TabLink | undefined
  private readonly context: EngineContext

  constructor(context: EngineContext) {
    this.context = context
  }

  synchronize(name: string, call: SyncCall = {}): Promise<SyncResult> {
    const { session, datasets } = this.context
    const state = datasets.get(name)
    let run: SyncRun
    try {
      run = {
        name,
        identityId: session.identityId,
        transport: session.requireTransport(),
        signal: session.signal,
        options: call.options,
        state,
        ...(call.adopt === true ? { adopt: true } : {}),
      }
    } catch (error) {
      return Promise.reject(error)
    }
    // Pushed changes are taken only by a call that starts the flight: a queued follow-up is shared
    // with later callers, whose pushes may name newer counts that only a full sync brings.
    const pushed = state.flight.isRunning ? undefined : call.pushed
    return state.flight.run(() =>
      Session.scoped(run.signal, (signal) => this.run(state, { ...run, signal }, pushed)),
    )
  }

  private async run(
    state: DatasetState,
    run: SyncRun,
    pushed: PushedChanges | undefined,
  ): Promise<SyncResult> {
    const { events, clock } = this.context
    const dataset = run.name
    let ranHere = false
    state.forgetUsage()
    state.dispatch({ type: 'syncStarted' })
    events.emit('syncStarted', { dataset })
    try {
      // A follow-up queued before a close or a wipe must not start.
      run.signal.throwIfAborted()
      const leader = this.tabs === undefined ? 'lead' : await this.tabs.requestSync(dataset)
      ranHere = leader === 'lead'
      if (!ranHere) this.warnOfUnusedCallbacks(run.options)
      const result = leader === 'lead' ? await this.syncHere(run, pushed) : leader
      await countPending(this.context, dataset)
      state.dispatch({ type: 'syncSucceeded', at: clock.now(), path: result.path })
      events.emit('syncSucceeded', { dataset, result })
      return result
    } catch (caught) {
      const error = syncFailure(caught, run.signal)
      await countPending(this.context, dataset)
      state.dispatch({ type: 'syncFailed', error })
      events.emit('syncFailed', { dataset, error })
      throw error
    } finally {
      state.forgetUsage()
      if (ranHere) this.tabs?.announceSettled(dataset)
    }
  }

  /** The sync itself, in this tab: the pushed changes when they apply, else a full synchronize. */
  private async syncHere(run: SyncRun, pushed: PushedChanges | undefined): Promise<SyncResult> {
    const applied = pushed === undefined ? undefined : await applyPushedChanges(this.context, run, pushed)
    return applied ?? synchronizeDataset(this.context, run)
  }

  private warnOfUnusedCallbacks(options: SynchronizeOptions | undefined): void {
    if (options === undefined || !Object.values(options).some((value) => typeof value === 'function')) return
    warn(
      this.context,
      '[pushsync] this tab follows: the leading tab synchronized and its handlers decided; the callbacks given to synchronize were not called',
    )
  }
}
