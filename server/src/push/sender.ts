import type { DevicePlatform } from '../store/contract.js'

/** One push to one device: the five keys of a push-sync update, in the platform's shape. */
export interface PushMessage {
  readonly deviceId: string
  readonly platform: DevicePlatform
  /** The platform token the device registered (a Web Push subscription's JSON for WEBPUSH). */
  readonly token: string
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  readonly syncCount: number
}

/**
 * What a delivery attempt came to. `retry`: a transient failure (network, 429, 5xx), worth trying
 * again later; `gone`: the provider says the registration no longer exists, so the device is
 * removed; `failed`: refused for good (a malformed token, bad credentials), dropped.
 */
export type SendOutcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'gone'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string }

/** Delivers pushes for some platforms (Web Push, APNs, FCM...). Never throws: outcomes are values. */
export interface PushSender {
  readonly platforms: readonly DevicePlatform[]
  send(message: PushMessage): Promise<SendOutcome>
}
