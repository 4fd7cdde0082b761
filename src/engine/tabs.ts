import type { TabCoordinator } from '../contracts/tab-coordinator.js'
import type { Conflict } from '../core/pull.js'
import { SyncError, type SyncErrorCode } from '../errors.js'
import type { SyncEvents, SyncResult } from './events.js'
import { syncFailure } from './failures.js'

/**
 * The engine's side of multi-tab coordination. Every tab reads and writes the shared database
 * itself; only the leader talks to the network. A follower's sync is a request the leader runs
 * (in its single flight, so requests from many tabs coalesce) and answers; every change any tab
 * makes is announced, so the others drop what they cached and tell their listeners at once.
 *
 * Every message names its identity: a tab that is signed in as someone else ignores it.
 */
type TabMessage =
  | {
      readonly kind: 'changed'
      readonly identityId: string
      readonly dataset: string
      readonly keys: readonly string[]
      readonly source: 'local' | 'remote'
    }
  | {
      readonly kind: 'conflict'
      readonly identityId: string
      readonly dataset: string
      readonly conflicts: readonly Conflict[]
    }
  /** The leader finished a sync of the dataset: pending counts changed even when no record did. */
  | { readonly kind: 'settled'; readonly identityId: string; readonly dataset: string }
  | { readonly kind: 'sync'; readonly id: string; readonly identityId: string; readonly dataset: string }
  | { readonly kind: 'synced'; readonly id: string; readonly result: SyncResult }
  | { readonly kind: 'failed'; readonly id: string; readonly error: SerializedError }
  /** A tab became the leader: requests nobody answered yet are sent again. */
  | { readonly kind: 'leader' }

interface SerializedError {
  readonly code: SyncErrorCode
  readonly message: string
  readonly retryable: boolean
  readonly adapter: string | undefined
  readonly details: Readonly<Record<string, unknown>>
}

export interface TabLinkHost {
  identityId(): string
  /** Runs a sync for another tab; called while this tab leads. */
  synchronize(dataset: string): Promise<SyncResult>
  /** Another tab changed records of this identity. */
  changedElsewhere(event: SyncEvents['datasetChanged'][0]): void
  /** Another tab's sync raised conflicts. */
  conflictElsewhere(event: SyncEvents['conflict'][0]): void
  /** The leading tab finished a sync of `dataset`. */
  settledElsewhere(dataset: string): void
  leadershipChanged(leader: boolean): void
  warn(message: string, error?: unknown): void
}

export interface TabLink {
  readonly leader: boolean
  /**
   * A follower's sync: resolves with the leader's result, whichever tab leads by then, or with
   * `'lead'` when this tab leads (now, or before an answer came): the caller then runs it here.
   */
  requestSync(dataset: string): Promise<SyncResult | 'lead'>
  announceChange(event: SyncEvents['datasetChanged'][0]): void
  announceConflict(event: SyncEvents['conflict'][0]): void
  announceSettled(dataset: string): void
  /** Leaves the group; unanswered requests reject with ENGINE_CLOSED. */
  stop(): void
}

interface PendingRequest {
  readonly dataset: string
  readonly identityId: string
  resolve(result: SyncResult | 'lead'): void
  reject(error: SyncError): void
}

