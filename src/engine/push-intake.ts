import { decideParsedPush } from '../core/push-decision.js'
import { encodePushPayload, type PushSyncUpdate, parsePushPayload } from '../core/push-payload.js'
import { SyncError } from '../errors.js'
import type { BackgroundWork } from './background.js'
import { type EngineContext, warn } from './context.js'

export type PushOutcome = 'sync' | 'coalesce' | 'ignore'

/**
 * Where pushes enter the engine, from a push source or from the app: each payload is parsed once,
 * decided by the core against the dataset's state on this device, and a sync it calls for is
 * queued as background work (which decides again when it starts, so a push the device has caught
 * up with meanwhile costs nothing). A push about a dataset this device does not hold takes the
 * dataset up only if the server still has it.
 */
export class PushIntake {
  private readonly context: EngineContext
  private readonly background: BackgroundWork

  constructor(context: EngineContext, background: BackgroundWork) {
    this.context = context
    this.background = background
  }

  /** A raw payload from a platform callback. Never throws. */
  receive(payload: unknown, sourceName: string): void {
    try {
      const parsed = parsePushPayload(payload, this.context.limits)
      if (!parsed.ok) {
        const { reason, message } = parsed.failure
        this.context.events.emit('pushIgnored', { payload, reason, message })
        return
      }
      this.decide(parsed.value).catch((error: unknown) =>
        warn(this.context, `[pushsync] a push from ${sourceName} failed`, error),
      )
    } catch (error) {
      warn(this.context, `[pushsync] a push from ${sourceName} failed`, error)
    }
  }

  /** The app's `getPushSyncUpdate`: the update, or PUSH_PAYLOAD_INVALID. */
  toUpdate(payload: unknown): PushSyncUpdate {
    const parsed = parsePushPayload(payload, this.context.limits)
    if (parsed.ok) return parsed.value
    const { reason, field, message } = parsed.failure
    throw new SyncError('PUSH_PAYLOAD_INVALID', message, {
      details: { reason, ...(field === undefined ? {} : { field }) },
    })
  }

  /** The app's `handlePushSyncUpdate`: anything it is handed is checked as a payload would be. */
  async handle(update: unknown): Promise<PushOutcome> {
    this.context.session.assertOpen()
    const parsed = this.parseUpdate(update)
    if (!parsed.ok) {
      const { reason, message } = parsed.failure
      this.context.events.emit('pushIgnored', { payload: update, reason, message })
      return 'ignore'
    }
    return this.decide(parsed.value)
  }

  /**
   * An update `getPushSyncUpdate` returned holds its changes in the port's record shape, which the
   * payload reader does not take: its wire form (`encodePushPayload`) is what is checked again, so
   * the changes survive. Anything else is read as the raw payload it may be.
   */
  private parseUpdate(update: unknown): ReturnType<typeof parsePushPayload> {
    if (holdsPortChanges(update)) {
      try {
        const again = parsePushPayload(encodePushPayload(update, 'json'), this.context.limits)
        if (again.ok) return again
      } catch {
        // Not an update after all: read it as a payload below.
      }
    }
    return parsePushPayload(update, this.context.limits)
  }

  private async decide(update: PushSyncUpdate): Promise<PushOutcome> {
    const { storage, session, datasets, events } = this.context
    if (update.identityPoolId === this.context.identityPoolId && update.identityId === session.identityId) {
      datasets.get(update.datasetName).heardOf(update.syncCount)
    }
    // Taken before the read: whatever happens to the dataset from here on changes it.
    const checkedAt = datasets.get(update.datasetName).version
    const meta = await storage.read((tx) => tx.getDataset(session.identityId, update.datasetName))
    const decision = decideParsedPush(
      {
        identityPoolId: this.context.identityPoolId,
        identityId: session.identityId,
        lastSyncCount: meta?.lastSyncCount ?? 0,
        held: meta !== undefined,
        syncing: datasets.isSyncing(update.datasetName),
      },
      update,
    )
    if (decision.action === 'ignore') {
      events.emit('pushIgnored', { payload: update, reason: decision.reason, message: decision.message })
      return 'ignore'
    }
    events.emit('pushReceived', { update, decision })
    this.background.schedule(update.datasetName, 'push', { update, adopt: meta === undefined, checkedAt })
    return decision.action
  }
}

/** Whether `value` looks like a parsed update with changes (records with `key`, not the wire's `Key`). */
function holdsPortChanges(value: unknown): value is PushSyncUpdate {
  const changes = (value as { changes?: { records?: unknown } } | null)?.changes
  const first = Array.isArray(changes?.records) ? (changes.records[0] as unknown) : undefined
  return typeof first === 'object' && first !== null && Object.hasOwn(first, 'key')
}
