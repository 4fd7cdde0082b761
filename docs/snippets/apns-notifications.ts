/**
 * The app's own bridge to iOS notifications (a small native module: React Native has no APNs API
 * of its own; see docs/push/native.md), declared with the part the React Native guide uses.
 */
export declare const apnsNotifications: {
  /** The APNs device token, or null before the user allowed notifications. */
  getDeviceToken(): Promise<string | null>
  /** Calls the listener with each notification's `userInfo`; returns the unsubscribe function. */
  onNotification(listener: (userInfo: Record<string, unknown>) => void): () => void
}
