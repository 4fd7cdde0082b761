/**
 * Getting started in React Native: SQLite through the app's SQLite library (expo-sqlite here),
 * FCM and APNs pushes through the callback push sources, and a sync whenever the app comes to the
 * foreground. pushsync imports no native module: the app hands its own over. Compiled, not run.
 */
import { createSyncManager, type SyncManager } from 'pushsync'
import { createApnsPushSource, createFcmPushSource } from 'pushsync/push/callback'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createSqliteStorage, type SqliteDriver, type SqlRow, type SqlValue } from 'pushsync/storage/sqlite'
import { createHttpTransport } from 'pushsync/transport/http'

// What the app provides, typed as much as this file uses: expo-sqlite's database, React Native
// Firebase's messaging(), a native module handing over APNs userInfo, and react-native's AppState
// and Platform.
declare const SQLite: {
  openDatabaseAsync(name: string): Promise<{
    execAsync(sql: string): Promise<void>
    runAsync(sql: string, params: SqlValue[]): Promise<unknown>
    getAllAsync<T>(sql: string, params: SqlValue[]): Promise<T[]>
    closeAsync(): Promise<void>
  }>
}
declare const messaging: () => {
  getToken(): Promise<string>
  onMessage(listener: (message: { data?: Record<string, string> }) => void): () => void
  onTokenRefresh(listener: (token: string) => void): () => void
}
declare const apnsNotifications: {
  getDeviceToken(): Promise<string | null>
  onNotification(listener: (userInfo: Record<string, unknown>) => void): () => void
}
declare const AppState: {
  addEventListener(type: 'change', listener: (state: string) => void): { remove(): void }
}
declare const Platform: { readonly OS: 'ios' | 'android' }
declare const __DEV__: boolean
declare const session: { identityId: string; getToken(): Promise<string> }

const endpoint = 'https://sync.example.com'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

// #region storage
export async function openStorage() {
  const db = await SQLite.openDatabaseAsync('pushsync.db')
  const driver: SqliteDriver = {
    exec: (sql) => db.execAsync(sql),
    run: (sql, params) => db.runAsync(sql, [...params]),
    all: (sql, params) => db.getAllAsync<SqlRow>(sql, [...params]),
    close: () => db.closeAsync(),
  }
  return createSqliteStorage({ driver })
}

// Or, for a session that need not survive a restart (a demo, a test): createMemoryStorage()
export const ephemeralStorage = createMemoryStorage
// #endregion storage

// #region manager
export async function startSync(): Promise<SyncManager> {
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
