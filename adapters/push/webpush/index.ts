/**
 * Web Push in the page: subscribing the browser with the server's VAPID key and registering the
 * subscription as the device token, and a push source relaying what the service worker forwards
 * (see `pushsync/push/webpush/service-worker`). The push itself arrives in the worker, not the
 * page, so the worker posts it to every window and this source hands it to the sync manager.
 *
 * It uses small structural types instead of the DOM's, so it type-checks in any project; the
 * browser's `navigator.serviceWorker` and `ServiceWorkerRegistration` fit them.
 *
 * ```ts
 * const registration = await navigator.serviceWorker.register('/sw.js', { type: 'module' })
 * const { publicKey } = await (await fetch(`${server}/pushsync/vapid-public-key`)).json()
 * await subscribeToWebPush({
 *   registration,
 *   vapidPublicKey: publicKey,
 *   register: (token) => manager.registerDevice('WEBPUSH', token),
 * })
 * const stop = manager.addPushSource(createWebPushSource())
 * ```
 *
 * @module pushsync/push/webpush
 */
import type { PushSink, PushSource } from '../../../src/contracts/push-source.js'
import { SyncError } from '../../../src/errors.js'

/** The `type` of the messages the service worker posts to the windows (see `relayPush`). */
export const PUSH_MESSAGE_TYPE = 'pushsync:push'

/** The part of a `message` event of the service worker container this source reads. */
export interface ServiceWorkerMessageEventLike {
  readonly data?: unknown
}

/** The part of `navigator.serviceWorker` this source uses. */
export interface ServiceWorkerContainerLike {
  addEventListener(type: 'message', listener: (event: ServiceWorkerMessageEventLike) => void): void
  removeEventListener(type: 'message', listener: (event: ServiceWorkerMessageEventLike) => void): void
}

/** What `createWebPushSource` takes. */
export interface WebPushSourceOptions {
  /** Default: `globalThis.navigator.serviceWorker`, looked up on every `start`. */
  readonly serviceWorker?: ServiceWorkerContainerLike
}

const NAME = 'push:webpush'

/**
 * Creates the source relaying the pushes the service worker posts to this page. Messages of other
 * types (the app's own) are left alone. Without a service worker container (an insecure context,
 * a browser without service workers), `start` reports `PUSH_UNSUPPORTED` and relays nothing.
 */
export function createWebPushSource(options: WebPushSourceOptions = {}): PushSource {
  return {
    name: NAME,
    start(sink: PushSink) {
      const container = options.serviceWorker ?? defaultContainer()
      if (container === undefined) {
        sink.onError(
          new SyncError('PUSH_UNSUPPORTED', 'this environment has no service worker container', {
            adapter: NAME,
          }),
        )
        return () => {}
      }
      let stopped = false
      const listener = (event: ServiceWorkerMessageEventLike) => {
        // The browser's event dispatch must never see an exception of ours.
        if (stopped) return
        try {
          const data = event.data
          if (typeof data !== 'object' || data === null) return
          if ((data as { type?: unknown }).type !== PUSH_MESSAGE_TYPE) return
          sink.onPayload((data as { payload?: unknown }).payload)
        } catch (error) {
          sink.onError(
            new SyncError('PUSH_PAYLOAD_INVALID', 'a push could not be handled', {
              adapter: NAME,
              cause: error,
            }),
          )
        }
      }
      try {
        container.addEventListener('message', listener)
      } catch (error) {
        sink.onError(
          new SyncError('PUSH_UNSUPPORTED', 'listening to the service worker failed', {
            adapter: NAME,
            cause: error,
          }),
        )
        return () => {}
      }
      // Nothing to connect: the service worker relays from now on.
      sink.onConnected?.()
      return () => {
        if (stopped) return
        stopped = true
        container.removeEventListener('message', listener)
      }
    },
  }
}