export function createTabLink(coordinator: TabCoordinator, host: TabLinkHost): TabLink {
  let leader = false
  let stopped = false
  const pending = new Map<string, PendingRequest>()
  // Unique enough to tell this tab's requests apart from other tabs' (no secret involved).
  const tabId = Math.random().toString(36).slice(2)
  let nextRequest = 0

  const send = (message: TabMessage) => {
    try {
      coordinator.broadcast(message)
    } catch (error) {
      host.warn(`[pushsync] ${coordinator.name} could not send a message`, error)
    }
  }
  const settle = (id: string, outcome: { result: SyncResult | 'lead' } | { error: SyncError }) => {
    const request = pending.get(id)
    if (request === undefined) return
    pending.delete(id)
    if ('result' in outcome) request.resolve(outcome.result)
    else request.reject(outcome.error)
  }
  const answer = (message: Extract<TabMessage, { kind: 'sync' }>) => {
    if (message.identityId !== host.identityId()) {
      send({
        kind: 'failed',
        id: message.id,
        error: serialize(
          new SyncError('TRANSPORT_AUTH', 'the leading tab is signed in as another identity', {
            details: { identityId: message.identityId },
          }),
        ),
      })
      return
    }
    host.synchronize(message.dataset).then(
      (result) => send({ kind: 'synced', id: message.id, result }),
      (error: unknown) => send({ kind: 'failed', id: message.id, error: serialize(syncFailure(error)) }),
    )
  }

  const stopCoordinator = coordinator.start({
    onLeadershipChange(value) {
      if (stopped || value === leader) return
      leader = value
      if (leader) {
        send({ kind: 'leader' })
        // This tab's own waiting syncs run here now (inside their single flight, which waits on them).
        for (const id of [...pending.keys()]) settle(id, { result: 'lead' })
      }
      host.leadershipChanged(leader)
    },
    onMessage(raw) {
      if (stopped || !isTabMessage(raw)) return
      const message = raw
      try {
        switch (message.kind) {
          case 'changed':
            if (message.identityId === host.identityId())
              host.changedElsewhere({ dataset: message.dataset, keys: message.keys, source: message.source })
            return
          case 'conflict':
            if (message.identityId === host.identityId())
              host.conflictElsewhere({ dataset: message.dataset, conflicts: message.conflicts })
            return
          case 'settled':
            if (message.identityId === host.identityId()) host.settledElsewhere(message.dataset)
            return
          case 'sync':
            if (leader) answer(message)
            return
          case 'synced':
            settle(message.id, { result: message.result })
            return
          case 'failed':
            settle(message.id, { error: deserialize(message.error) })
            return
          case 'leader':
            for (const [id, request] of pending)
              send({ kind: 'sync', id, identityId: request.identityId, dataset: request.dataset })
            return
        }
      } catch (error) {
        host.warn('[pushsync] handling a message from another tab failed', error)
      }
    },
  })

  return {
    get leader() {
      return leader
    },
    requestSync(dataset) {
      if (stopped) return Promise.reject(new SyncError('ENGINE_CLOSED', 'the sync manager is closed'))
      if (leader) return Promise.resolve('lead')
      const id = `${tabId}:${++nextRequest}`
      return new Promise<SyncResult | 'lead'>((resolve, reject) => {
        const request = { dataset, identityId: host.identityId(), resolve, reject }
        pending.set(id, request)
        send({ kind: 'sync', id, identityId: request.identityId, dataset })
      })
    },
    announceChange(event) {
      send({ kind: 'changed', identityId: host.identityId(), ...event })
    },
    announceConflict(event) {
      send({ kind: 'conflict', identityId: host.identityId(), ...event })
    },
    announceSettled(dataset) {
      send({ kind: 'settled', identityId: host.identityId(), dataset })
    },
    stop() {
      if (stopped) return
      stopped = true
      stopCoordinator()
      for (const id of [...pending.keys()])
        settle(id, { error: new SyncError('ENGINE_CLOSED', 'the sync manager is closed') })
    },
  }
}

const KINDS = new Set(['changed', 'conflict', 'settled', 'sync', 'synced', 'failed', 'leader'])

function isTabMessage(value: unknown): value is TabMessage {
  return (
    typeof value === 'object' && value !== null && KINDS.has((value as { kind?: unknown }).kind as string)
  )
}

function serialize(error: SyncError): SerializedError {
  return {
    code: error.code,
    // The message carries the prefix the constructor adds; keep the text after it.
    message: error.message.replace(/^\[pushsync\](?: \[[^\]]*\])? /, ''),
    retryable: error.retryable,
    adapter: error.adapter,
    details: error.details,
  }
}

function deserialize(error: SerializedError): SyncError {
  return new SyncError(error.code, `${error.message} (in the leading tab)`, {
    ...(error.adapter === undefined ? {} : { adapter: error.adapter }),
    retryable: error.retryable,
    details: error.details,
  })
}
