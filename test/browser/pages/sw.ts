/**
 * The app's service worker for the Web Push test: every push goes to the app's windows through
 * `relayPush`, exactly as the documentation's service worker does.
 */
import { relayPush, type ServiceWorkerGlobalScopeLike } from 'pushsync/push/webpush/service-worker'

const worker = globalThis as unknown as ServiceWorkerGlobalScopeLike & {
  addEventListener(type: 'push', listener: (event: never) => void): void
  addEventListener(
    type: 'activate',
    listener: (event: { waitUntil(promise: Promise<unknown>): void }) => void,
  ): void
  clients: ServiceWorkerGlobalScopeLike['clients'] & { claim(): Promise<void> }
}

worker.addEventListener('push', (event) => relayPush(event, worker))
// Control the page that registered the worker at once, as apps usually do.
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()))
