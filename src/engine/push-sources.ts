import type { PushSink, PushSource } from '../contracts/push-source.js'
import { SyncError } from '../errors.js'
import { type EngineContext, warn } from './context.js'
import type { PushSourceState } from './events.js'
import type { PushIntake } from './push-intake.js'

/** A started push source as the manager's status shows it. */
export interface PushSourceStatus {
  readonly name: string
  readonly state: PushSourceState
}

interface Entry {
  readonly name: string
  state: PushSourceState | 'stopped'
  activate(): void
  deactivate(): void
  stop(): void
}

/**
 * The manager's push sources: each runs while this manager may use the network (always in a lone
 * tab, while leading among several), relays its payloads to the push intake, and reports whether
 * it is connecting, live or offline. Nothing a source or a listener does is thrown back into the
 * platform's callback.
 */
export class PushSources {
  private readonly entries = new Set<Entry>()
  private readonly context: EngineContext
  private readonly intake: PushIntake
  private active = true

  constructor(context: EngineContext, intake: PushIntake) {
    this.context = context
    this.intake = intake
  }

  /** Whether at least one source is live. */
  get live(): boolean {
    for (const entry of this.entries) if (entry.state === 'live') return true
    return false
  }

  /** The state of every source that runs or waits to run. */
  get statuses(): PushSourceStatus[] {
    return [...this.entries]
      .filter((entry) => entry.state !== 'stopped')
      .map((entry) => ({ name: entry.name, state: entry.state as PushSourceState }))
  }

  /** Starts `source` (now, or once this tab leads); returns the function that stops it. */
  add(source: PushSource): () => void {
    const { context } = this
    let stopped = false
    let stopSource: (() => void) | undefined
    const setState = (state: PushSourceState) => {
      if (stopped || entry.state === state) return
      entry.state = state
      context.events.emit('pushSourceStateChanged', { source: source.name, state })
    }
    const sink: PushSink = {
      get deviceId() {
        return context.deviceIds.forPushSource()
      },
      onPayload: (payload) => {
        if (stopped || context.session.closed) return
        this.intake.receive(payload, source.name)
      },
      onError(error) {
        if (stopped || context.session.closed) return
        warn(context, `[pushsync] push source ${source.name} failed`, error)
        // A payload it could not hand on says nothing about the connection.
        if (error.code !== 'PUSH_PAYLOAD_INVALID') setState('offline')
        context.events.emit('pushSourceError', { source: source.name, error })
      },
      onConnected: () => setState('live'),
    }
    const entry: Entry = {
      name: source.name,
      state: 'connecting',
      activate: () => {
        if (stopped || stopSource !== undefined || !this.active) return
        setState('connecting')
        // Reads the registration before the source connects, so it hands the server the right id.
        context.deviceIds.refresh(context.session.identityId).catch(() => {})
        try {
          stopSource = source.start(sink)
        } catch (error) {
          sink.onError(new SyncError('PUSH_UNSUPPORTED', `${source.name} failed to start`, { cause: error }))
        }
      },
      deactivate: () => {
        const running = stopSource
        if (running === undefined) return
        stopSource = undefined
        setState('offline')
        running()
      },
      stop: () => {
        if (stopped) return
        stopped = true
        entry.state = 'stopped'
        this.entries.delete(entry)
        entry.deactivate()
      },
    }
    this.entries.add(entry)
    entry.activate()
    return entry.stop
  }

  /** Starts every source when this tab leads, stops them (until it leads again) when it does not. */
  setActive(active: boolean): void {
    this.active = active
    for (const entry of [...this.entries]) {
      if (active) entry.activate()
      else entry.deactivate()
    }
  }

  stopAll(): void {
    for (const entry of [...this.entries]) {
      try {
        entry.stop()
      } catch (error) {
        warn(this.context, '[pushsync] stopping a push source threw', error)
      }
    }
  }
}
