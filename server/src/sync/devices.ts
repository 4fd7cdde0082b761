import { invalidParameter, resourceNotFound } from '../errors.js'
import { DEFAULT_OUTBOUND } from '../ops/outbound.js'
import { deviceTokenRefusal } from '../push/device-tokens.js'
import type { DevicePlatform } from '../store/contract.js'
import { authorizeIdentityOnly, checkDatasetName } from './access.js'
import type { OperationContext } from './context.js'

const PLATFORMS: readonly DevicePlatform[] = ['APNS', 'APNS_SANDBOX', 'GCM', 'ADM', 'WEBPUSH']
const DEFAULT_TOKEN_RULES = deviceTokenRefusal(DEFAULT_OUTBOUND)

/**
 * RegisterDevice: a device id for (identity, platform, token). The same three always get the same
 * id, so an app that registers on every start does not pile up devices.
 */
export async function registerDevice(
  context: OperationContext,
  input: { readonly identityPoolId: string; readonly identityId: string; readonly body: unknown },
): Promise<{ DeviceId: string }> {
  authorizeIdentityOnly(context.principal, input.identityPoolId, input.identityId)
  const body = (typeof input.body === 'object' && input.body !== null ? input.body : {}) as Record<
    string,
    unknown
  >
  const { Platform: platform, Token: token } = body
  if (typeof platform !== 'string' || !PLATFORMS.includes(platform as DevicePlatform)) {
    throw invalidParameter(`Platform must be one of ${PLATFORMS.join(', ')}`)
  }
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
    throw invalidParameter('Token must be a non-empty string')
  }
  const refusal = (context.deviceTokenRefusal ?? DEFAULT_TOKEN_RULES)(platform, token)
  if (refusal !== undefined) throw invalidParameter(`Token is not usable for ${platform}: ${refusal}`)
  return context.store.transaction(
    async (tx) => {
      const known = await tx.findDevice(input.identityId, platform as DevicePlatform, token)
      if (known !== undefined) return { DeviceId: known.deviceId }
      const deviceId = context.randomId()
      await tx.putDevice({
        deviceId,
        identityPoolId: input.identityPoolId,
        identityId: input.identityId,
        platform: platform as DevicePlatform,
        token,
        createdAt: context.now,
      })
      return { DeviceId: deviceId }
    },
    { lock: input.identityId },
  )
}

export interface SubscriptionInput {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
  readonly deviceId: string
}

/**
 * SubscribeToDataset / UnsubscribeFromDataset: the dataset must exist and the device must be one of
 * the identity's, else ResourceNotFoundException. Unsubscribing twice is fine.
 */
export async function setSubscription(
  context: OperationContext,
  input: SubscriptionInput,
  subscribed: boolean,
): Promise<Record<string, never>> {
  authorizeIdentityOnly(context.principal, input.identityPoolId, input.identityId)
  const name = checkDatasetName(input.datasetName, context)
  if (input.deviceId.length === 0 || input.deviceId.length > 256) {
    throw invalidParameter('DeviceId must be 1 to 256 characters')
  }
  return context.store.transaction(
    async (tx) => {
      const device = await tx.getDevice(input.deviceId)
      if (device === undefined || device.identityId !== input.identityId) {
        throw resourceNotFound(`Device ${input.deviceId} not found`)
      }
      const dataset = await tx.getDataset(input.identityId, name)
      if (dataset === undefined || !dataset.exists) throw resourceNotFound(`Dataset ${name} not found`)
      if (subscribed) await tx.putSubscription(input.identityId, name, input.deviceId)
      else await tx.deleteSubscription(input.identityId, name, input.deviceId)
      return {}
    },
    { lock: input.identityId },
  )
}
