/**
 * An app that embeds the server: `createSyncServer` on a SQLite file (better-sqlite3's native module
 * as installed), limits from `pushsync/core` through the server's own types, one guest sign-in.
 * Prints one JSON line for the packaging test.
 */
import { createSyncServer, generateVapidKeys, type SyncServerOptions } from '@pushsync/server'

const options: SyncServerOptions = {
  db: 'embedded.db',
  allowUnauthenticated: true,
  limits: { maxRecordsPerDataset: 1024 },
  webPush: { vapid: { subject: 'mailto:ops@example.com', ...generateVapidKeys() } },
}
const server = await createSyncServer(options)
const { url } = await server.listen(0, '127.0.0.1')

const response = await fetch(`${url}/`, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'AWSCognitoIdentityService.GetId',
  },
  body: JSON.stringify({ IdentityPoolId: 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00' }),
})
const { IdentityId } = (await response.json()) as { IdentityId?: string }
await server.close()

console.log(JSON.stringify({ status: response.status, identityId: IdentityId ?? null }))
