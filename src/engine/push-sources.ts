import type { PushSink, PushSource } from '../contracts/push-source.js'
import type { Limits } from '../core/limits.js'
import { type PushSyncUpdate, parsePushPayload } from '../core/push-payload.js'
import type { SyncEventEmitter } from './events.js'

export interface PushSourcesHost {
  readonly limits: Limits
  readonly events: SyncEventEmitter
  readonly logger: Pick<Console, 'warn'> | undefined
  isClosed(): boolean
  /** Sources run only while this is true: always in a lone tab, while leading among several. */
  leads(): boolean
  /** The device id a source hands the server, so this device is not pushed its own writes. */
  deviceId(): string
  /** Reads the push registration again, before a source connects with the device id. */
  readRegistration(): Promise<unknown>
  handle(update: PushSyncUpdate): Promise<unknown>
}

/** The manager's started push sources: what they relay is parsed and handled, never thrown back. */
export interface PushSources {
  /** Starts `source` (now, or when this tab leads); returns the function that stops it. */
  add(source: PushSource): () => void
  /** Starts every source when this tab leads, stops them (until it leads again) when it does not. */
  leadershipChanged(leader: boolean): void
  stopAll(): void
}

interface Entry {
  activate(): void
  deactivate(): void
  stop(): void
}

export function createPushSources(host: PushSourcesHost): PushSources {
  const entries = new Set<Entry>()
  const warn = (message: string, error: unknown) => {
    try {
      host.logger?.warn(message, error)
    } catch {
      // A logger that throws must not reach the platform's callback either.
    }
  }

  const add = (source: PushSource): (() => void) => {
    let stopped = false
    const sink: PushSink = {
      get deviceId() {
        return host.deviceId()
      },
      onPayload(payload) {
        if (stopped || host.isClosed()) return
        // Never throws: the caller is a platform callback (an SSE reader, a push handler).
        try {
          const parsed = parsePushPayload(payload, host.limits)
          if (!parsed.ok) {
            const { reason, message } = parsed.failure
            host.events.emit('pushIgnored', { payload, reason, message })
            return
          }
          host
            .handle(parsed.value)
            .catch((error: unknown) => warn(`[pushsync] a push from ${source.name} failed`, error))
        } catch (error) {
          warn(`[pushsync] a push from ${source.name} failed`, error)
        }
      },
      onError(error) {
        if (stopped || host.isClosed()) return
        warn(`[pushsync] push source ${source.name} failed`, error)
        try {
          host.events.emit('pushSourceError', { source: source.name, error })
        } catch (caught) {
          warn('[pushsync] a pushSourceError listener threw', caught)
        }
      },
    }
    let stopSource: (() => void) | undefined
    const entry: Entry = {
      activate() {
        if (stopped || stopSource !== undefined || !host.leads()) return
        // Reads the registration before the source connects, so it hands the server the right id.
        host.readRegistration().catch(() => {})
        stopSource = source.start(sink)
      },
      deactivate() {
        const running = stopSource
        stopSource = undefined
        running?.()
      },
      stop() {
        if (stopped) return
        stopped = true
        entries.delete(entry)
        entry.deactivate()
      },
    }
    entries.add(entry)
    entry.activate()
    return entry.stop
  }

  return {
    add,
    leadershipChanged(leader) {
      for (const entry of [...entries]) {
        if (leader) entry.activate()
        else entry.deactivate()
      }
    },
    stopAll() {
      for (const entry of [...entries]) {
        try {
          entry.stop()
        } catch (error) {
          warn('[pushsync] stopping a push source threw', error)
        }
      }
    },
  }
}
