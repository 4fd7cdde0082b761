import {
  GetCredentialsForIdentityCommand,
  NotAuthorizedException as IdentityNotAuthorized,
} from '@aws-sdk/client-cognito-identity'
import {
  CognitoSyncClient,
  DeleteDatasetCommand,
  DescribeIdentityUsageCommand,
  ListDatasetsCommand,
  ListRecordsCommand,
  NotAuthorizedException,
  type RecordPatch,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sha256 } from '../../src/auth/sigv4.js'
import { createDevice } from './devices.js'
import { ADMIN, type RunningServer, spawnServer } from './spawn-server.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const region = 'us-east-1'
const identityPoolId = 'us-east-1:5a0c9e7b-3d2f-4a1e-9b8c-6d5e4f3a2b1c'
let server: RunningServer

beforeAll(async () => {
  server = await spawnServer()
})
afterAll(async () => {
  await server?.stop()
})

/** A device of a new identity of this file's pool. */
const newDevice = () => createDevice({ url: server.url, identityPoolId })

interface SigningCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

const admin = () => new CognitoSyncClient({ region, endpoint: server.url, credentials: ADMIN })

/**
 * The merge extension has no SDK command: sign the raw request as an SDK would (SigV4 for
 * `cognito-sync`, ids percent-encoded in the path) and send it with fetch.
 */
async function merge(targetId: string, body: unknown, credentials: SigningCredentials = ADMIN) {
  const url = new URL(
    `/identitypools/${encodeURIComponent(identityPoolId)}/identities/${encodeURIComponent(targetId)}/merge`,
    server.url,
  )
  const text = JSON.stringify(body)
  const signer = new SignatureV4({ service: 'cognito-sync', region, credentials, sha256: Sha256 })
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body: text,
    }),
  )
  // fetch sets Host itself, to the same value.
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'))
  const response = await fetch(url, { method: 'POST', headers, body: text })
  return {
    status: response.status,
    errorType: response.headers.get('x-amzn-errortype'),
    json: (await response.json()) as Record<string, unknown>,
  }
}

const ids = (IdentityId: string, DatasetName: string) => ({
  IdentityPoolId: identityPoolId,
  IdentityId,
  DatasetName,
})

async function pull(sync: CognitoSyncClient, identityId: string, name: string) {
  return sync.send(new ListRecordsCommand(ids(identityId, name)))
}

async function push(sync: CognitoSyncClient, identityId: string, name: string, RecordPatches: RecordPatch[]) {
  const { SyncSessionToken } = await pull(sync, identityId, name)
  return sync.send(new UpdateRecordsCommand({ ...ids(identityId, name), SyncSessionToken, RecordPatches }))
}

const replace = (Key: string, Value: string, SyncCount = 0): RecordPatch => ({
  Op: 'replace',
  Key,
  Value,
  SyncCount,
})

type Row = { Key?: string | undefined; Value?: string | undefined; SyncCount?: number | undefined }

/** Key, value and sync count of each record, by key; a tombstone's value is undefined. */
const summary = (records: readonly Row[] = []) =>
  records.map((r) => [r.Key, r.Value, r.SyncCount]).sort((a, b) => String(a[0]).localeCompare(String(b[0])))

async function datasetNames(sync: CognitoSyncClient, identityId: string) {
  const { Datasets } = await sync.send(
    new ListDatasetsCommand({ IdentityPoolId: identityPoolId, IdentityId: identityId }),
  )
  return (Datasets ?? []).map((d) => d.DatasetName)
}

