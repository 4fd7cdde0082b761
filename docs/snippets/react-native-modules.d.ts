/**
 * The React Native modules the React Native guide imports, declared with the part of their API it
 * uses, so the guide's code compiles here as it would in an app that installed them (expo-sqlite,
 * React Native Firebase's messaging, react-native itself).
 */

declare module 'expo-sqlite' {
  export interface SQLiteDatabase {
    execAsync(sql: string): Promise<void>
    runAsync(sql: string, params: Array<string | number | null | Uint8Array>): Promise<unknown>
    getAllAsync<T>(sql: string, params: Array<string | number | null | Uint8Array>): Promise<T[]>
    closeAsync(): Promise<void>
  }
  export function openDatabaseAsync(name: string): Promise<SQLiteDatabase>
}

declare module '@react-native-firebase/messaging' {
  interface Messaging {
    getToken(): Promise<string>
    onMessage(listener: (message: { data?: Record<string, string> }) => void): () => void
    onTokenRefresh(listener: (token: string) => void): () => void
  }
  const messaging: () => Messaging
  export default messaging
}

declare module 'react-native' {
  export const AppState: {
    addEventListener(type: 'change', listener: (state: string) => void): { remove(): void }
  }
  export const Platform: { readonly OS: 'ios' | 'android' }
}

/** React Native's development-build flag. */
declare const __DEV__: boolean
