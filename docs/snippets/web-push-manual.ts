/**
 * Web Push in the page without the helpers: subscribing with the server's VAPID key and handing
 * what the service worker posts to the manager. Compiled, not run.
 */
import type { SyncManager } from 'pushsync'

const server = 'https://sync.example.com'

// #region subscribe
function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/')
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
}

export async function enableWebPush(manager: SyncManager) {
  const registration = await navigator.serviceWorker.register('/sw.js', { type: 'module' })
  // Browsers ask the user; Safari only allows it from a click or tap.
  if ((await Notification.requestPermission()) !== 'granted') return

  const { publicKey } = (await (await fetch(`${server}/pushsync/vapid-public-key`)).json()) as {
    publicKey: string
  }
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({
      userVisibleOnly: true, // required by Chrome and Safari
      applicationServerKey: fromBase64url(publicKey),
    }))

  // The whole subscription is the token: endpoint plus the keys the server encrypts to.
  await manager.registerDevice('WEBPUSH', JSON.stringify(subscription))
  await manager.subscribeAll() // or dataset.subscribe() for each dataset to be pushed
}
// #endregion subscribe

// #region relay
export function listenToServiceWorker(manager: SyncManager) {
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type !== 'pushsync:push') return
    try {
      void manager.handlePushSyncUpdate(manager.getPushSyncUpdate(event.data.payload))
    } catch {
      // Not a push-sync update (PUSH_PAYLOAD_INVALID): nothing to synchronize.
    }
  })
}
// #endregion relay
