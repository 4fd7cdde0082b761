/**
 * Migrating from Amazon Cognito Sync: an app on the AWS SDK v3 keeps its code and changes only the
 * endpoint of its Cognito Identity and Cognito Sync clients.
 */
// #region sdk
import { CognitoSyncClient, ListRecordsCommand, UpdateRecordsCommand } from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'

const region = 'us-east-1'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

export async function saveWithAwsSdk(endpoint: string) {
  // Before: no `endpoint`, so the SDK talked to cognito-identity and cognito-sync.us-east-1.amazonaws.com.
  const credentials = fromCognitoIdentityPool({
    identityPoolId,
    clientConfig: { region, endpoint }, // Cognito Identity: GetId, GetCredentialsForIdentity
  })
  const { identityId } = await credentials()
  const sync = new CognitoSyncClient({ region, endpoint, credentials })

  const ids = { IdentityPoolId: identityPoolId, IdentityId: identityId, DatasetName: 'settings' }
  const listed = await sync.send(new ListRecordsCommand({ ...ids, LastSyncCount: 0 }))
  // A write names the sync count of the record it replaces (0 for a new key), or gets a 409.
  const theme = listed.Records?.find((record) => record.Key === 'theme')
  const updated = await sync.send(
    new UpdateRecordsCommand({
      ...ids,
      SyncSessionToken: listed.SyncSessionToken,
      RecordPatches: [{ Op: 'replace', Key: 'theme', Value: 'dark', SyncCount: theme?.SyncCount ?? 0 }],
    }),
  )
  sync.destroy()
  return { identityId, records: updated.Records ?? [] }
}
// #endregion sdk
