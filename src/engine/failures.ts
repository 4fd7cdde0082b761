import type { TransportFailure } from '../contracts/transport.js'
import { isSyncError, SyncError, TRANSPORT_ERROR_CODES } from '../errors.js'

/** A transport failure as the app sees it, naming the adapter and what was being done. */
export function transportError(failure: TransportFailure, adapter: string, doing: string): SyncError {
  return new SyncError(TRANSPORT_ERROR_CODES[failure.kind], `${doing}: ${failure.message}`, {
    adapter,
    // The delay a throttling server asked for goes along: background work waits that long.
    details: {
      kind: failure.kind,
      ...(failure.kind === 'throttled' && failure.retryAfterMs !== undefined
        ? { retryAfterMs: failure.retryAfterMs }
        : {}),
    },
    ...('cause' in failure && failure.cause !== undefined ? { cause: failure.cause } : {}),
  })
}

/** The SYNC_CANCELLED error of an aborted signal (close, wipe, identity change). */
export function cancelledError(signal: AbortSignal): SyncError {
  return isSyncError(signal.reason, 'SYNC_CANCELLED')
    ? signal.reason
    : new SyncError('SYNC_CANCELLED', 'the sync was cancelled', { cause: signal.reason })
}

/**
 * Called before every storage write of a sync: once the manager is closed or its data wiped, a
 * sync that was under way must not write anything more.
 */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw cancelledError(signal)
}

/**
 * What a failed synchronize rejects with: SYNC_CANCELLED when it was cancelled (whatever the
 * aborted request reported), its SyncError, or one wrapping what else was thrown.
 */
export function syncFailure(caught: unknown, signal?: AbortSignal): SyncError {
  if (signal?.aborted === true) return cancelledError(signal)
  return isSyncError(caught)
    ? caught
    : new SyncError('STORAGE_UNAVAILABLE', 'synchronize failed unexpectedly', { cause: caught })
}
