import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AWSError, CognitoSync, Request } from 'aws-sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, type RunningServer, spawnServer } from './spawn-server.js'

process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
// aws-sdk@2 is CommonJS; loading it after the line above keeps its maintenance notice quiet.
const AWS = createRequire(import.meta.url)('aws-sdk') as typeof import('aws-sdk')

const region = 'us-east-1'
/** Every pool is its own world (events, streams, bulk publish state), so each concern gets one. */
const POOL = 'us-east-1:2b6f8a4e-0c1d-4e5f-8a9b-000000000001'
const STREAM_POOL = 'us-east-1:2b6f8a4e-0c1d-4e5f-8a9b-000000000002'
const BUSY_POOL = 'us-east-1:2b6f8a4e-0c1d-4e5f-8a9b-000000000003'
const TRIGGER_POOL = 'us-east-1:2b6f8a4e-0c1d-4e5f-8a9b-000000000004'
const UNKNOWN_POOL = 'us-east-1:2b6f8a4e-0c1d-4e5f-8a9b-0000000000ff'

let server: RunningServer
let workDir: string

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'pushsync-v2-'))
  // Its pools name SNS applications and Kinesis streams for their settings' sake only: the server
  // keeps them and calls no AWS (bulk publish writes NDJSON files under ./pushsync-streams).
  // A sync trigger of one test listens on this machine: a private address, called only when told to.
  server = await spawnServer(['--disable-aws', '--allow-private-outbound'], { cwd: workDir })
})
afterAll(async () => {
  await server?.stop()
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true })
})

interface Device {
  readonly pool: string
  readonly identityId: string
  readonly sync: CognitoSync
  readonly credentials: InstanceType<typeof AWS.CognitoIdentityCredentials>
}

/**
 * A device of a new identity, as a v2 app gets one: `CognitoIdentityCredentials` runs GetId and
 * GetCredentialsForIdentity against the server through its second (client config) argument. Outside
 * a browser it keeps the identity id in its own `params`, so every device stays its own identity.
 */
async function newDevice(pool = POOL): Promise<Device> {
  // The typings leave `endpoint` out of the client config, but the class hands the whole config to
  // the CognitoIdentity client it creates.
  const clientConfig = { endpoint: server.url, region }
  const credentials = new AWS.CognitoIdentityCredentials({ IdentityPoolId: pool }, clientConfig)
  await credentials.getPromise()
  return { pool, identityId: credentials.identityId, sync: syncClient(credentials), credentials }
}

/**
 * v2 retries LimitExceededException (it counts as throttling), 429 and 5xx answers with back-off:
 * every refusal here is deliberate, so one attempt keeps the suite fast and the trigger counts exact.
 */
function syncClient(credentials: InstanceType<typeof AWS.Credentials>): CognitoSync {
  return new AWS.CognitoSync({ endpoint: server.url, region, credentials, maxRetries: 0 })
}

function adminClient(): CognitoSync {
  return syncClient(new AWS.Credentials(ADMIN.accessKeyId, ADMIN.secretAccessKey))
}

const ids = (device: Device, DatasetName: string) => ({
  IdentityPoolId: device.pool,
  IdentityId: device.identityId,
  DatasetName,
})

/** ListRecords as Cognito's JavaScript sync manager called it through v2: pages of 1024. */
function listRecords(device: Device, name: string, extra: Partial<CognitoSync.ListRecordsRequest> = {}) {
  return device.sync.listRecords({ ...ids(device, name), MaxResults: 1024, ...extra })
}

function pull(device: Device, name: string, LastSyncCount = 0) {
  return listRecords(device, name, { LastSyncCount }).promise()
}

async function push(device: Device, name: string, RecordPatches: CognitoSync.RecordPatch[]) {
  const { SyncSessionToken } = await pull(device, name)
  return device.sync
    .updateRecords({ ...ids(device, name), SyncSessionToken: SyncSessionToken ?? '', RecordPatches })
    .promise()
}

const replace = (Key: string, Value: string, SyncCount = 0): CognitoSync.RecordPatch => ({
  Op: 'replace',
  Key,
  Value,
  SyncCount,
})

/** What the request carried on the wire, once v2 has built and sent it. */
function wire<T>(request: Request<T, AWSError>) {
  const { path, body, headers } = request.httpRequest
  return { path, body: String(body), headers }
}

function expectDate(value: unknown, near = Date.now()) {
  expect(value).toBeInstanceOf(Date)
  expect(Math.abs((value as Date).getTime() - near)).toBeLessThan(60_000)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function bulkPublishSettles(admin: CognitoSync, IdentityPoolId: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const details = await admin.getBulkPublishDetails({ IdentityPoolId }).promise()
    if (details.BulkPublishStatus !== 'IN_PROGRESS') return details
    await sleep(20)
  }
  throw new Error(`bulk publish of ${IdentityPoolId} did not finish`)
}

