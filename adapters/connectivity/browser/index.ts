/**
 * The browser's connectivity for `createSyncManager({ connectivity })`: `navigator.onLine` and the
 * window's `online` and `offline` events. A browser that says online may still not reach the
 * server (a captive portal, a server that is down); the engine then finds out from its requests.
 * Offline, though, is reliable: background syncs wait, and pending changes go out when it ends.
 *
 * @module
 */
import type { ConnectivitySource } from '../../../src/contracts/connectivity.js'

/** What the source reads: `navigator` and `window` by default; a worker's `self` works too. */
export interface BrowserConnectivityOptions {
  readonly navigator?: { readonly onLine?: boolean }
  readonly target?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>
}

/**
 * Creates the connectivity source for `createSyncManager({ connectivity })` (and `SyncProvider`'s
 * `connectivity`): online as `navigator.onLine` says, told of every `online` and `offline` event.
 */
export function createBrowserConnectivity(options: BrowserConnectivityOptions = {}): ConnectivitySource {
  const scope = globalThis as { navigator?: { onLine?: boolean } } & Partial<EventTarget>
  const navigator = options.navigator ?? scope.navigator
  const target =
    options.target ?? (typeof scope.addEventListener === 'function' ? (scope as EventTarget) : undefined)
  return {
    // Where the platform does not say (server rendering, Node), assume online: requests will tell.
    isOnline: () => navigator?.onLine !== false,
    subscribe(listener) {
      if (target === undefined) return () => {}
      const online = () => listener(true)
      const offline = () => listener(false)
      target.addEventListener('online', online)
      target.addEventListener('offline', offline)
      return () => {
        target.removeEventListener('online', online)
        target.removeEventListener('offline', offline)
      }
    },
  }
}
