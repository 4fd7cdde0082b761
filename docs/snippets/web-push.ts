/**
 * Web Push in the page, with the helpers of `pushsync/push/webpush`. Compiled, not run.
 */
import type { SyncManager } from 'pushsync'
import { createWebPushSource, subscribeToWebPush } from 'pushsync/push/webpush'

// #region page
export async function enableWebPush(manager: SyncManager, server: string): Promise<() => void> {
  const registration = await navigator.serviceWorker.register('/sw.js', { type: 'module' })
  // Hands the pushes the service worker relays to the manager.
  const stopPush = manager.addPushSource(createWebPushSource())

  const { publicKey } = (await (await fetch(`${server}/pushsync/vapid-public-key`)).json()) as {
    publicKey: string
  }
  // Reuses the browser's subscription (replacing one made with another VAPID key) or subscribes,
  // asking the user; a refusal throws a SyncError with code PUSH_PERMISSION_DENIED.
  await subscribeToWebPush({
    registration,
    vapidPublicKey: publicKey,
    register: (token) => manager.registerDevice('WEBPUSH', token),
  })
  await manager.subscribeAll() // or dataset.subscribe() for each dataset to be pushed
  return stopPush
}
// #endregion page
