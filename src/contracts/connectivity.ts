/**
 * The connectivity port: tells the engine when the device goes on- and offline
 * (`navigator.onLine` and the `online`/`offline` events in a browser, NetInfo in React Native).
 * Background work waits while it says offline, and pending changes go out when it says online again.
 */
export interface ConnectivitySource {
  /** Whether the device is online now; asked before background work starts. */
  isOnline(): boolean
  /** Calls `listener` on every change; returns the function that stops it. */
  subscribe(listener: (online: boolean) => void): () => void
}
