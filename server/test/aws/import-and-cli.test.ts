import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BulkPublishCommand,
  CognitoSyncClient,
  DeleteDatasetCommand,
  GetBulkPublishDetailsCommand,
  ListRecordsCommand,
  SetCognitoEventsCommand,
  SetIdentityPoolConfigurationCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentity } from '@aws-sdk/credential-providers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.js'
import { cliRunner } from '../helpers/cli.js'
import { type FakeAws, startFakeAws, useEnvironment } from './fake/index.js'
import { adminClient, apnsToken, REGION, replace, signIn, startServer, tempDb } from './helpers.js'

const POOL = 'us-east-1:5c5c0000-0000-4000-8000-000000000001'
const poll = { timeout: 15_000, interval: 25 }

let aws: FakeAws
let restoreEnv: () => void
let work: string
const cli = cliRunner(() => work)

beforeAll(async () => {
  aws = await startFakeAws()
  restoreEnv = useEnvironment(aws.env)
  work = mkdtempSync(join(tmpdir(), 'pushsync-import-'))
})
afterEach(() => cli.stopAll())
afterAll(async () => {
  await aws?.close()
  restoreEnv?.()
})

const summary = (
  records: ReadonlyArray<{
    Key?: string | undefined
    Value?: string | undefined
    SyncCount?: number | undefined
  }> = [],
) =>
  records
    .map((r) => [r.Key, r.Value ?? null, r.SyncCount])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])))

describe('pushsync-server import of a pool that synced with Cognito', () => {
  it('lets a device continue with one incremental sync, however often the import runs', async () => {
    // The Cognito side: a pool streaming to Kinesis, as Cognito Streams did, and a device syncing.
    aws.kinesis.addStream('cognito-export', 2)
    const cognito = await startServer()
    const stream = {
      StreamName: 'cognito-export',
      RoleArn: aws.streamRole.arn,
      StreamingStatus: 'ENABLED' as const,
    }
    await adminClient(cognito.url).send(
      new SetIdentityPoolConfigurationCommand({ IdentityPoolId: POOL, CognitoStreams: stream }),
    )
    const device = await signIn(cognito.url, POOL)
    await device.write('settings', [replace('theme', 'dark'), replace('font', 'big')])
    await device.write('settings', [{ Op: 'remove', Key: 'font', SyncCount: 1 }])
    await device.write('settings', [replace('lang', 'en')])
    await device.write('scores', [replace('level', '7')])
    await device.write('gone', [replace('k', 'v')])
    await device.sync.send(
      new DeleteDatasetCommand({ IdentityPoolId: POOL, IdentityId: device.identityId, DatasetName: 'gone' }),
    )
    // Its export: BulkPublish replays every dataset into the same stream.
    await adminClient(cognito.url).send(new BulkPublishCommand({ IdentityPoolId: POOL }))
    await expect
      .poll(
        async () =>
          (await adminClient(cognito.url).send(new GetBulkPublishDetailsCommand({ IdentityPoolId: POOL })))
            .BulkPublishStatus,
        poll,
      )
      .toBe('SUCCEEDED')
    await expect.poll(() => cognito.server.store.transaction((tx) => tx.countStreamOutbox()), poll).toBe(0)
    const onCognito = await device.pull('settings')
    expect(onCognito.DatasetSyncCount).toBe(3)
    await cognito.server.close()

    // The import, by the command, from the stream.
    const db = join(work, 'migrated.db')
    const args = ['import', '--db', db, '--kinesis-stream', 'cognito-export', '--region', 'us-east-1']
    const first = await cli.run(args, aws.env)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(
      /^imported 8 stream records into .*: 6 records stored, 4 already there, 3 new datasets, 1 new identities/,
    )
    // Again: resumed after its checkpoints, nothing new.
    const again = await cli.run(args, aws.env)
    expect(again.stdout).toMatch(/^imported 0 stream records/)

    // The device moves to the new server with its identity id and what it had synced (sync count 3).
    const server = await startServer({ db })
    try {
      const credentials = fromCognitoIdentity({
        identityId: device.identityId,
        clientConfig: { region: REGION, endpoint: server.url },
      })
      const sync = new CognitoSyncClient({
        region: REGION,
        endpoint: server.url,
        credentials,
        maxAttempts: 1,
      })
      const settings = { IdentityPoolId: POOL, IdentityId: device.identityId, DatasetName: 'settings' }
      // One incremental sync: nothing to pull, nothing deleted, and its next write fits.
      const pulled = await sync.send(new ListRecordsCommand({ ...settings, LastSyncCount: 3 }))
      expect(pulled).toMatchObject({
        Records: [],
        DatasetExists: true,
        DatasetDeletedAfterRequestedSyncCount: false,
        DatasetSyncCount: 3,
      })
      const written = await sync.send(
        new UpdateRecordsCommand({
          ...settings,
          SyncSessionToken: pulled.SyncSessionToken,
          RecordPatches: [replace('theme', 'light', 1)],
        }),
      )
      expect(written.Records?.map((r) => [r.Key, r.SyncCount])).toEqual([['theme', 4]])
      // Everything else is as Cognito had it, sync counts included.
      const all = await sync.send(new ListRecordsCommand({ ...settings, LastSyncCount: 0 }))
      expect(summary(all.Records).filter(([key]) => key !== 'theme')).toEqual(
        summary(onCognito.Records).filter(([key]) => key !== 'theme'),
      )
      const scores = await sync.send(
        new ListRecordsCommand({ ...settings, DatasetName: 'scores', LastSyncCount: 1 }),
      )
      expect(scores).toMatchObject({ Records: [], DatasetExists: true, DatasetSyncCount: 1 })
      // A deletion Cognito streamed is one here too.
      const gone = await sync.send(
        new ListRecordsCommand({ ...settings, DatasetName: 'gone', LastSyncCount: 1 }),
      )
      expect(gone.DatasetDeletedAfterRequestedSyncCount).toBe(true)
    } finally {
      await server.server.close()
    }
  })
})

