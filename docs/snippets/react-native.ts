/**
 * Getting started in React Native: FCM and APNs pushes through the callback push sources, and a
 * sync whenever the app comes to the foreground. pushsync imports no native module: the app hands
 * its own over (react-native-modules.d.ts declares the ones used here). Compiled, not run.
 */
// #region manager
import messaging from '@react-native-firebase/messaging'
import { createSyncManager, type SyncManager } from 'pushsync'
import { createApnsPushSource, createFcmPushSource } from 'pushsync/push/callback'
import { createHttpTransport } from 'pushsync/transport/http'
import { AppState, Platform } from 'react-native'
import { apnsNotifications } from './apns-notifications.js'
import { openStorage } from './react-native-storage.js'
import type { GuestSession } from './sign-in.js'

const endpoint = 'https://sync.example.com'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

export async function startSync(session: GuestSession): Promise<SyncManager> {
  const manager = createSyncManager({
    identityPoolId,
    identityId: session.identityId,
    storage: await openStorage(),
    transport: createHttpTransport({
      endpoint,
      identityPoolId,
      identityId: session.identityId,
      getToken: () => session.getToken(),
    }),
  })

  // Pushes: the platform's SDK stays in the app, the sources hand the payloads to the manager.
  if (Platform.OS === 'android') {
    manager.addPushSource(createFcmPushSource({ onMessage: (listener) => messaging().onMessage(listener) }))
    await manager.registerDevice('GCM', await messaging().getToken())
    messaging().onTokenRefresh((token) => void manager.registerDevice('GCM', token))
  } else {
    manager.addPushSource(
      createApnsPushSource({ onNotification: (listener) => apnsNotifications.onNotification(listener) }),
    )
    // Development builds get sandbox tokens (the `aps-environment` entitlement decides).
    const token = await apnsNotifications.getDeviceToken()
    if (token !== null) await manager.registerDevice(__DEV__ ? 'APNS_SANDBOX' : 'APNS', token)
  }
  // Every local dataset the server has; subscribing needs a registered device.
  if (await manager.isDeviceRegistered()) await manager.subscribeAll()

  // Pushes can be throttled or dropped: also sync whenever the app comes back to the foreground.
  AppState.addEventListener('change', (state) => {
    if (state === 'active') void syncEverything(manager)
  })
  await syncEverything(manager)
  return manager
}

async function syncEverything(manager: SyncManager) {
  for (const meta of await manager.listDatasets()) {
    const dataset = await manager.openOrCreateDataset(meta.name)
    await dataset.synchronize().catch(() => {}) // offline: the next foreground or push retries
  }
}
// #endregion manager