/** A stand-in for a SyncTrigger Lambda: records what it is sent and always gives one answer. */
async function startTrigger(status: number, body: string) {
  const events: unknown[] = []
  const http: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const event: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      events.push(event)
      response.writeHead(status, { 'content-type': 'application/json' }).end(body)
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/sync-trigger`,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve())
        http.closeAllConnections()
      }),
  }
}

describe('aws-sdk v2 AWS.CognitoSync against pushsync-server', () => {
  it('gets an identity and credentials through AWS.CognitoIdentityCredentials', async () => {
    const device = await newDevice()
    expect(device.identityId).toMatch(/^us-east-1:[0-9a-f-]{36}$/)
    expect(device.credentials.accessKeyId).toMatch(/^ASIA/)
    expect(device.credentials.sessionToken).toBeTruthy()
    expect(device.credentials.expireTime.getTime()).toBeGreaterThan(Date.now())
    expect((await newDevice()).identityId).not.toBe(device.identityId)
    const identity = new AWS.CognitoIdentity({ endpoint: server.url, region, maxRetries: 0 })
    await expect(
      identity
        .getCredentialsForIdentity({ IdentityId: 'us-east-1:00000000-0000-0000-0000-000000000000' })
        .promise(),
    ).rejects.toMatchObject({ code: 'ResourceNotFoundException' })
  })

  it('writes from sync count 1, reports conflicts, spends tokens and keeps tombstones', async () => {
    const device = await newDevice()
    const first = listRecords(device, 'settings')
    const empty = await first.promise()
    // The JavaScript sync manager always asked for pages of 1024.
    expect(wire(first).path).toMatch(/\/datasets\/settings\/records\?.*maxResults=1024/)
    // A dataset that never existed is a 200, not a 404.
    expect(empty).toMatchObject({ DatasetExists: false, DatasetSyncCount: 0, Count: 0, Records: [] })
    expect(empty.SyncSessionToken).toBeTruthy()
    const token = empty.SyncSessionToken ?? ''

    const firstWrite = device.sync.updateRecords({
      ...ids(device, 'settings'),
      SyncSessionToken: token,
      // Both are optional and carry nothing the service acts on; they must not disturb the write.
      DeviceId: 'device-1',
      ClientContext: Buffer.from('{"client":{}}').toString('base64'),
      RecordPatches: [
        { ...replace('theme', 'dark'), DeviceLastModifiedDate: new Date(1_700_000_000_123) },
        replace('empty', ''),
      ],
    })
    const written = await firstWrite.promise()
    expect(wire(firstWrite).headers['x-amz-Client-Context']).toBeTruthy()
    expect(JSON.parse(wire(firstWrite).body)).toMatchObject({
      DeviceId: 'device-1',
      RecordPatches: [{ Key: 'theme', DeviceLastModifiedDate: 1_700_000_000.123 }, { Key: 'empty' }],
    })
    expect(written.Records?.map((r) => [r.Key, r.Value, r.SyncCount])).toEqual([
      ['theme', 'dark', 1],
      ['empty', '', 1],
    ])
    const [theme] = written.Records ?? []
    expectDate(theme?.LastModifiedDate)
    expect(theme?.LastModifiedBy).toBe(device.identityId)
    // v2 sends the fractional seconds; they come back to the millisecond.
    expect(theme?.DeviceLastModifiedDate).toBeInstanceOf(Date)
    expect(theme?.DeviceLastModifiedDate?.getTime()).toBe(1_700_000_000_123)

    // The token is spent for UpdateRecords and for ListRecords alike.
    const spent = {
      code: 'InvalidParameterException',
      message: 'SyncSessionToken not valid for these inputs',
    }
    await expect(
      device.sync
        .updateRecords({ ...ids(device, 'settings'), SyncSessionToken: token, RecordPatches: [] })
        .promise(),
    ).rejects.toMatchObject({ ...spent, statusCode: 400 })
    await expect(
      listRecords(device, 'settings', { SyncSessionToken: token }).promise(),
    ).rejects.toMatchObject(spent)

    const after = await pull(device, 'settings')
    expect(after).toMatchObject({
      DatasetExists: true,
      DatasetSyncCount: 1,
      Count: 2,
      LastModifiedBy: device.identityId,
    })
    // An unspent token can be presented to ListRecords again and stays good.
    const again = await listRecords(device, 'settings', {
      SyncSessionToken: after.SyncSessionToken ?? '',
    }).promise()
    expect(again.SyncSessionToken).toBe(after.SyncSessionToken)

    const conflict = device.sync
      .updateRecords({
        ...ids(device, 'settings'),
        SyncSessionToken: after.SyncSessionToken ?? '',
        RecordPatches: [replace('new', 'x'), replace('theme', 'light')],
      })
      .promise()
    await expect(conflict).rejects.toMatchObject({
      code: 'ResourceConflictException',
      statusCode: 409,
      message: 'Current SyncCount for: theme is: 1 not: 0',
    })
    const unchanged = await pull(device, 'settings')
    expect(unchanged.DatasetSyncCount).toBe(1)
    expect(unchanged.Records?.map((r) => r.Key).sort()).toEqual(['empty', 'theme'])

    // v2 apps send removals with an empty Value; they must still delete, not store ''.
    const removal = device.sync.updateRecords({
      ...ids(device, 'settings'),
      SyncSessionToken: unchanged.SyncSessionToken ?? '',
      RecordPatches: [{ Op: 'remove', Key: 'theme', Value: '', SyncCount: 1 }],
    })
    const removed = await removal.promise()
    expect(JSON.parse(wire(removal).body)).toMatchObject({
      RecordPatches: [{ Op: 'remove', Key: 'theme', Value: '', SyncCount: 1 }],
    })
    expect(removed.Records).toEqual([expect.objectContaining({ Key: 'theme', SyncCount: 2 })])
    expect(removed.Records?.[0]?.Value).toBeUndefined()
    const since1 = await pull(device, 'settings', 1)
    expect(since1).toMatchObject({ DatasetSyncCount: 2, Count: 1 })
    expect(since1.Records).toEqual([expect.objectContaining({ Key: 'theme', SyncCount: 2 })])
    expect(since1.Records?.[0]?.Value).toBeUndefined()
    expect((await pull(device, 'settings', 2)).Records).toEqual([])
    const described = await device.sync.describeDataset(ids(device, 'settings')).promise()
    expect(described.Dataset).toMatchObject({ DatasetName: 'settings', NumRecords: 1, DataStorage: 5 })
  })

  it('refuses foreign tokens, duplicate keys, bad names and bad NextTokens as InvalidParameterException', async () => {
    const alice = await newDevice()
    const bob = await newDevice()
    const invalid = { code: 'InvalidParameterException', statusCode: 400 }
    await expect(pull(alice, 'bad name!')).rejects.toMatchObject(invalid)
    await expect(alice.sync.describeDataset(ids(alice, 'x'.repeat(129))).promise()).rejects.toMatchObject(
      invalid,
    )

    const tokenForOne = (await pull(alice, 'one')).SyncSessionToken ?? ''
    const update = (
      device: Device,
      name: string,
      SyncSessionToken: string,
      RecordPatches = [replace('k', 'v')],
    ) => device.sync.updateRecords({ ...ids(device, name), SyncSessionToken, RecordPatches }).promise()
    // A token is bound to its dataset and identity.
    await expect(update(alice, 'two', tokenForOne)).rejects.toMatchObject({
      ...invalid,
      message: 'SyncSessionToken not valid for these inputs',
    })
    await expect(update(bob, 'one', tokenForOne)).rejects.toMatchObject({
      ...invalid,
      message: 'SyncSessionToken not valid for these inputs',
    })
    await expect(update(alice, 'one', 'not-a-token')).rejects.toMatchObject(invalid)
    await expect(
      update(alice, 'one', tokenForOne, [replace('dup', '1'), replace('dup', '2')]),
    ).rejects.toMatchObject(invalid)
    // None of the refusals spent the token.
    expect((await update(alice, 'one', tokenForOne)).Records?.[0]?.SyncCount).toBe(1)

    await expect(listRecords(alice, 'one', { NextToken: 'garbage' }).promise()).rejects.toMatchObject(invalid)
    await expect(
      alice.sync
        .listDatasets({ IdentityPoolId: POOL, IdentityId: alice.identityId, NextToken: '%%%' })
        .promise(),
    ).rejects.toMatchObject(invalid)
    await push(alice, 'one', [replace('k2', 'v')])
    const page = await listRecords(alice, 'one', { MaxResults: 1 }).promise()
    expect(page.NextToken).toBeTruthy()
    // A page token belongs to the listing that made it.
    await expect(
      listRecords(alice, 'one', {
        MaxResults: 1,
        NextToken: page.NextToken ?? '',
        LastSyncCount: 1,
      }).promise(),
    ).rejects.toMatchObject(invalid)
  })

  it('keeps identities apart and pool operations for developers (NotAuthorizedException)', async () => {
    const alice = await newDevice()
    const bob = await newDevice()
    await push(bob, 'private', [replace('k', 'v')])
    const denied = { code: 'NotAuthorizedException', statusCode: 403 }
    await expect(pull({ ...alice, identityId: bob.identityId }, 'private')).rejects.toMatchObject(denied)
    await expect(alice.sync.describeDataset(ids(bob, 'private')).promise()).rejects.toMatchObject(denied)
    await expect(alice.sync.deleteDataset(ids(bob, 'private')).promise()).rejects.toMatchObject(denied)
    await expect(
      alice.sync.describeIdentityUsage({ IdentityPoolId: POOL, IdentityId: bob.identityId }).promise(),
    ).rejects.toMatchObject(denied)
    for (const call of [
      () => alice.sync.describeIdentityPoolUsage({ IdentityPoolId: POOL }).promise(),
      () => alice.sync.listIdentityPoolUsage({}).promise(),
      () => alice.sync.getIdentityPoolConfiguration({ IdentityPoolId: POOL }).promise(),
      () => alice.sync.setIdentityPoolConfiguration({ IdentityPoolId: POOL, PushSync: {} }).promise(),
      () => alice.sync.getCognitoEvents({ IdentityPoolId: POOL }).promise(),
      () => alice.sync.setCognitoEvents({ IdentityPoolId: POOL, Events: { SyncTrigger: '' } }).promise(),
      () => alice.sync.bulkPublish({ IdentityPoolId: POOL }).promise(),
      () => alice.sync.getBulkPublishDetails({ IdentityPoolId: POOL }).promise(),
    ]) {
      await expect(call()).rejects.toMatchObject(denied)
    }
    // Bob's data is untouched, and a developer key reaches it.
    const admin = adminClient()
    const seen = await admin.listRecords(ids(bob, 'private')).promise()
    expect(seen.Records?.map((r) => [r.Key, r.Value])).toEqual([['k', 'v']])
  })

  it('deletes a dataset, keeps its counter and resurrects it', async () => {
    const device = await newDevice()
    await push(device, 'phoenix', [replace('a', '1')])
    const deleted = await device.sync.deleteDataset(ids(device, 'phoenix')).promise()
    expect(deleted.Dataset).toMatchObject({
      IdentityId: device.identityId,
      DatasetName: 'phoenix',
      NumRecords: 1,
      DataStorage: 2,
    })
    expectDate(deleted.Dataset?.CreationDate)
    const missing = { code: 'ResourceNotFoundException', statusCode: 404 }
    await expect(device.sync.describeDataset(ids(device, 'phoenix')).promise()).rejects.toMatchObject(missing)
    await expect(device.sync.deleteDataset(ids(device, 'phoenix')).promise()).rejects.toMatchObject(missing)
    await expect(device.sync.describeDataset(ids(device, 'never')).promise()).rejects.toMatchObject(missing)

    const gone = await pull(device, 'phoenix', 1)
    expect(gone).toMatchObject({
      DatasetExists: false,
      DatasetDeletedAfterRequestedSyncCount: true,
      Count: 0,
    })
    const again = await device.sync
      .updateRecords({
        ...ids(device, 'phoenix'),
        SyncSessionToken: gone.SyncSessionToken ?? '',
        RecordPatches: [replace('b', '2')],
      })
      .promise()
    // Counters never reset: 1 (write) + 1 (delete) + 1 (write).
    expect(again.Records?.[0]?.SyncCount).toBe(3)
    const stale = await pull(device, 'phoenix', 1)
    expect(stale).toMatchObject({
      DatasetExists: true,
      DatasetDeletedAfterRequestedSyncCount: true,
      DatasetSyncCount: 3,
    })
    expect(stale.Records?.map((r) => r.Key)).toEqual(['b'])
    const current = await pull(device, 'phoenix', 3)
    expect(current).toMatchObject({ DatasetDeletedAfterRequestedSyncCount: false, Records: [] })
  })

  it('lists datasets and reports identity and pool usage', async () => {
    const device = await newDevice()
    await push(device, 'b-set', [replace('k', 'vv')])
    await push(device, 'a-set', [replace('key', 'value')])
    const listed = await device.sync
      .listDatasets({ IdentityPoolId: POOL, IdentityId: device.identityId })
      .promise()
    expect(listed.Count).toBe(2)
    expect(listed.NextToken).toBeUndefined()
    expect(
      listed.Datasets?.map((d) => [d.DatasetName, d.NumRecords, d.DataStorage, d.LastModifiedBy]),
    ).toEqual([
      ['a-set', 1, 8, device.identityId],
      ['b-set', 1, 3, device.identityId],
    ])
    for (const dataset of listed.Datasets ?? []) {
      expect(dataset.IdentityId).toBe(device.identityId)
      expectDate(dataset.CreationDate)
      expectDate(dataset.LastModifiedDate)
    }
    const firstPage = await device.sync
      .listDatasets({ IdentityPoolId: POOL, IdentityId: device.identityId, MaxResults: 1 })
      .promise()
    expect(firstPage.Datasets?.map((d) => d.DatasetName)).toEqual(['a-set'])
    const secondPage = await device.sync
      .listDatasets({
        IdentityPoolId: POOL,
        IdentityId: device.identityId,
        MaxResults: 1,
        NextToken: firstPage.NextToken ?? '',
      })
      .promise()
    expect(secondPage.Datasets?.map((d) => d.DatasetName)).toEqual(['b-set'])
    expect(secondPage.NextToken).toBeUndefined()

    const usage = await device.sync
      .describeIdentityUsage({ IdentityPoolId: POOL, IdentityId: device.identityId })
      .promise()
    expect(usage.IdentityUsage).toMatchObject({
      IdentityId: device.identityId,
      IdentityPoolId: POOL,
      DatasetCount: 2,
      DataStorage: 11,
    })
    expectDate(usage.IdentityUsage?.LastModifiedDate)

    const admin = adminClient()
    const before = await admin.describeIdentityPoolUsage({ IdentityPoolId: POOL }).promise()
    expect(before.IdentityPoolUsage?.IdentityPoolId).toBe(POOL)
    expectDate(before.IdentityPoolUsage?.LastModifiedDate)
    await push(device, 'a-set', [replace('key', 'longer value', 1)])
    const after = await admin.describeIdentityPoolUsage({ IdentityPoolId: POOL }).promise()
    // Each accepted UpdateRecords is a sync session; storage follows the bytes.
    expect(after.IdentityPoolUsage?.SyncSessionsCount).toBe(
      (before.IdentityPoolUsage?.SyncSessionsCount ?? 0) + 1,
    )
    expect(after.IdentityPoolUsage?.DataStorage).toBe((before.IdentityPoolUsage?.DataStorage ?? 0) + 7)
    await expect(
      admin.describeIdentityPoolUsage({ IdentityPoolId: UNKNOWN_POOL }).promise(),
    ).rejects.toMatchObject({ code: 'ResourceNotFoundException' })

    // Another pool makes sure listing pages.
    await newDevice(STREAM_POOL)
    const pools = await admin.listIdentityPoolUsage({}).promise()
    expect(pools).toMatchObject({ MaxResults: 60 })
    expect(pools.IdentityPoolUsages?.map((p) => p.IdentityPoolId)).toEqual(
      expect.arrayContaining([POOL, STREAM_POOL]),
    )
    expect(pools.Count).toBe(pools.IdentityPoolUsages?.length)
    const seen: string[] = []
    let NextToken: string | undefined
    do {
      const page = await admin
        .listIdentityPoolUsage({ MaxResults: 1, ...(NextToken ? { NextToken } : {}) })
        .promise()
      expect(page.IdentityPoolUsages).toHaveLength(1)
      seen.push(...(page.IdentityPoolUsages ?? []).map((p) => p.IdentityPoolId ?? ''))
      NextToken = page.NextToken
    } while (NextToken)
    expect(seen).toEqual(pools.IdentityPoolUsages?.map((p) => p.IdentityPoolId))
  })

  it('registers devices and subscribes them to datasets', async () => {
    const device = await newDevice()
    const register = (Token: string, who = device) =>
      who.sync
        .registerDevice({ IdentityPoolId: POOL, IdentityId: who.identityId, Platform: 'GCM', Token })
        .promise()
    const { DeviceId } = await register('fcm-token-1')
    expect(DeviceId).toBeTruthy()
    // The same identity, platform and token keep their id; another token is another device.
    expect((await register('fcm-token-1')).DeviceId).toBe(DeviceId)
    expect((await register('fcm-token-2')).DeviceId).not.toBe(DeviceId)
    await expect(
      device.sync
        .registerDevice({
          IdentityPoolId: POOL,
          IdentityId: device.identityId,
          Platform: 'PIGEON',
          Token: 't',
        })
        .promise(),
    ).rejects.toMatchObject({ code: 'InvalidParameterException' })

    const sub = { ...ids(device, 'subs'), DeviceId: DeviceId ?? '' }
    const missing = { code: 'ResourceNotFoundException', statusCode: 404 }
    // The dataset must exist before a device can subscribe to it.
    await expect(device.sync.subscribeToDataset(sub).promise()).rejects.toMatchObject(missing)
    await push(device, 'subs', [replace('k', 'v')])
    expect(await device.sync.subscribeToDataset(sub).promise()).toEqual({})
    expect(await device.sync.unsubscribeFromDataset(sub).promise()).toEqual({})
    expect(await device.sync.unsubscribeFromDataset(sub).promise()).toEqual({})
    await expect(
      device.sync.subscribeToDataset({ ...sub, DeviceId: 'no-such-device' }).promise(),
    ).rejects.toMatchObject(missing)
    // Another identity's device is not one of this identity's.
    const other = await newDevice()
    const foreign = await register('fcm-token-other', other)
    await expect(
      device.sync.subscribeToDataset({ ...sub, DeviceId: foreign.DeviceId ?? '' }).promise(),
    ).rejects.toMatchObject(missing)
  })

  it('enforces key, record, size and dataset quotas with LimitExceededException', async () => {
    const device = await newDevice()
    const limit = { code: 'LimitExceededException', statusCode: 400 }
    // Keys are at most 128 bytes of UTF-8, not characters.
    await expect(push(device, 'keys', [replace('k'.repeat(129), 'v')])).rejects.toMatchObject(limit)
    await expect(push(device, 'keys', [replace('é'.repeat(65), 'v')])).rejects.toMatchObject(limit)
    expect((await push(device, 'keys', [replace('é'.repeat(64), 'v')])).Records).toHaveLength(1)

    const full = Array.from({ length: 1024 }, (_, i) => replace(`k${String(i).padStart(4, '0')}`, 'v'))
    expect((await push(device, 'records', full)).Records).toHaveLength(1024)
    const all = await pull(device, 'records')
    expect(all.Records).toHaveLength(1024)
    expect(all.NextToken).toBeUndefined()
    await expect(push(device, 'records', [replace('one-more', 'v')])).rejects.toMatchObject(limit)
    // At the limit a dataset may still change, and tombstones do not count as records.
    await push(device, 'records', [replace('k0000', 'changed', 1)])
    await push(device, 'records', [{ Op: 'remove', Key: 'k0001', Value: '', SyncCount: 1 }])
    await push(device, 'records', [replace('one-more', 'v')])
    const described = await device.sync.describeDataset(ids(device, 'records')).promise()
    expect(described.Dataset?.NumRecords).toBe(1024)
    // 1024 live records and one tombstone: v2's page of 1024 leaves one row for a second page.
    const firstPage = await pull(device, 'records')
    expect(firstPage.Records).toHaveLength(1024)
    expect(firstPage.NextToken).toBeTruthy()
    const secondPage = await listRecords(device, 'records', {
      NextToken: firstPage.NextToken ?? '',
    }).promise()
    expect(secondPage.Records?.map((r) => r.Key)).toEqual(['one-more'])
    expect(secondPage.NextToken).toBeUndefined()

    // A dataset holds at most 1 MiB of keys and values: exactly 1 MiB fits, one byte more does not.
    const exactlyFull = [replace('k', 'x'.repeat(1024 * 1024 - 1))]
    expect((await push(device, 'big', exactlyFull)).Records?.[0]?.SyncCount).toBe(1)
    await expect(push(device, 'big', [replace('y', '')])).rejects.toMatchObject(limit)
    await expect(
      push(device, 'bigger', [replace('a', 'x'.repeat(600_000)), replace('b', 'x'.repeat(600_000))]),
    ).rejects.toMatchObject(limit)

    // 20 datasets per identity; three exist already ('bigger' was refused as a whole).
    for (let i = 3; i < 20; i++) await push(device, `set-${i}`, [replace('k', 'v')])
    expect(
      (await device.sync.listDatasets({ IdentityPoolId: POOL, IdentityId: device.identityId }).promise())
        .Count,
    ).toBe(20)
    await expect(push(device, 'the-21st', [replace('k', 'v')])).rejects.toMatchObject(limit)
    await push(device, 'set-3', [replace('k', 'still writable', 1)])
    await device.sync.deleteDataset(ids(device, 'set-4')).promise()
    expect((await push(device, 'the-21st', [replace('k', 'v')])).Records).toHaveLength(1)
  })

  it('configures pools and Cognito events for developers', async () => {
    const admin = adminClient()
    await newDevice()
    await expect(
      admin.getIdentityPoolConfiguration({ IdentityPoolId: UNKNOWN_POOL }).promise(),
    ).rejects.toMatchObject({ code: 'ResourceNotFoundException', statusCode: 404 })
    const initial = await admin.getIdentityPoolConfiguration({ IdentityPoolId: POOL }).promise()
    expect(initial).toEqual({ IdentityPoolId: POOL })

    const PushSync = {
      ApplicationArns: ['arn:aws:sns:us-east-1:123456789012:app/GCM/pushsync'],
      RoleArn: 'arn:aws:iam::123456789012:role/push-sync',
    }
    const CognitoStreams = {
      StreamName: 'pool-stream',
      RoleArn: 'arn:aws:iam::123456789012:role/streams',
      StreamingStatus: 'DISABLED',
    }
    const set = await admin
      .setIdentityPoolConfiguration({ IdentityPoolId: POOL, PushSync, CognitoStreams })
      .promise()
    expect(set).toEqual({ IdentityPoolId: POOL, PushSync, CognitoStreams })
    // What is not given is kept.
    const streamsOnly = { ...CognitoStreams, StreamingStatus: 'ENABLED' }
    const changed = await admin
      .setIdentityPoolConfiguration({ IdentityPoolId: POOL, CognitoStreams: streamsOnly })
      .promise()
    expect(changed).toEqual({ IdentityPoolId: POOL, PushSync, CognitoStreams: streamsOnly })
    expect(await admin.getIdentityPoolConfiguration({ IdentityPoolId: POOL }).promise()).toEqual(changed)
    await expect(
      admin
        .setIdentityPoolConfiguration({
          IdentityPoolId: POOL,
          CognitoStreams: { ...CognitoStreams, RoleArn: 'short' },
        })
        .promise(),
    ).rejects.toMatchObject({ code: 'InvalidParameterException' })

    expect(await admin.getCognitoEvents({ IdentityPoolId: POOL }).promise()).toEqual({ Events: {} })
    const hook = 'http://127.0.0.1:9/hook'
    expect(
      await admin.setCognitoEvents({ IdentityPoolId: POOL, Events: { SyncTrigger: hook } }).promise(),
    ).toEqual({})
    expect(await admin.getCognitoEvents({ IdentityPoolId: POOL }).promise()).toEqual({
      Events: { SyncTrigger: hook },
    })
    await expect(
      admin.setCognitoEvents({ IdentityPoolId: POOL, Events: { SyncTrigger: hook, Other: hook } }).promise(),
    ).rejects.toMatchObject({ code: 'InvalidParameterException' })
    await expect(
      admin.setCognitoEvents({ IdentityPoolId: POOL, Events: { PostAuthentication: hook } }).promise(),
    ).rejects.toMatchObject({ code: 'InvalidParameterException' })
    // An empty value removes the event.
    await admin.setCognitoEvents({ IdentityPoolId: POOL, Events: { SyncTrigger: '' } }).promise()
    expect(await admin.getCognitoEvents({ IdentityPoolId: POOL }).promise()).toEqual({ Events: {} })
  })

  it('bulk publishes every dataset of a pool once a day into its stream', async () => {
    const admin = adminClient()
    const first = await newDevice(STREAM_POOL)
    const second = await newDevice(STREAM_POOL)
    await push(first, 'settings', [replace('theme', 'dark'), replace('font', 'big')])
    await push(first, 'settings', [{ Op: 'remove', Key: 'font', Value: '', SyncCount: 1 }])
    await push(second, 'scores', [replace('level', '7')])
    await push(second, 'gone', [replace('k', 'v')])
    await second.sync.deleteDataset(ids(second, 'gone')).promise()

    const details = await admin.getBulkPublishDetails({ IdentityPoolId: STREAM_POOL }).promise()
    expect(details).toEqual({ IdentityPoolId: STREAM_POOL, BulkPublishStatus: 'NOT_STARTED' })
    // Streaming must be configured and enabled first.
    await expect(admin.bulkPublish({ IdentityPoolId: STREAM_POOL }).promise()).rejects.toMatchObject({
      code: 'InvalidParameterException',
    })
    await admin
      .setIdentityPoolConfiguration({
        IdentityPoolId: STREAM_POOL,
        CognitoStreams: {
          StreamName: 'published-stream',
          RoleArn: 'arn:aws:iam::123456789012:role/streams',
          StreamingStatus: 'ENABLED',
        },
      })
      .promise()
    await expect(admin.bulkPublish({ IdentityPoolId: UNKNOWN_POOL }).promise()).rejects.toMatchObject({
      code: 'ResourceNotFoundException',
    })

    const started = Date.now()
    expect(await admin.bulkPublish({ IdentityPoolId: STREAM_POOL }).promise()).toEqual({
      IdentityPoolId: STREAM_POOL,
    })
    const done = await bulkPublishSettles(admin, STREAM_POOL)
    expect(done).toMatchObject({ IdentityPoolId: STREAM_POOL, BulkPublishStatus: 'SUCCEEDED' })
    expect(done.FailureMessage).toBeUndefined()
    expectDate(done.BulkPublishStartTime, started)
    expectDate(done.BulkPublishCompleteTime, started)
    expect(done.BulkPublishCompleteTime?.getTime()).toBeGreaterThanOrEqual(
      done.BulkPublishStartTime?.getTime() ?? 0,
    )
    await expect(admin.bulkPublish({ IdentityPoolId: STREAM_POOL }).promise()).rejects.toMatchObject({
      code: 'AlreadyStreamedException',
      statusCode: 400,
    })

    // One Kinesis-shaped record per existing dataset; deleted datasets are not replayed.
    const text = await readFile(join(workDir, 'pushsync-streams', 'published-stream.ndjson'), 'utf8')
    const lines = text.trimEnd().split('\n')
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(records).toHaveLength(2)
    const byName = new Map(records.map((record) => [record.dataSetName, record]))
    expect(byName.get('settings')).toMatchObject({
      identityPoolId: STREAM_POOL,
      identityId: first.identityId,
      dataSetName: 'settings',
      payloadType: 'Inline',
      kinesisSyncRecordsURL: null,
      syncCount: 2,
    })
    const settings = byName.get('settings') ?? {}
    const syncRecords = settings.kinesisSyncRecords as Array<Record<string, unknown>>
    expect(syncRecords.map((r) => [r.key, r.value, r.syncCount, r.op]).sort()).toEqual([
      ['font', null, 2, 'remove'],
      ['theme', 'dark', 1, 'replace'],
    ])
    // Kinesis records carry epoch milliseconds, not the REST API's seconds.
    expect(Math.abs((settings.lastModifiedDate as number) - started)).toBeLessThan(60_000)
    for (const record of syncRecords) {
      expect(Math.abs((record.lastModifiedDate as number) - started)).toBeLessThan(60_000)
    }
    expect(byName.get('scores')).toMatchObject({
      identityPoolId: STREAM_POOL,
      identityId: second.identityId,
      dataSetName: 'scores',
      syncCount: 1,
      kinesisSyncRecords: [
        expect.objectContaining({ key: 'level', value: '7', syncCount: 1, op: 'replace' }),
      ],
    })
  })

  it('refuses a second bulk publish while one is in progress (DuplicateRequestException)', async () => {
    const admin = adminClient()
    const device = await newDevice(BUSY_POOL)
    await push(device, 'settings', [replace('k', 'v')])
    await admin
      .setIdentityPoolConfiguration({
        IdentityPoolId: BUSY_POOL,
        CognitoStreams: {
          StreamName: 'busy-stream',
          RoleArn: 'arn:aws:iam::123456789012:role/streams',
          StreamingStatus: 'ENABLED',
        },
      })
      .promise()
    // The stream's file is a named pipe: the server's write blocks until this test reads it, which
    // holds the publish IN_PROGRESS for exactly as long as needed.
    const streams = join(workDir, 'pushsync-streams')
    await mkdir(streams, { recursive: true })
    const pipe = join(streams, 'busy-stream.ndjson')
    execFileSync('mkfifo', [pipe])
    await admin.bulkPublish({ IdentityPoolId: BUSY_POOL }).promise()
    let published = ''
    try {
      const details = await admin.getBulkPublishDetails({ IdentityPoolId: BUSY_POOL }).promise()
      expect(details.BulkPublishStatus).toBe('IN_PROGRESS')
      expect(details.BulkPublishCompleteTime).toBeUndefined()
      await expect(admin.bulkPublish({ IdentityPoolId: BUSY_POOL }).promise()).rejects.toMatchObject({
        code: 'DuplicateRequestException',
        statusCode: 400,
      })
    } finally {
      // Reading the pipe lets the publish finish, whatever happened above.
      published = await readFile(pipe, 'utf8')
    }
    expect(JSON.parse(published)).toMatchObject({ identityId: device.identityId, dataSetName: 'settings' })
    expect((await bulkPublishSettles(admin, BUSY_POOL)).BulkPublishStatus).toBe('SUCCEEDED')
  })

  it('fails a write whose sync trigger answers malformed JSON (InvalidLambdaFunctionOutputException)', async () => {
    const trigger = await startTrigger(200, '{"version": 2, "eventType": ')
    try {
      const admin = adminClient()
      const device = await newDevice(TRIGGER_POOL)
      await admin
        .setCognitoEvents({ IdentityPoolId: TRIGGER_POOL, Events: { SyncTrigger: trigger.url } })
        .promise()
      await expect(push(device, 'settings', [replace('k', 'v')])).rejects.toMatchObject({
        code: 'InvalidLambdaFunctionOutputException',
        statusCode: 400,
      })
      expect(trigger.events).toEqual([
        expect.objectContaining({
          eventType: 'SyncTrigger',
          identityId: device.identityId,
          datasetName: 'settings',
        }),
      ])
      expect(await pull(device, 'settings')).toMatchObject({ DatasetExists: false, DatasetSyncCount: 0 })
    } finally {
      await trigger.close()
    }
  })
})
