/**
 * An app on the AWS SDK v3 alone, its endpoint changed to pushsync-server: guest credentials from
 * Cognito Identity, then a record written with UpdateRecords and read back with ListRecords.
 * Prints one JSON line for the packaging test.
 */
import { CognitoSyncClient, ListRecordsCommand, UpdateRecordsCommand } from '@aws-sdk/client-cognito-sync'
import { endpointFromEnvironment, guestCredentials, identityPoolId, region } from './identity.js'

const endpoint = endpointFromEnvironment()
const { identityId, credentials } = await guestCredentials(endpoint)
const sync = new CognitoSyncClient({ region, endpoint, credentials })
const dataset = { IdentityPoolId: identityPoolId, IdentityId: identityId, DatasetName: 'settings' }

const before = await sync.send(new ListRecordsCommand({ ...dataset, LastSyncCount: 0 }))
await sync.send(
  new UpdateRecordsCommand({
    ...dataset,
    SyncSessionToken: before.SyncSessionToken,
    RecordPatches: [{ Op: 'replace', Key: 'theme', Value: 'dark', SyncCount: 0 }],
  }),
)
const after = await sync.send(new ListRecordsCommand({ ...dataset, LastSyncCount: 0 }))
sync.destroy()

const theme = after.Records?.find((record) => record.Key === 'theme')
console.log(
  JSON.stringify({
    identityId,
    value: theme?.Value ?? null,
    recordSyncCount: theme?.SyncCount ?? null,
    datasetSyncCount: after.DatasetSyncCount ?? null,
  }),
)
