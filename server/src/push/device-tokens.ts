import type { OutboundPolicy } from '../ops/outbound.js'
import { parseWebPushSubscription } from './senders/webpush.js'

/**
 * What RegisterDevice refuses of a device token, by platform: a WEBPUSH token must be a browser's
 * `PushSubscription` JSON whose endpoint `policy` allows (an `https:` URL of a known push service),
 * so no request is ever queued for a token that aims the server somewhere else. Tokens of the
 * native platforms are opaque to the server: their providers judge them.
 */
export function deviceTokenRefusal(policy: OutboundPolicy) {
  return (platform: string, token: string): string | undefined => {
    if (platform !== 'WEBPUSH') return undefined
    const parsed = parseWebPushSubscription(token, policy)
    return parsed.ok ? undefined : parsed.reason
  }
}
