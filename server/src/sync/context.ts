import type { Limits } from 'pushsync/core'
import type { Principal } from '../auth/principal.js'
import type { SessionTokens } from '../auth/session-token.js'
import type { ChangeListener } from '../push/change.js'
import type { SyncStore } from '../store/contract.js'
import type { SpentSessions } from './spent-sessions.js'
import type { SyncTriggerHook } from './sync-trigger.js'

export type { SessionTokens }

/** Everything an operation needs besides its input. Time and randomness come in here, as in the core. */
export interface OperationContext {
  readonly store: SyncStore
  readonly principal: Principal
  readonly now: number
  readonly limits: Limits
  readonly sessions: SessionTokens
  /** A fresh random id (a UUID), for device ids and token ids. */
  readonly randomId: () => string
  /**
   * The sync trigger to run for a pool whose SyncTrigger event names `url` (undefined when none is
   * configured); undefined when no trigger applies.
   */
  readonly syncTriggerFor?: (url: string | undefined) => SyncTriggerHook | undefined
  /** Told of every committed dataset change (push delivery). */
  readonly changes?: ChangeListener
  /** Told of every spent SyncSessionToken, once its UpdateRecords committed. */
  readonly spentSessions?: SpentSessions
  /**
   * Why RegisterDevice cannot take a token for a platform (a malformed Web Push subscription, an
   * endpoint outside the allowed push services), or undefined when it can.
   */
  readonly deviceTokenRefusal?: (platform: string, token: string) => string | undefined
  /** Why a sync trigger URL may not be called (a private or local address), or undefined. */
  readonly syncTriggerUrlRefusal?: (url: string) => string | undefined
}
