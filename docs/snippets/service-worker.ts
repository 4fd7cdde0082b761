/**
 * A service worker (sw.js) that relays pushsync's Web Push pushes to the open pages, or shows a
 * notification when none is open. Compiled, not run.
 */
import { parsePushPayload } from 'pushsync/core'

// The worker's global scope, as much of it as this file uses (the DOM library has no worker types).
interface PushEvent {
  readonly data: { text(): string } | null
  waitUntil(promise: Promise<unknown>): void
}
declare const self: {
  addEventListener(type: 'push', listener: (event: PushEvent) => void): void
  readonly clients: {
    matchAll(options: {
      type: 'window'
      includeUncontrolled: boolean
    }): Promise<ReadonlyArray<{ postMessage(message: unknown): void }>>
  }
  readonly registration: { showNotification(title: string, options?: NotificationOptions): Promise<void> }
}

// #region worker
self.addEventListener('push', (event) => {
  event.waitUntil(
    (async () => {
      const parsed = parsePushPayload(event.data?.text() ?? '')
      if (!parsed.ok) return // another feature's push, or a malformed one
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
      for (const client of windows) client.postMessage({ type: 'pushsync:push', payload: parsed.value })
      if (windows.length === 0) {
        // No page open: either synchronize here (a SyncManager over IndexedDB works in a worker)
        // or tell the user. Browsers expect a notification for a push that arrives with no page
        // visible: Chrome shows a generic one otherwise, and Safari may end the subscription.
        await self.registration.showNotification('Updated', {
          body: `${parsed.value.datasetName} changed on another device`,
          tag: `pushsync:${parsed.value.datasetName}`, // one notification per dataset, replaced
        })
      }
    })(),
  )
})
// #endregion worker
