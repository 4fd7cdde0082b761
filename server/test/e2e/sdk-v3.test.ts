import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
  ResourceNotFoundException as IdentityNotFound,
} from '@aws-sdk/client-cognito-identity'
import {
  CognitoSyncClient,
  DeleteDatasetCommand,
  DescribeDatasetCommand,
  DescribeIdentityPoolUsageCommand,
  DescribeIdentityUsageCommand,
  GetCognitoEventsCommand,
  GetIdentityPoolConfigurationCommand,
  InvalidParameterException,
  LimitExceededException,
  ListDatasetsCommand,
  ListIdentityPoolUsageCommand,
  ListRecordsCommand,
  NotAuthorizedException,
  RegisterDeviceCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  SetCognitoEventsCommand,
  SetIdentityPoolConfigurationCommand,
  SubscribeToDatasetCommand,
  UnsubscribeFromDatasetCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDevice } from './devices.js'
import { ADMIN, type RunningServer, spawnServer } from './spawn-server.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const region = 'us-east-1'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
let server: RunningServer

beforeAll(async () => {
  server = await spawnServer()
})
afterAll(async () => {
  await server?.stop()
})

/** A device of a new identity of this file's pool. */
const newDevice = () => createDevice({ url: server.url, identityPoolId })

function adminClient() {
  return new CognitoSyncClient({ region, endpoint: server.url, credentials: ADMIN })
}

async function pull(sync: CognitoSyncClient, identityId: string, datasetName: string, lastSyncCount = 0) {
  return sync.send(
    new ListRecordsCommand({
      IdentityPoolId: identityPoolId,
      IdentityId: identityId,
      DatasetName: datasetName,
      LastSyncCount: lastSyncCount,
    }),
  )
}

