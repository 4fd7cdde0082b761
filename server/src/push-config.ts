import { readFileSync } from 'node:fs'
import type { ApnsSenderOptions } from './push/senders/apns.js'
import type { FcmSenderOptions } from './push/senders/fcm.js'
import { loadVapidKeys, type VapidKeys } from './push/senders/webpush.js'

export interface PushConfig {
  readonly webPush?: { readonly vapid: VapidKeys }
  readonly apns?: Omit<ApnsSenderOptions, 'now'>
  readonly fcm?: Omit<FcmSenderOptions, 'now'>
}

const APNS_VARIABLES = [
  'PUSHSYNC_APNS_KEY_FILE',
  'PUSHSYNC_APNS_KEY_ID',
  'PUSHSYNC_APNS_TEAM_ID',
  'PUSHSYNC_APNS_BUNDLE_ID',
] as const

/**
 * The push senders the environment configures. A platform set up halfway is an error at startup,
 * not a silent lack of pushes.
 */
export function pushConfigFromEnv(env: Readonly<Record<string, string | undefined>>): PushConfig {
  const config: { -readonly [K in keyof PushConfig]: PushConfig[K] } = {}
  const vapid = loadVapidKeys({}, env)
  if (vapid !== undefined) config.webPush = { vapid }

  const apnsSet = APNS_VARIABLES.filter((name) => (env[name] ?? '') !== '')
  if (apnsSet.length > 0) {
    const missing = APNS_VARIABLES.filter((name) => !apnsSet.includes(name))
    if (missing.length > 0) throw new Error(`APNs is half configured: ${missing.join(', ')} missing`)
    config.apns = {
      privateKey: readFileSync(env.PUSHSYNC_APNS_KEY_FILE ?? '', 'utf8'),
      keyId: env.PUSHSYNC_APNS_KEY_ID ?? '',
      teamId: env.PUSHSYNC_APNS_TEAM_ID ?? '',
      bundleId: env.PUSHSYNC_APNS_BUNDLE_ID ?? '',
    }
  }

  const fcmFile = env.PUSHSYNC_FCM_SERVICE_ACCOUNT_FILE
  if (fcmFile !== undefined && fcmFile !== '') {
    const account = JSON.parse(readFileSync(fcmFile, 'utf8')) as FcmSenderOptions['serviceAccount']
    for (const field of ['project_id', 'client_email', 'private_key'] as const) {
      if (typeof account[field] !== 'string')
        throw new Error(`${fcmFile} has no ${field}: not a service account key`)
    }
    config.fcm = { serviceAccount: account }
  }
  return config
}
