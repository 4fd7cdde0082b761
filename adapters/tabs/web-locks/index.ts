/**
 * Multi-tab coordination for browsers: the tabs of one app in one profile elect a leader with the
 * Web Locks API and talk over a BroadcastChannel.
 *
 * Whoever holds the lock `<name>:leader` leads; the others wait in the lock's queue, so when the
 * leader's tab closes or crashes the browser hands the lock to the next tab at once. Two cases the
 * lock alone does not cover:
 * - a frozen tab (Chrome freezes background tabs) would keep the lock while doing nothing: the
 *   leader gives the lock up on the page's `freeze` event and queues again on `resume`;
 * - a tab that stops running without a `freeze` event (a long task, a debugger, a freeze the page
 *   was not told of) keeps the lock: followers ask the leader on the channel every few seconds
 *   and, without an answer in time, take the lock over (`steal`). The old leader learns so when it
 *   runs again: its lock request fails and it steps down.
 *
 * @module
 */
import type { TabCoordinator, TabSink } from '../../../src/contracts/tab-coordinator.js'
import { SyncError } from '../../../src/errors.js'

/** What `createWebLocksTabCoordinator` takes; every option has a default. */
export interface WebLocksTabOptions {
  /**
   * Tabs with the same name form one group and elect one leader (default `'pushsync'`). Use one
   * name per local database: tabs sharing a database must share a group.
   */
  readonly name?: string
  /** How often a follower checks that the leader answers, in ms (default 2000). */
  readonly checkIntervalMs?: number
  /** A leader that has not answered a check within this many ms is replaced (default 3000). */
  readonly leaderTimeoutMs?: number
  /** The lock manager; default `navigator.locks`. */
  readonly locks?: LockManager
  /** The channel class; default the global `BroadcastChannel`. */
  readonly BroadcastChannel?: typeof BroadcastChannel
  /** Where the page lifecycle's `freeze` and `resume` events fire; default the global `document`. */
  readonly lifecycle?: EventTarget
}

/** What travels on the channel: the engine's messages, and the liveness check between tabs. */
type Envelope =
  | { readonly t: 'message'; readonly message: unknown }
  | { readonly t: 'ping' }
  | { readonly t: 'pong' }

const DEFAULT_CHECK_INTERVAL_MS = 2000
const DEFAULT_LEADER_TIMEOUT_MS = 3000

/**
 * Creates the coordinator for `createSyncManager({ tabs })`: the tabs of one group elect one leader,
 * which alone syncs and holds the push connection, and every tab hears of the others' writes.
 * Give every tab sharing a database the same `name`.
 *
 * @throws SyncError `TABS_UNSUPPORTED` where there is no Web Locks API or no BroadcastChannel.
 */
export function createWebLocksTabCoordinator(options: WebLocksTabOptions = {}): TabCoordinator {
  const group = options.name ?? 'pushsync'
  const globals = globalThis as {
    navigator?: { locks?: LockManager }
    BroadcastChannel?: typeof BroadcastChannel
    document?: EventTarget
  }
  const locks = options.locks ?? globals.navigator?.locks
  const Channel = options.BroadcastChannel ?? globals.BroadcastChannel
  if (locks === undefined || Channel === undefined) {
    throw new SyncError('TABS_UNSUPPORTED', 'this environment has no Web Locks or BroadcastChannel', {
      adapter: 'tabs:web-locks',
    })
  }
  const lifecycle = options.lifecycle ?? globals.document
  const checkIntervalMs = options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS
  const leaderTimeoutMs = options.leaderTimeoutMs ?? DEFAULT_LEADER_TIMEOUT_MS
  const lockName = `${group}:leader`
  let post: ((envelope: Envelope) => void) | undefined

  const start = (sink: TabSink): (() => void) => {
    const channel = new Channel(`${group}:tabs`)
    let stopped = false
    let frozen = false
    let leader = false
    /** Ends the lock callback of the request that made this tab the leader: gives the lock up. */
    let release: (() => void) | undefined
    /** Withdraws the request waiting in the lock's queue. */
    let withdraw: AbortController | undefined
    /** Each request's number; a request that a later one replaced gives its lock back unused. */
    let attempt = 0
    let lastAnswerAt = Date.now()
    let checking = false

    const setLeader = (value: boolean) => {
      if (leader === value) return
      leader = value
      if (!stopped) sink.onLeadershipChange(value)
    }
    const send = (envelope: Envelope) => {
      if (!stopped) channel.postMessage(envelope)
    }
    post = send

    const request = (steal: boolean) => {
      const mine = ++attempt
      withdraw?.abort()
      const controller = new AbortController()
      withdraw = steal ? undefined : controller
      const settled = () => {
        if (mine !== attempt) return
        // A stolen lock leaves its callback's promise pending: settle it, nothing waits on it.
        release?.()
        release = undefined
        setLeader(false)
      }
      locks
        .request(lockName, steal ? { steal: true } : { signal: controller.signal }, () => {
          if (stopped || frozen || mine !== attempt) return undefined
          withdraw = undefined
          return new Promise<void>((resolve) => {
            release = resolve
            setLeader(true)
            // Followers waiting on a check hear at once that a leader answers.
            send({ t: 'pong' })
          })
        })
        .then(settled, () => {
          // Stolen by a tab that found this one silent, or withdrawn (freeze, stop, a newer request).
          settled()
          if (mine === attempt && !stopped && !frozen) request(false)
        })
    }

    const giveUp = () => {
      attempt++
      withdraw?.abort()
      withdraw = undefined
      release?.()
      release = undefined
      setLeader(false)
    }

    channel.onmessage = (event: MessageEvent) => {
      const envelope = event.data as Envelope | undefined
      if (stopped || typeof envelope !== 'object' || envelope === null) return
      if (envelope.t === 'ping') {
        if (leader) send({ t: 'pong' })
      } else if (envelope.t === 'pong') {
        lastAnswerAt = Date.now()
      } else if (envelope.t === 'message') {
        sink.onMessage(envelope.message)
      }
    }

    /** A follower's check: is the lock held by a tab that still answers? */
    const check = async () => {
      if (stopped || frozen || leader || checking) return
      checking = true
      try {
        const state = await locks.query()
        if (!(state.held ?? []).some((lock) => lock.name === lockName)) return
        const askedAt = Date.now()
        send({ t: 'ping' })
        await delay(leaderTimeoutMs)
        if (lastAnswerAt >= askedAt) return
        // Every follower may reach this point together: wait a random moment so one of them takes
        // over first and its answer stops the others.
        await delay(Math.random() * checkIntervalMs)
        if (lastAnswerAt >= askedAt || stopped || frozen || leader) return
        request(true)
      } finally {
        checking = false
      }
    }
    const timer = setInterval(() => {
      check().catch(() => {})
    }, checkIntervalMs)

    const onFreeze = () => {
      frozen = true
      giveUp()
    }
    const onResume = () => {
      if (!frozen || stopped) return
      frozen = false
      lastAnswerAt = Date.now()
      request(false)
    }
    lifecycle?.addEventListener('freeze', onFreeze)
    lifecycle?.addEventListener('resume', onResume)

    request(false)

    return () => {
      if (stopped) return
      stopped = true
      giveUp()
      clearInterval(timer)
      lifecycle?.removeEventListener('freeze', onFreeze)
      lifecycle?.removeEventListener('resume', onResume)
      if (post === send) post = undefined
      channel.close()
    }
  }

  return {
    name: 'tabs:web-locks',
    start,
    broadcast(message) {
      post?.({ t: 'message', message })
    },
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
