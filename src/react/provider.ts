import { createContext, createElement, type ReactElement, type ReactNode, useContext, useMemo } from 'react'
import { SyncError } from '../errors.js'
import type { ConnectivitySource, SyncManager } from '../index.js'

/** What the provider hands to the hooks. */
export interface SyncContextValue {
  /** Null on the server and before sign-in: the hooks then report loading. */
  readonly manager: SyncManager | null
  readonly connectivity: ConnectivitySource | undefined
}

/** What `<SyncProvider>` takes. */
export interface SyncProviderProps {
  /**
   * The app's sync manager. Null while there is none: during server rendering (the manager's storage
   * lives in the browser) or before sign-in; the hooks then report loading and writes reject.
   */
  readonly manager: SyncManager | null
  /**
   * The connectivity source given to the manager (`pushsync/connectivity/browser`), so
   * `useSyncStatus` can say whether the device is online; without one it says online.
   */
  readonly connectivity?: ConnectivitySource | undefined
  readonly children?: ReactNode
}

const SyncContext = createContext<SyncContextValue | undefined>(undefined)
SyncContext.displayName = 'SyncContext'

/** Makes `manager` (and `connectivity`) available to the hooks of every component below it. */
export function SyncProvider({ manager, connectivity, children }: SyncProviderProps): ReactElement {
  // One object per manager and source, so the components below do not re-render for nothing.
  const value = useMemo(() => ({ manager, connectivity }), [manager, connectivity])
  // `.Provider` rather than React 19's `<Context>`: React 18 is supported too.
  return createElement(SyncContext.Provider, { value }, children)
}

/** The provider's value; outside a provider a programming error, thrown as one. */
export function useSyncContext(hook: string): SyncContextValue {
  const value = useContext(SyncContext)
  if (value === undefined) {
    throw new SyncError('INVALID_ARGUMENT', `${hook} must be called inside <SyncProvider manager={...}>`)
  }
  return value
}

/**
 * The manager of the nearest `<SyncProvider>`, or null while it has none (server rendering, before
 * sign-in). Throws `INVALID_ARGUMENT` outside a provider.
 */
export function useSyncManager(): SyncManager | null {
  return useSyncContext('useSyncManager').manager
}