function defaultContainer(): ServiceWorkerContainerLike | undefined {
  // Node and some workers have no `navigator`, or one without `serviceWorker`.
  const navigator = (globalThis as { navigator?: { serviceWorker?: ServiceWorkerContainerLike } }).navigator
  return navigator?.serviceWorker ?? undefined
}

/** The part of a `PushSubscription` used here; `JSON.stringify` of it is the device token. */
export interface PushSubscriptionLike {
  /** The key the subscription was made with; `null` or missing when the browser does not say. */
  readonly options?: { readonly applicationServerKey?: ArrayBuffer | null }
  unsubscribe(): Promise<unknown>
}

/** The part of a `ServiceWorkerRegistration` used to subscribe. */
export interface ServiceWorkerRegistrationLike {
  readonly pushManager: {
    getSubscription(): Promise<PushSubscriptionLike | null>
    subscribe(options: {
      readonly userVisibleOnly: boolean
      readonly applicationServerKey: Uint8Array<ArrayBuffer>
    }): Promise<PushSubscriptionLike>
  }
}

/** What `subscribeToWebPush` takes. */
export interface SubscribeToWebPushOptions {
  /** The registration of the service worker that receives the pushes. */
  readonly registration: ServiceWorkerRegistrationLike
  /** The server's VAPID public key, base64url, as `GET /pushsync/vapid-public-key` answers it. */
  readonly vapidPublicKey: string
  /** Registers the token, e.g. `(token) => manager.registerDevice('WEBPUSH', token)`. */
  readonly register: (token: string) => Promise<unknown>
}

/**
 * Subscribes the browser to pushes (or reuses its current subscription) and registers the
 * subscription's JSON as this device's token. Cheap to call at every start: the browser keeps the
 * subscription and the manager asks nothing of the server for a token it registered already, so
 * a subscription the browser renewed is picked up.
 *
 * A current subscription made with another VAPID key is replaced: the server's pushes to it would
 * be refused (403). Browsers ask the user for permission on `subscribe` (Safari only from a click
 * or tap); a refusal throws `PUSH_PERMISSION_DENIED`. Other failures are thrown as they are.
 *
 * @returns the subscription that was registered.
 */
export async function subscribeToWebPush(options: SubscribeToWebPushOptions): Promise<PushSubscriptionLike> {
  const { registration, register } = options
  const key = decodeVapidKey(options.vapidPublicKey)
  const pushManager = registration.pushManager
  let subscription = await pushManager.getSubscription()
  if (subscription !== null && !madeWithKey(subscription, key)) {
    await subscription.unsubscribe()
    subscription = null
  }
  if (subscription === null) {
    try {
      subscription = await pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })
    } catch (error) {
      if ((error as { name?: unknown } | null)?.name === 'NotAllowedError') {
        throw new SyncError('PUSH_PERMISSION_DENIED', 'the user did not allow notifications', {
          adapter: NAME,
          cause: error,
        })
      }
      throw error
    }
  }
  // A real PushSubscription has toJSON: the endpoint plus the keys the server encrypts to.
  await register(JSON.stringify(subscription))
  return subscription
}

/** True unless the subscription says it was made with a different key. */
function madeWithKey(subscription: PushSubscriptionLike, key: Uint8Array): boolean {
  const current = subscription.options?.applicationServerKey
  if (current === undefined || current === null) return true
  const bytes = new Uint8Array(current)
  return bytes.length === key.length && bytes.every((byte, i) => byte === key[i])
}

function decodeVapidKey(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new SyncError('INVALID_ARGUMENT', 'vapidPublicKey must be a base64url string', { adapter: NAME })
  }
  const base64 = text
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(text.length / 4) * 4, '=')
  let binary: string
  try {
    binary = atob(base64)
  } catch (error) {
    throw new SyncError('INVALID_ARGUMENT', 'vapidPublicKey must be a base64url string', {
      adapter: NAME,
      cause: error,
    })
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}
