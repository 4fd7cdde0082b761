/**
 * Push sources for platforms whose SDK lives in the app: FCM (React Native Firebase, Capacitor's
 * push plugins, a native bridge) and APNs (a native module handing over `userInfo`). They take the
 * app's subscribe function and bundle no native SDK: the app keeps the platform code, pushsync
 * gets the payloads.
 *
 * @module
 */
import type { PushSink, PushSource } from '../../../src/contracts/push-source.js'
import { SyncError } from '../../../src/errors.js'

/**
 * Subscribes a listener to the platform's incoming pushes. What it returns is used to stop it when it
 * is a function (React Native Firebase's `onMessage` returns one); anything else is ignored.
 */
export type SubscribeToPushes = (listener: (payload: unknown) => void) => unknown

function callbackSource(name: string, subscribe: SubscribeToPushes): PushSource {
  return {
    name,
    start(sink: PushSink) {
      let stopped = false
      let unsubscribe: unknown
      try {
        unsubscribe = subscribe((payload) => {
          // The platform's callback must never see an exception of ours.
          if (stopped) return
          try {
            sink.onPayload(payload)
          } catch (error) {
            sink.onError(
              new SyncError('PUSH_PAYLOAD_INVALID', 'a push could not be handled', {
                adapter: name,
                cause: error,
              }),
            )
          }
        })
        // Nothing to connect: the platform delivers from now on.
        sink.onConnected?.()
      } catch (error) {
        sink.onError(
          new SyncError('PUSH_UNSUPPORTED', 'subscribing to the platform’s pushes failed', {
            adapter: name,
            cause: error,
          }),
        )
      }
      return () => {
        if (stopped) return
        stopped = true
        if (typeof unsubscribe === 'function') (unsubscribe as () => void)()
      }
    },
  }
}

/**
 * FCM data messages. `onMessage` is the app's subscription, e.g.
 * `(listener) => messaging().onMessage((message) => listener(message))` with React Native Firebase;
 * the message may be the RemoteMessage (keys under `data`) or its `data` object (all values strings).
 */
export function createFcmPushSource(options: { readonly onMessage: SubscribeToPushes }): PushSource {
  return callbackSource('push:fcm', options.onMessage)
}

/**
 * APNs silent notifications. `onNotification` is the app's subscription to remote notifications,
 * handing over `userInfo` (the push-sync keys are under `data`, as Cognito sent them).
 */
export function createApnsPushSource(options: { readonly onNotification: SubscribeToPushes }): PushSource {
  return callbackSource('push:apns', options.onNotification)
}
