/**
 * Web Push in the service worker: the browser starts the worker with a `push` event, and
 * {@link relayPush} posts the payload to every window of the app, where `createWebPushSource`
 * (`pushsync/push/webpush`) hands it to the sync manager. The payload is relayed as it arrived; the
 * manager parses it and decides whether to sync.
 *
 * ```ts
 * // sw.js
 * import { relayPush } from 'pushsync/push/webpush/service-worker'
 *
 * self.addEventListener('push', (event) =>
 *   relayPush(event, self, { showNotificationWhenHidden: { title: 'Updated' } }),
 * )
 * ```
 *
 * The page subscribes with `userVisibleOnly: true` (Chrome and Safari accept nothing else), which
 * promises a visible notification for every push: Chrome shows a generic one when the worker shows
 * none, and Safari may end the subscription. So when no window is open, the worker should show one:
 * `showNotificationWhenHidden` does it, or the app's own `push` listener can.
 *
 * @module pushsync/push/webpush/service-worker
 */
import { PUSH_MESSAGE_TYPE } from './index.js'

/** The part of a `PushEvent` this module reads. */
export interface PushEventLike {
  readonly data?: { json(): unknown; text(): string } | null
  waitUntil(promise: Promise<unknown>): void
}

/** A window client of the worker. */
export interface ClientLike {
  postMessage(message: unknown): void
}

/** The part of the worker's global scope (`self`) this module uses. */
export interface ServiceWorkerGlobalScopeLike {
  readonly clients: {
    matchAll(options: {
      readonly type: 'window'
      readonly includeUncontrolled: boolean
    }): Promise<readonly ClientLike[]>
  }
  readonly registration: {
    showNotification(title: string, options?: object): Promise<unknown>
  }
}

/** What `relayPush` takes. */
export interface RelayPushOptions {
  /**
   * Shown with `self.registration.showNotification` when no window of the app is open, so the
   * push is visible as `userVisibleOnly` promised. Nothing is shown when a window got the push.
   */
  readonly showNotificationWhenHidden?: { readonly title: string; readonly options?: object }
}

/**
 * Posts the push's payload (its JSON, or its text when it is not JSON) as
 * `{ type: 'pushsync:push', payload }` to every window client, including the ones the worker does
 * not control yet, inside `event.waitUntil` so the browser keeps the worker alive until done.
 *
 * @returns the promise given to `waitUntil`.
 */
export function relayPush(
  event: PushEventLike,
  self: ServiceWorkerGlobalScopeLike,
  options: RelayPushOptions = {},
): Promise<void> {
  const done = relay(event, self, options)
  event.waitUntil(done)
  return done
}

async function relay(
  event: PushEventLike,
  self: ServiceWorkerGlobalScopeLike,
  options: RelayPushOptions,
): Promise<void> {
  const payload = readPayload(event)
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
  for (const client of windows) {
    // One window failing to take the message must not keep the others from getting it.
    try {
      client.postMessage({ type: PUSH_MESSAGE_TYPE, payload })
    } catch {}
  }
  const notification = options.showNotificationWhenHidden
  if (windows.length === 0 && notification !== undefined) {
    await self.registration.showNotification(notification.title, notification.options)
  }
}

function readPayload(event: PushEventLike): unknown {
  const data = event.data
  if (data === undefined || data === null) return undefined
  try {
    return data.json()
  } catch {
    // Not JSON: the text still reaches the manager, which reports it as an ignored push.
    return data.text()
  }
}