describe('pushsync-server import of a file of stream records', () => {
  const ID = 'us-east-1:0c0c0c0c-0000-4000-8000-000000000001'
  const record = (dataSetName: string, syncCount: number, records: unknown[], operation = 'replace') =>
    JSON.stringify({
      identityPoolId: POOL,
      identityId: ID,
      dataSetName,
      operation,
      kinesisSyncRecords: records,
      lastModifiedDate: 1_424_801_824_343 + syncCount,
      kinesisSyncRecordsURL: null,
      payloadType: 'Inline',
      syncCount,
    })
  const rec = (key: string, value: string | null, syncCount: number) => ({
    key,
    value,
    syncCount,
    lastModifiedDate: 1_424_801_824_343 + syncCount,
    deviceLastModifiedDate: 1_424_801_824_000,
    op: value === null ? 'remove' : 'replace',
  })

  it('keeps the newest of overlapping records, honours deletions, and changes nothing the second time', async () => {
    const file = join(work, 'export.ndjson')
    writeFileSync(
      file,
      [
        record('prefs', 1, [rec('a', '1', 1), rec('b', 'x', 1)]),
        record('prefs', 3, [rec('a', '3', 3), rec('d', null, 3)]),
        // A bulk publish from before the last update: older records never win.
        record('prefs', 2, [rec('a', '2', 2), rec('b', 'x', 1), rec('c', 'c', 2)]),
        '',
        record('old', 5, [], 'remove'),
        record('old', 4, [rec('k', 'v', 4)]),
      ].join('\n'),
    )
    const db = tempDb()
    const first = await cli.run(['import', '--db', db, '--file', file], {})
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(
      /^imported 5 stream records .*: 5 records stored, 3 already there, 2 new datasets, 1 new identities/,
    )
    const second = await cli.run(['import', '--db', db, '--file', file], {})
    expect(second.stdout).toMatch(/: 0 records stored, 8 already there, 0 new datasets, 0 new identities/)

    const store = await openStore(db)
    try {
      const rows = await store.transaction((tx) => tx.listRecords(ID, 'prefs', { afterSyncCount: 0 }))
      expect(rows.map((r) => [r.key, r.value, r.syncCount, r.lastModifiedDate])).toEqual([
        ['b', 'x', 1, 1_424_801_824_344],
        ['c', 'c', 2, 1_424_801_824_345],
        ['a', '3', 3, 1_424_801_824_346],
        ['d', null, 3, 1_424_801_824_346],
      ])
      expect(await store.transaction((tx) => tx.getDataset(ID, 'prefs'))).toMatchObject({
        identityPoolId: POOL,
        syncCount: 3,
        exists: true,
        numRecords: 3,
        dataStorage: 6,
      })
      expect(await store.transaction((tx) => tx.getDataset(ID, 'old'))).toMatchObject({
        exists: false,
        syncCount: 5,
        deletedAtSyncCount: 5,
      })
      expect(await store.transaction((tx) => tx.listRecords(ID, 'old', { afterSyncCount: 0 }))).toEqual([])
      expect(await store.transaction((tx) => tx.getIdentity(ID))).toMatchObject({ identityPoolId: POOL })
    } finally {
      await store.close()
    }
  })

  it('refuses a file with a record that is not a Cognito Streams record, storing none of it', async () => {
    const file = join(work, 'broken.ndjson')
    writeFileSync(
      file,
      [
        record('prefs', 1, [rec('a', '1', 1)]),
        record('prefs', 2, [{ key: 'a', value: 7, syncCount: 2, op: 'replace', lastModifiedDate: 1 }]),
      ].join('\n'),
    )
    const db = tempDb()
    const result = await cli.run(['import', '--db', db, '--file', file], {})
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`${file}:2: kinesisSyncRecords[0].value is not a string`)
    const store = await openStore(db)
    try {
      expect(await store.transaction((tx) => tx.getIdentity(ID))).toBeUndefined()
    } finally {
      await store.close()
    }
    for (const args of [
      ['--db', db],
      ['--file', file, '--kinesis-stream', 's', '--region', 'us-east-1'],
      ['--kinesis-stream', 's'],
    ]) {
      const refused = await cli.run(['import', ...args], {})
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(/^pushsync-server import: /)
    }
  })
})