describe('AWS SDK v3 clients against pushsync-server', () => {
  it('prints exactly one line when ready', () => {
    expect(server.output.stdout).toBe(`listening on ${server.url}\n`)
  })

  it('gets an identity and credentials through the SDK’s own provider', async () => {
    const { IdentityId } = await new CognitoIdentityClient({ region, endpoint: server.url }).send(
      new GetIdCommand({ IdentityPoolId: identityPoolId }),
    )
    expect(IdentityId).toMatch(/^us-east-1:[0-9a-f-]{36}$/)
    const device = await newDevice()
    expect(device.identityId).toMatch(/^us-east-1:[0-9a-f-]{36}$/)
    const credentials = await device.credentials()
    expect(credentials.accessKeyId).toMatch(/^ASIA/)
    expect(credentials.sessionToken).toBeTruthy()
    expect(credentials.expiration?.getTime()).toBeGreaterThan(Date.now())
    await expect(
      device.identity.send(
        new GetCredentialsForIdentityCommand({
          IdentityId: 'us-east-1:00000000-0000-0000-0000-000000000000',
        }),
      ),
    ).rejects.toBeInstanceOf(IdentityNotFound)
  })

  it('writes, reads and conflicts with Cognito’s sync counts', async () => {
    const { sync, identityId } = await newDevice()
    const ids = { IdentityPoolId: identityPoolId, IdentityId: identityId, DatasetName: 'settings' }

    const empty = await pull(sync, identityId, 'settings')
    expect(empty).toMatchObject({ DatasetExists: false, DatasetSyncCount: 0, Count: 0, Records: [] })
    expect(empty.SyncSessionToken).toBeTruthy()

    const written = await sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: empty.SyncSessionToken,
        RecordPatches: [
          {
            Op: 'replace',
            Key: 'theme',
            Value: 'dark',
            SyncCount: 0,
            DeviceLastModifiedDate: new Date(1_700_000_000_500),
          },
          { Op: 'replace', Key: 'empty', Value: '', SyncCount: 0 },
        ],
      }),
    )
    // The first write makes sync count 1, as the real service does.
    expect(written.Records?.map((r) => [r.Key, r.Value, r.SyncCount])).toEqual([
      ['theme', 'dark', 1],
      ['empty', '', 1],
    ])
    expect(written.Records?.[0]?.DeviceLastModifiedDate?.getTime()).toBe(1_700_000_000_500)

    // The token is spent.
    await expect(
      sync.send(
        new UpdateRecordsCommand({ ...ids, SyncSessionToken: empty.SyncSessionToken, RecordPatches: [] }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'SyncSessionToken not valid for these inputs',
    })

    const afterWrite = await pull(sync, identityId, 'settings')
    expect(afterWrite).toMatchObject({ DatasetExists: true, DatasetSyncCount: 1, Count: 2 })

    // A stale sync count is a 409 naming the key and both counts, and changes nothing.
    const conflict = sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: afterWrite.SyncSessionToken,
        RecordPatches: [
          { Op: 'replace', Key: 'new', Value: 'x', SyncCount: 0 },
          { Op: 'replace', Key: 'theme', Value: 'light', SyncCount: 0 },
        ],
      }),
    )
    await expect(conflict).rejects.toBeInstanceOf(ResourceConflictException)
    await expect(conflict).rejects.toMatchObject({ message: 'Current SyncCount for: theme is: 1 not: 0' })
    const unchanged = await pull(sync, identityId, 'settings')
    expect(unchanged.DatasetSyncCount).toBe(1)
    expect(unchanged.Records?.map((r) => r.Key).sort()).toEqual(['empty', 'theme'])

    // Removal leaves a tombstone that later pulls report.
    await sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: unchanged.SyncSessionToken,
        RecordPatches: [{ Op: 'remove', Key: 'theme', SyncCount: 1 }],
      }),
    )
    const since1 = await pull(sync, identityId, 'settings', 1)
    expect(since1.Records).toEqual([expect.objectContaining({ Key: 'theme', SyncCount: 2 })])
    expect(since1.Records?.[0]?.Value).toBeUndefined()
    const described = await sync.send(new DescribeDatasetCommand(ids))
    expect(described.Dataset).toMatchObject({ DatasetName: 'settings', NumRecords: 1, DataStorage: 5 })
  })

  it('pages ListRecords with maxResults and returns everything without it', async () => {
    const { sync, identityId } = await newDevice()
    const ids = { IdentityPoolId: identityPoolId, IdentityId: identityId, DatasetName: 'many' }
    const first = await pull(sync, identityId, 'many')
    await sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: first.SyncSessionToken,
        RecordPatches: Array.from({ length: 25 }, (_, i) => ({
          Op: 'replace',
          Key: `k${i}`,
          Value: `v${i}`,
          SyncCount: 0,
        })),
      }),
    )
    expect((await pull(sync, identityId, 'many')).Records).toHaveLength(25)
    const keys: string[] = []
    let NextToken: string | undefined
    do {
      const page = await sync.send(
        new ListRecordsCommand({ ...ids, MaxResults: 10, ...(NextToken ? { NextToken } : {}) }),
      )
      keys.push(...(page.Records ?? []).map((r) => r.Key ?? ''))
      NextToken = page.NextToken
    } while (NextToken)
    expect(keys.sort()).toEqual(Array.from({ length: 25 }, (_, i) => `k${i}`).sort())
  })

  it('deletes a dataset, keeps its counter and resurrects it', async () => {
    const { sync, identityId } = await newDevice()
    const ids = { IdentityPoolId: identityPoolId, IdentityId: identityId, DatasetName: 'phoenix' }
    const start = await pull(sync, identityId, 'phoenix')
    await sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: start.SyncSessionToken,
        RecordPatches: [{ Op: 'replace', Key: 'a', Value: '1', SyncCount: 0 }],
      }),
    )
    const deleted = await sync.send(new DeleteDatasetCommand(ids))
    expect(deleted.Dataset?.DatasetName).toBe('phoenix')
    await expect(sync.send(new DescribeDatasetCommand(ids))).rejects.toBeInstanceOf(ResourceNotFoundException)
    await expect(sync.send(new DeleteDatasetCommand(ids))).rejects.toBeInstanceOf(ResourceNotFoundException)
    const gone = await pull(sync, identityId, 'phoenix', 1)
    expect(gone).toMatchObject({ DatasetExists: false, DatasetDeletedAfterRequestedSyncCount: true })
    const again = await sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: gone.SyncSessionToken,
        RecordPatches: [{ Op: 'replace', Key: 'b', Value: '2', SyncCount: 0 }],
      }),
    )
    // Counters never reset: 1 (write) + 1 (delete) + 1 (write).
    expect(again.Records?.[0]?.SyncCount).toBe(3)
    const stale = await pull(sync, identityId, 'phoenix', 1)
    expect(stale).toMatchObject({ DatasetExists: true, DatasetDeletedAfterRequestedSyncCount: true })
    expect(stale.Records?.map((r) => r.Key)).toEqual(['b'])
  })

  it('lists datasets and usage', async () => {
    const { sync, identityId } = await newDevice()
    for (const name of ['b-set', 'a-set']) {
      const token = (await pull(sync, identityId, name)).SyncSessionToken
      await sync.send(
        new UpdateRecordsCommand({
          IdentityPoolId: identityPoolId,
          IdentityId: identityId,
          DatasetName: name,
          SyncSessionToken: token,
          RecordPatches: [{ Op: 'replace', Key: 'k', Value: 'vv', SyncCount: 0 }],
        }),
      )
    }
    const listed = await sync.send(
      new ListDatasetsCommand({ IdentityPoolId: identityPoolId, IdentityId: identityId }),
    )
    expect(listed.Datasets?.map((d) => d.DatasetName)).toEqual(['a-set', 'b-set'])
    const usage = await sync.send(
      new DescribeIdentityUsageCommand({ IdentityPoolId: identityPoolId, IdentityId: identityId }),
    )
    expect(usage.IdentityUsage).toMatchObject({ IdentityId: identityId, DatasetCount: 2, DataStorage: 6 })
    const admin = adminClient()
    const pool = await admin.send(new DescribeIdentityPoolUsageCommand({ IdentityPoolId: identityPoolId }))
    expect(pool.IdentityPoolUsage?.SyncSessionsCount).toBeGreaterThanOrEqual(2)
    const pools = await admin.send(new ListIdentityPoolUsageCommand({}))
    expect(pools.IdentityPoolUsages?.map((p) => p.IdentityPoolId)).toContain(identityPoolId)
  })

  it('registers devices and subscribes them', async () => {
    const { sync, identityId } = await newDevice()
    const register = () =>
      sync.send(
        new RegisterDeviceCommand({
          IdentityPoolId: identityPoolId,
          IdentityId: identityId,
          Platform: 'GCM',
          Token: 'fcm-token-1',
        }),
      )
    const { DeviceId } = await register()
    expect(DeviceId).toBeTruthy()
    expect((await register()).DeviceId).toBe(DeviceId)
    const sub = { IdentityPoolId: identityPoolId, IdentityId: identityId, DatasetName: 'subs', DeviceId }
    await expect(sync.send(new SubscribeToDatasetCommand(sub))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    )
    const token = (await pull(sync, identityId, 'subs')).SyncSessionToken
    await sync.send(
      new UpdateRecordsCommand({
        IdentityPoolId: identityPoolId,
        IdentityId: identityId,
        DatasetName: 'subs',
        SyncSessionToken: token,
        RecordPatches: [{ Op: 'replace', Key: 'k', Value: 'v', SyncCount: 0 }],
      }),
    )
    await sync.send(new SubscribeToDatasetCommand(sub))
    await sync.send(new UnsubscribeFromDatasetCommand(sub))
    await expect(
      sync.send(new SubscribeToDatasetCommand({ ...sub, DeviceId: 'no-such-device' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException)
    // As in Cognito, a device registers with the identity's own credentials, not developer keys.
    await expect(
      adminClient().send(
        new RegisterDeviceCommand({
          IdentityPoolId: identityPoolId,
          IdentityId: identityId,
          Platform: 'GCM',
          Token: 't',
        }),
      ),
    ).rejects.toBeInstanceOf(NotAuthorizedException)
  })

  it('keeps identities apart and pool settings for developers', async () => {
    const alice = await newDevice()
    const bob = await newDevice()
    await expect(pull(alice.sync, bob.identityId, 'settings')).rejects.toBeInstanceOf(NotAuthorizedException)
    await expect(
      alice.sync.send(new GetIdentityPoolConfigurationCommand({ IdentityPoolId: identityPoolId })),
    ).rejects.toBeInstanceOf(NotAuthorizedException)
    const admin = adminClient()
    const set = await admin.send(
      new SetIdentityPoolConfigurationCommand({
        IdentityPoolId: identityPoolId,
        CognitoStreams: {
          StreamName: 'stream',
          RoleArn: 'arn:aws:iam::123456789012:role/streams',
          StreamingStatus: 'DISABLED',
        },
      }),
    )
    expect(set.CognitoStreams?.StreamName).toBe('stream')
    const got = await admin.send(new GetIdentityPoolConfigurationCommand({ IdentityPoolId: identityPoolId }))
    expect(got.CognitoStreams).toEqual(set.CognitoStreams)
    await admin.send(
      new SetCognitoEventsCommand({
        IdentityPoolId: identityPoolId,
        Events: { SyncTrigger: 'https://trigger.example.com/hook' },
      }),
    )
    expect(
      (await admin.send(new GetCognitoEventsCommand({ IdentityPoolId: identityPoolId }))).Events,
    ).toEqual({ SyncTrigger: 'https://trigger.example.com/hook' })
    await admin.send(
      new SetCognitoEventsCommand({ IdentityPoolId: identityPoolId, Events: { SyncTrigger: '' } }),
    )
  })

  it('answers bad input with typed exceptions', async () => {
    const { sync, identityId } = await newDevice()
    await expect(pull(sync, identityId, 'bad name!')).rejects.toBeInstanceOf(InvalidParameterException)
    const token = (await pull(sync, identityId, 'limits')).SyncSessionToken
    const ids = {
      IdentityPoolId: identityPoolId,
      IdentityId: identityId,
      DatasetName: 'limits',
      SyncSessionToken: token,
    }
    await expect(
      sync.send(
        new UpdateRecordsCommand({
          ...ids,
          RecordPatches: [{ Op: 'replace', Key: 'k'.repeat(129), Value: 'v', SyncCount: 0 }],
        }),
      ),
    ).rejects.toBeInstanceOf(LimitExceededException)
    await expect(
      sync.send(
        new UpdateRecordsCommand({
          ...ids,
          RecordPatches: [
            { Op: 'replace', Key: 'dup', Value: '1', SyncCount: 0 },
            { Op: 'replace', Key: 'dup', Value: '2', SyncCount: 0 },
          ],
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException)
  })
})
