import type { Transport } from '../contracts/transport.js'
import { UNKNOWN_IDENTITY } from '../core/identity.js'
import { SyncError } from '../errors.js'

/**
 * Who the manager acts for and whether it still runs: the identity, its transport, and the signal
 * every network call and sync of this generation carries. `cancel()` (wipe, identity change) and
 * `close()` abort that signal, so calls in flight stop and syncs waiting to run reject with
 * SYNC_CANCELLED instead of writing into data that is going away.
 */
export class Session {
  private current: { identityId: string; transport: Transport | undefined }
  private controller = new AbortController()
  private isClosed = false

  constructor(identityId: string | undefined, transport: Transport | undefined) {
    this.current = { identityId: identityId ?? UNKNOWN_IDENTITY, transport }
  }

  get identityId(): string {
    return this.current.identityId
  }

  get closed(): boolean {
    return this.isClosed
  }

  /** Aborted by the next `cancel()` or `close()`; a sync takes it when it is called. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /**
   * Runs `task` with a signal of its own that follows the session's: aborted with it, and dropped
   * when the task ends. Every request of the task listens to this one, not to the session's signal,
   * which lives as long as the manager and would otherwise collect a listener per request.
   * `generation` is the session signal the caller took, which may already be aborted.
   */
  static async scoped<T>(generation: AbortSignal, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    const follow = () => controller.abort(generation.reason)
    if (generation.aborted) follow()
    else generation.addEventListener('abort', follow, { once: true })
    try {
      return await task(controller.signal)
    } finally {
      generation.removeEventListener('abort', follow)
    }
  }

  /** Whether the network can be used: an identity and a transport, and the manager open. */
  get canSync(): boolean {
    return (
      !this.isClosed && this.current.transport !== undefined && this.current.identityId !== UNKNOWN_IDENTITY
    )
  }

  assertOpen(): void {
    if (this.isClosed) throw new SyncError('ENGINE_CLOSED', 'the sync manager is closed')
  }

  /** The transport to synchronize with, or why there is none. */
  requireTransport(): Transport {
    this.assertOpen()
    const { identityId, transport } = this.current
    if (identityId === UNKNOWN_IDENTITY) {
      throw new SyncError(
        'TRANSPORT_AUTH',
        'no identity yet: call changeIdentity after sign-in to synchronize',
      )
    }
    if (transport === undefined) {
      throw new SyncError(
        'INVALID_ARGUMENT',
        'this manager has no transport: pass one to createSyncManager or changeIdentity to synchronize',
      )
    }
    return transport
  }

  /** Aborts everything in flight; later calls get a fresh signal. */
  cancel(reason: string): void {
    this.controller.abort(new SyncError('SYNC_CANCELLED', reason))
    this.controller = new AbortController()
  }

  switchTo(identityId: string, transport: Transport): void {
    this.current = { identityId, transport }
  }

  close(): void {
    this.isClosed = true
    this.controller.abort(new SyncError('SYNC_CANCELLED', 'the sync manager was closed'))
  }
}
