import type { TabCoordinator } from '../contracts/tab-coordinator.js'
import { SyncError, type SyncErrorCode } from '../errors.js'
import { type EngineContext, warn as warnOf } from './context.js'
import type { SyncEvents, SyncResult } from './events.js'
import { syncFailure } from './failures.js'
import { countPending } from './local-writes.js'
import type { SyncRunner } from './sync-runner.js'

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
      readonly kind: 'event'
      readonly identityId: string
      readonly name: RelayedEvent
      readonly event: SyncEvents[RelayedEvent][0]
    }
  /** The leader finished a sync of the dataset: pending counts changed even when no record did. */
  | { readonly kind: 'settled'; readonly identityId: string; readonly dataset: string }
  | { readonly kind: 'sync'; readonly id: string; readonly identityId: string; readonly dataset: string }
  | { readonly kind: 'synced'; readonly id: string; readonly result: SyncResult }
  | { readonly kind: 'failed'; readonly id: string; readonly error: SerializedError }
  /** A tab became the leader: requests nobody answered yet are sent again. */
  | { readonly kind: 'leader' }

/** The events every tab hears of, whichever tab's write or sync caused them. */
const RELAYED_EVENTS = ['datasetChanged', 'datasetDeleted', 'conflict'] as const
type RelayedEvent = (typeof RELAYED_EVENTS)[number]

interface SerializedError {
  readonly code: SyncErrorCode
  readonly message: string
  readonly retryable: boolean
  readonly adapter: string | undefined
  readonly details: Readonly<Record<string, unknown>>
}

export interface TabLink {
  readonly leader: boolean
  /**
   * A follower's sync: resolves with the leader's result, whichever tab leads by then, or with
   * `'lead'` when this tab leads (now, or before an answer came): the caller then runs it here.
   */
  requestSync(dataset: string): Promise<SyncResult | 'lead'>
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

/**
 * Joins the tabs of `coordinator`: answers other tabs' sync requests while this tab leads, relays
 * this tab's changes to the others and theirs to this tab's listeners, and calls
 * `leadershipChanged` when this tab starts or stops leading.
 */
export function createTabLink(
  coordinator: TabCoordinator,
  context: EngineContext,
  runner: SyncRunner,
  leadershipChanged: (leader: boolean) => void,
): TabLink {
  const { events, session } = context
  const identityId = () => session.identityId
  const warn = (message: string, error?: unknown) => warnOf(context, message, error)
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
      warn(`[pushsync] ${coordinator.name} could not send a message`, error)
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
    if (message.identityId !== identityId()) {
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
    runner.synchronize(message.dataset).then(
      (result) => send({ kind: 'synced', id: message.id, result }),
      (error: unknown) => send({ kind: 'failed', id: message.id, error: serialize(syncFailure(error)) }),
    )
  }

  // Another tab changed this identity's data: what this tab kept of it is stale.
  const changedElsewhere = (dataset: string) => {
    context.datasets.get(dataset).forgetUsage()
    countPending(context, dataset).catch(() => {})
  }
  // Events this tab re-emits for another tab's change must not be announced back.
  let relaying = false
  const relay = <TName extends RelayedEvent>(name: TName, event: SyncEvents[TName][0]) => {
    relaying = true
    try {
      events.emit(name, ...([event] as SyncEvents[TName]))
    } finally {
      relaying = false
    }
  }
  const stopListening = RELAYED_EVENTS.map((name) =>
    events.on(name, (event: SyncEvents[RelayedEvent][0]) => {
      if (!relaying) send({ kind: 'event', identityId: identityId(), name, event })
    }),
  )

  const stopCoordinator = coordinator.start({
    onLeadershipChange(value) {
      if (stopped || value === leader) return
      leader = value
      if (leader) {
        send({ kind: 'leader' })
        // This tab's own waiting syncs run here now (inside their single flight, which waits on them).
        for (const id of [...pending.keys()]) settle(id, { result: 'lead' })
      }
      leadershipChanged(leader)
    },
    onMessage(raw) {
      if (stopped || !isTabMessage(raw)) return
      const message = raw
      try {
        switch (message.kind) {
          case 'event':
            if (message.identityId !== identityId() || !RELAYED_EVENTS.includes(message.name)) return
            changedElsewhere(message.event.dataset)
            relay(message.name, message.event)
            return
          case 'settled':
            if (message.identityId === identityId()) changedElsewhere(message.dataset)
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
        warn('[pushsync] handling a message from another tab failed', error)
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
        const request = { dataset, identityId: identityId(), resolve, reject }
        pending.set(id, request)
        send({ kind: 'sync', id, identityId: request.identityId, dataset })
      })
    },
    announceSettled(dataset) {
      send({ kind: 'settled', identityId: identityId(), dataset })
    },
    stop() {
      if (stopped) return
      stopped = true
      for (const stop of stopListening) stop()
      stopCoordinator()
      for (const id of [...pending.keys()])
        settle(id, { error: new SyncError('ENGINE_CLOSED', 'the sync manager is closed') })
    },
  }
}

const KINDS = new Set(['event', 'settled', 'sync', 'synced', 'failed', 'leader'])

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
