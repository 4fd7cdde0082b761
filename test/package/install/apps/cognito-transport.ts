/**
 * pushsync over the AWS SDK v3: `pushsync/transport/cognito` with the app's own
 * `CognitoSyncClient` (whichever `@aws-sdk/client-cognito-sync` release the project installed).
 * A phone writes and synchronizes; a laptop of the same identity synchronizes and reads.
 * Prints one JSON line for the packaging test.
 */
import { CognitoSyncClient } from '@aws-sdk/client-cognito-sync'
import { createSyncManager } from 'pushsync'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createCognitoTransport } from 'pushsync/transport/cognito'
import { endpointFromEnvironment, guestCredentials, identityPoolId, region } from './identity.js'

const endpoint = endpointFromEnvironment()
const { identityId, credentials } = await guestCredentials(endpoint)
const client = new CognitoSyncClient({ region, endpoint, credentials })

const device = () =>
  createSyncManager({
    identityPoolId,
    identityId,
    storage: createMemoryStorage(),
    transport: createCognitoTransport({ client, identityPoolId, identityId }),
  })

const phone = device()
const settings = await phone.openOrCreateDataset('settings')
await settings.putAll({ theme: 'dark', language: 'en' })
const pushed = await settings.synchronize()

const laptop = device()
const onLaptop = await laptop.openOrCreateDataset('settings')
const pulled = await onLaptop.synchronize()
const seen = { ...(await onLaptop.getAll()) }

await phone.close()
await laptop.close()
client.destroy()

console.log(
  JSON.stringify({
    pushed: pushed.pushed,
    lastSyncCount: pulled.lastSyncCount,
    updatedRecords: pulled.updatedRecords,
    seen,
  }),
)