describe('identity merge (admin extension)', () => {
  it('moves the source identity’s datasets under the survivor as NAME.SOURCE', async () => {
    const a = await newDevice()
    const b = await newDevice()
    await push(a.sync, a.identityId, 'settings', [replace('theme', 'dark')])
    await push(b.sync, b.identityId, 'settings', [replace('theme', 'light')])
    await push(b.sync, b.identityId, 'settings', [replace('font', 'big')])
    await push(b.sync, b.identityId, 'scores', [replace('level', '7')])
    const merged = `settings.${b.identityId}`

    const result = await merge(a.identityId, { SourceIdentityId: b.identityId })
    expect(result).toEqual({
      status: 200,
      errorType: null,
      json: { IdentityId: a.identityId, MergedDatasetNames: [`scores.${b.identityId}`, merged] },
    })

    expect(await datasetNames(a.sync, a.identityId)).toEqual([`scores.${b.identityId}`, 'settings', merged])
    // Records, their counts and their authors come along unchanged.
    const moved = await pull(a.sync, a.identityId, merged)
    expect(moved).toMatchObject({ DatasetExists: true, DatasetSyncCount: 2, Count: 2 })
    expect(summary(moved.Records)).toEqual([
      ['font', 'big', 2],
      ['theme', 'light', 1],
    ])
    expect(moved.Records?.every((r) => r.LastModifiedBy === b.identityId)).toBe(true)
    const main = await pull(a.sync, a.identityId, 'settings')
    expect(main.MergedDatasetNames).toEqual([merged])
    expect(summary(main.Records)).toEqual([['theme', 'dark', 1]])

    // The source owns nothing any more, and Cognito Identity no longer hands out its credentials.
    expect(await datasetNames(admin(), b.identityId)).toEqual([])
    const usage = await admin().send(
      new DescribeIdentityUsageCommand({ IdentityPoolId: identityPoolId, IdentityId: b.identityId }),
    )
    expect(usage.IdentityUsage).toMatchObject({ DatasetCount: 0, DataStorage: 0 })
    expect(await pull(admin(), b.identityId, 'settings')).toMatchObject({ DatasetExists: false, Count: 0 })
    await expect(
      b.identity.send(new GetCredentialsForIdentityCommand({ IdentityId: b.identityId })),
    ).rejects.toBeInstanceOf(IdentityNotAuthorized)
    // Credentials issued to it before the merge are refused too, so it cannot re-create data no one reaches.
    await expect(push(b.sync, b.identityId, 'settings', [replace('theme', 'again')])).rejects.toBeInstanceOf(
      NotAuthorizedException,
    )
    // A merged dataset is reported even while the survivor has no dataset of that name yet.
    expect((await pull(a.sync, a.identityId, 'scores')).MergedDatasetNames).toEqual([
      `scores.${b.identityId}`,
    ])

    // The merged dataset syncs on from its own counter until the app folds it in and deletes it.
    const continued = await push(a.sync, a.identityId, merged, [replace('font', 'bigger', 2)])
    expect(summary(continued.Records)).toEqual([['font', 'bigger', 3]])
    expect((await pull(a.sync, a.identityId, 'settings')).MergedDatasetNames).toEqual([merged])
    await a.sync.send(new DeleteDatasetCommand(ids(a.identityId, merged)))
    const folded = await pull(a.sync, a.identityId, 'settings')
    expect(folded.MergedDatasetNames).toBeUndefined()
    expect(folded.DatasetExists).toBe(true)
  })

  it('is for developer credentials only', async () => {
    const a = await newDevice()
    const b = await newDevice()
    await push(b.sync, b.identityId, 'settings', [replace('k', 'v')])
    const refused = await merge(a.identityId, { SourceIdentityId: b.identityId }, await a.credentials())
    expect(refused).toMatchObject({
      status: 403,
      errorType: 'NotAuthorizedException',
      json: { __type: 'NotAuthorizedException' },
    })
    expect(await datasetNames(b.sync, b.identityId)).toEqual(['settings'])
    expect(await datasetNames(a.sync, a.identityId)).toEqual([])
  })

  it('refuses bad requests as a whole', async () => {
    const a = await newDevice()
    const b = await newDevice()
    await push(b.sync, b.identityId, 'settings', [replace('k', 'v')])
    await push(b.sync, b.identityId, 'scores', [replace('k', 'v')])
    expect(await merge(a.identityId, {})).toMatchObject({
      status: 400,
      errorType: 'InvalidParameterException',
    })
    expect(await merge(a.identityId, { SourceIdentityId: a.identityId })).toMatchObject({
      status: 400,
      errorType: 'InvalidParameterException',
    })
    expect(
      await merge(a.identityId, { SourceIdentityId: 'us-east-1:00000000-0000-0000-0000-000000000000' }),
    ).toMatchObject({ status: 404, errorType: 'ResourceNotFoundException' })

    // Merged datasets count toward the survivor's 20: 19 + 2 is one too many, and nothing moves.
    for (let i = 0; i < 19; i++) await push(a.sync, a.identityId, `set-${i}`, [replace('k', 'v')])
    expect(await merge(a.identityId, { SourceIdentityId: b.identityId })).toMatchObject({
      status: 400,
      errorType: 'LimitExceededException',
    })
    expect(await datasetNames(b.sync, b.identityId)).toEqual(['scores', 'settings'])
    expect(await datasetNames(a.sync, a.identityId)).toHaveLength(19)
    // The identity was not disabled either.
    await expect(
      b.identity.send(new GetCredentialsForIdentityCommand({ IdentityId: b.identityId })),
    ).resolves.toMatchObject({ IdentityId: b.identityId })

    // Once merged, an identity cannot be merged again.
    await a.sync.send(new DeleteDatasetCommand(ids(a.identityId, 'set-0')))
    expect((await merge(a.identityId, { SourceIdentityId: b.identityId })).status).toBe(200)
    expect(await merge(a.identityId, { SourceIdentityId: b.identityId })).toMatchObject({
      status: 404,
      errorType: 'ResourceNotFoundException',
    })
  })
})
