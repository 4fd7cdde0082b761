import type { DevicePlatform, OutboxRow, StoreTx } from '../store/contract.js'
import type { ChangeListener } from './change.js'

export interface PushOutboxOptions {
  /** Platforms some sender delivers to; devices of other platforms get no row. */
  readonly platforms: Iterable<DevicePlatform>
  /**
   * Platforms a pool's own setting delivers to besides (its SNS platform applications), read in the
   * change's transaction; none without it.
   */
  readonly poolPlatforms?: (tx: StoreTx, identityPoolId: string) => Promise<ReadonlySet<DevicePlatform>>
  readonly now: () => number
  /** How long a push is worth retrying, from the change (default 24 h). */
  readonly ttlMs?: number
  /** Push to the device that made the change too (default false: it already has the data). */
  readonly echoToOrigin?: boolean
}

export const DEFAULT_PUSH_TTL_MS = 24 * 60 * 60 * 1000

/**
 * Records a push for every device subscribed to a changed dataset, inside the change's transaction:
 * the pushes commit or roll back with the change, so a crash between commit and delivery loses none
 * and a refused UpdateRecords queues none. The dispatcher delivers them.
 */
export function createPushOutbox(options: PushOutboxOptions): ChangeListener {
  const platforms = new Set(options.platforms)
  const ttlMs = options.ttlMs ?? DEFAULT_PUSH_TTL_MS
  const echoToOrigin = options.echoToOrigin ?? false
  return {
    async inTransaction(tx, change) {
      // Without a sender there is nothing to deliver, so not even the subscriptions are read.
      if (platforms.size === 0 && options.poolPlatforms === undefined) return
      const devices = await tx.listSubscribedDevices(change.identityId, change.datasetName)
      // The pool's setting is read only when a device needs it.
      const pooled =
        options.poolPlatforms === undefined || devices.every((device) => platforms.has(device.platform))
          ? undefined
          : await options.poolPlatforms(tx, change.identityPoolId)
      const at = options.now()
      const rows: OutboxRow[] = devices
        .filter(
          (device) =>
            (platforms.has(device.platform) || pooled?.has(device.platform) === true) &&
            (echoToOrigin || device.deviceId !== change.originDeviceId),
        )
        .map((device) => ({
          deviceId: device.deviceId,
          identityPoolId: change.identityPoolId,
          identityId: change.identityId,
          datasetName: change.datasetName,
          syncCount: change.syncCount,
          attempts: 0,
          notBefore: at,
          expiresAt: at + ttlMs,
          queuedAt: at,
        }))
      if (rows.length > 0) await tx.putOutbox(rows)
    },
  }
}