describe('the command with AWS, configured only the AWS SDK way', () => {
  it("pushes through SNS, streams to Kinesis and invokes the Lambda trigger for a pool's settings", async () => {
    const app = aws.sns.addApplication('APNS_SANDBOX', 'notes-dev')
    aws.kinesis.addStream('cli-stream')
    const trigger = aws.lambda.addFunction('cli-trigger', (event) => event)
    const server = await cli.start(
      [
        '--port',
        '0',
        '--db',
        join(work, 'cli.db'),
        '--allow-unauthenticated',
        '--admin-key',
        'AKIDCLIADMIN:cli-admin-secret',
      ],
      aws.env,
    )
    const admin = new CognitoSyncClient({
      region: REGION,
      endpoint: server.url,
      credentials: { accessKeyId: 'AKIDCLIADMIN', secretAccessKey: 'cli-admin-secret' },
    })
    await admin.send(
      new SetIdentityPoolConfigurationCommand({
        IdentityPoolId: POOL,
        PushSync: { ApplicationArns: [app], RoleArn: aws.pushRole.arn },
        CognitoStreams: { StreamName: 'cli-stream', RoleArn: aws.streamRole.arn, StreamingStatus: 'ENABLED' },
      }),
    )
    await admin.send(new SetCognitoEventsCommand({ IdentityPoolId: POOL, Events: { SyncTrigger: trigger } }))
    const user = await signIn(server.url, POOL)
    await user.write('notes', [replace('title', 'one')])
    const tablet = await user.register('APNS_SANDBOX', apnsToken(42))
    await user.subscribe('notes', tablet)
    await user.write('notes', [replace('title', 'two', 1)])
    await expect.poll(() => aws.sns.deliveries.filter((d) => d.token === apnsToken(42)).length, poll).toBe(1)
    await expect.poll(() => aws.kinesis.records('cli-stream').length, poll).toBe(2)
    expect(aws.lambda.invocations.filter((i) => i.arn === trigger)).toHaveLength(2)
    expect(await server.stop()).toBe(0)
  })
})
