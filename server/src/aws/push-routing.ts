import type { PushSender, SendOutcome } from '../push/sender.js'
import type { SnsRoute, SnsSender } from '../push/senders/sns.js'
import type { DevicePlatform, PoolRow, StoreTx, SyncStore } from '../store/contract.js'
import {
  isRoleArn,
  isSnsPlatform,
  parsePlatformApplicationArn,
  SNS_PLATFORMS,
  type SnsPlatform,
} from './arns.js'

/**
 * Which way a pool's pushes go. A pool whose PushSync names SNS platform applications and a role
 * pushes to its devices of those platforms through SNS, whatever senders the server has; its other
 * devices, and every device of other pools, go through the server's own senders.
 */

/** The SNS routes a pool's PushSync setting makes, by platform; empty without one. */
export function snsRoutes(pool: PoolRow | undefined): Map<SnsPlatform, SnsRoute> {
  const routes = new Map<SnsPlatform, SnsRoute>()
  if (pool?.pushSync == null) return routes
  let setting: { ApplicationArns?: unknown; RoleArn?: unknown }
  try {
    setting = JSON.parse(pool.pushSync) as typeof setting
  } catch {
    return routes
  }
  const { ApplicationArns, RoleArn } = setting
  if (typeof RoleArn !== 'string' || !isRoleArn(RoleArn) || !Array.isArray(ApplicationArns)) return routes
  for (const arn of ApplicationArns) {
    const application = typeof arn === 'string' ? parsePlatformApplicationArn(arn) : undefined
    if (application !== undefined && !routes.has(application.platform))
      routes.set(application.platform, { application, roleArn: RoleArn })
  }
  return routes
}

/** The platforms a pool pushes to through SNS: what the outbox queues beyond the server's senders. */
export async function snsPlatformsOf(
  tx: StoreTx,
  identityPoolId: string,
): Promise<ReadonlySet<DevicePlatform>> {
  return new Set(snsRoutes(await tx.getPool(identityPoolId)).keys())
}

/**
 * The sender of Cognito's four platforms: SNS when the device's pool routes its platform there,
 * else the server's own sender of the platform. It takes the place of those senders in the
 * dispatcher, so the dispatcher itself knows nothing of pools.
 */
export function createPoolPushRouter(options: {
  readonly store: SyncStore
  readonly sns: SnsSender
  /** The server's own senders, for the pools and platforms SNS does not serve. */
  readonly senders: readonly PushSender[]
}): PushSender {
  const own = new Map<DevicePlatform, PushSender>()
  for (const sender of options.senders)
    for (const platform of sender.platforms) if (!own.has(platform)) own.set(platform, sender)

  return {
    platforms: SNS_PLATFORMS,
    async send(message): Promise<SendOutcome> {
      const pool = await options.store.transaction((tx) => tx.getPool(message.identityPoolId))
      const route = isSnsPlatform(message.platform) ? snsRoutes(pool).get(message.platform) : undefined
      if (route !== undefined) return options.sns.send(message, route)
      const sender = own.get(message.platform)
      if (sender !== undefined) return sender.send(message)
      // Queued while the pool pushed through SNS, whose setting has gone since.
      return { kind: 'failed', reason: `No sender for ${message.platform} in pool ${message.identityPoolId}` }
    },
  }
}
