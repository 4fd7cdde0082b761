import type { Context } from 'hono'

/** Where browsers fetch the `applicationServerKey` for `PushManager.subscribe`. */
export const VAPID_PUBLIC_KEY_PATH = '/pushsync/vapid-public-key'

/**
 * `GET /pushsync/vapid-public-key`: `{ "publicKey": "<base64url>" }`, the server's VAPID public key.
 * It is public by design (the browser hands it to its push service), so the route needs no
 * signature, which lets a page subscribe before it has any credentials.
 *
 * Without Web Push configured it answers 404 `ResourceNotFoundException` in Cognito's error shape,
 * like every other refusal of this server, so clients read it with the code they already have.
 */
export function vapidPublicKeyHandler(publicKey: string | undefined): (c: Context) => Response {
  // The request id is the app's, set on every response.
  return (c) => {
    if (publicKey === undefined || publicKey === '') {
      const type = 'ResourceNotFoundException'
      return c.json({ __type: type, message: 'Web Push is not configured on this server' }, 404, {
        'x-amzn-ErrorType': type,
      })
    }
    // Revalidated on each use: after a key rotation, a page must not subscribe with the old key,
    // or every push to that subscription would be refused.
    return c.json({ publicKey }, 200, { 'cache-control': 'no-cache' })
  }
}
