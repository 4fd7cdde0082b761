import { SPENT_SESSION_PRUNE_INTERVAL_MS, type SyncStore } from '../store/contract.js'

/** Told of each spent SyncSessionToken; drops the expired ones now and then. */
export interface SpentSessions {
  spent(now: number): void
}

/**
 * Keeps the spent-token records from growing without end, off the write path: after an UpdateRecords
 * has committed, at most once per `intervalMs` of the server's clock, one transaction of its own
 * drops the records of tokens that have expired (no check needs them: an expired token is refused
 * anyway). A failure is reported and retried at the next interval.
 */
export function createSpentSessionPruner(
  store: SyncStore,
  onError: (error: unknown) => void,
  intervalMs = SPENT_SESSION_PRUNE_INTERVAL_MS,
): SpentSessions {
  let last = Number.NEGATIVE_INFINITY
  let running = false
  return {
    spent(now) {
      if (running || now - last < intervalMs) return
      last = now
      running = true
      store
        .transaction((tx) => tx.pruneSpentSessions(now))
        .catch(onError)
        .finally(() => {
          running = false
        })
    },
  }
}
