/** pushsync over the AWS SDK v3: the Cognito transport, against pushsync-server or Amazon Cognito Sync. */
// #region transport
import { CognitoSyncClient } from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
import { createSyncManager } from 'pushsync'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createCognitoTransport } from 'pushsync/transport/cognito'

const region = 'us-east-1'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

// `endpoint`: pushsync-server's address; leave it out for Amazon Cognito.
export async function syncWithCognitoTransport(endpoint: string) {
  const credentials = fromCognitoIdentityPool({ identityPoolId, clientConfig: { region, endpoint } })
  const { identityId } = await credentials()
  const client = new CognitoSyncClient({ region, endpoint, credentials })

  const manager = createSyncManager({
    identityPoolId,
    identityId,
    storage: createMemoryStorage(),
    transport: createCognitoTransport({ client, identityPoolId, identityId }),
  })
  const settings = await manager.openOrCreateDataset('settings')
  await settings.put('theme', 'dark')
  const result = await settings.synchronize() // { pushed: 1, lastSyncCount: 1, ... }

  await manager.close()
  client.destroy()
  return result
}
// #endregion transport
