/**
 * Handing FCM and APNs pushes to the manager in the app: React Native Firebase, then Capacitor.
 * The platform modules are declared with the part of their API used here. Compiled, not run.
 */
import type { Platform as PushPlatform, SyncManager } from 'pushsync'

declare const manager: SyncManager

// #region rn-firebase
// @react-native-firebase/messaging and react-native, as much as used here.
declare const messaging: () => {
  getToken(): Promise<string>
  registerDeviceForRemoteMessages(): Promise<void>
  getAPNSToken(): Promise<string | null>
  onMessage(listener: (message: { data?: Record<string, unknown> }) => Promise<void>): () => void
  setBackgroundMessageHandler(handler: (message: { data?: Record<string, unknown> }) => Promise<void>): void
  onTokenRefresh(listener: (token: string) => void): () => void
}
declare const Platform: { readonly OS: 'ios' | 'android' }
declare const AppState: { addEventListener(type: 'change', listener: (state: string) => void): unknown }
declare const __DEV__: boolean

async function registerPush() {
  if (Platform.OS === 'android') {
    await manager.registerDevice('GCM', await messaging().getToken())
  } else {
    // iOS: register the APNs token itself, not the FCM token, so the server talks to APNs directly.
    await messaging().registerDeviceForRemoteMessages()
    const apnsToken = await messaging().getAPNSToken()
    if (apnsToken !== null) await manager.registerDevice(__DEV__ ? 'APNS_SANDBOX' : 'APNS', apnsToken)
  }
  await manager.subscribeAll()
}

const onPush = async (message: { data?: Record<string, unknown> }) => {
  await manager.handlePushSyncUpdate(manager.getPushSyncUpdate(message.data))
}
messaging().onMessage(onPush)
messaging().setBackgroundMessageHandler(onPush) // at the top level of index.js
messaging().onTokenRefresh(() => registerPush())

// Pushes can be throttled or dropped: sync whenever the app comes back.
export const syncEverything = async () => {
  for (const meta of await manager.listDatasets())
    await (await manager.openOrCreateDataset(meta.name)).synchronize()
}
AppState.addEventListener('change', (state) => {
  if (state === 'active') void syncEverything()
})
// #endregion rn-firebase

// #region capacitor
// @capacitor/push-notifications, @capacitor/app and @capacitor/core, as much as used here.
declare const PushNotifications: {
  addListener(event: 'registration', listener: (token: { value: string }) => void): unknown
  addListener(
    event: 'pushNotificationReceived',
    listener: (notification: { data: Record<string, unknown> }) => void,
  ): unknown
  requestPermissions(): Promise<{ receive: string }>
  register(): Promise<void>
}
declare const App: { addListener(event: 'resume', listener: () => void): unknown }
declare const Capacitor: { getPlatform(): string }
// DEV_BUILD: true in builds signed for development (the `aps-environment` entitlement).
declare const DEV_BUILD: boolean

PushNotifications.addListener('registration', async ({ value }) => {
  const platform: PushPlatform =
    Capacitor.getPlatform() === 'ios' ? (DEV_BUILD ? 'APNS_SANDBOX' : 'APNS') : 'GCM'
  await manager.registerDevice(platform, value)
  await manager.subscribeAll()
})
PushNotifications.addListener('pushNotificationReceived', async (notification) => {
  await manager.handlePushSyncUpdate(manager.getPushSyncUpdate(notification.data))
})
App.addListener('resume', () => void syncEverything()) // as in the React Native example

if ((await PushNotifications.requestPermissions()).receive === 'granted') await PushNotifications.register()
// #endregion capacitor
