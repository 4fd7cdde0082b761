import {
  BulkPublishCommand,
  DeleteDatasetCommand,
  GetBulkPublishDetailsCommand,
  GetIdentityPoolConfigurationCommand,
  InvalidLambdaFunctionOutputException,
  InvalidParameterException,
  LambdaThrottledException,
  SetCognitoEventsCommand,
  SetIdentityPoolConfigurationCommand,
} from '@aws-sdk/client-cognito-sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncServer } from '../../src/server.js'
import { type FakeAws, startFakeAws, useEnvironment } from './fake/index.js'
import { adminClient, replace, signIn, startServer } from './helpers.js'

const STREAM_POOL = 'us-east-1:5b5b0000-0000-4000-8000-000000000001'
const BROKEN_POOL = 'us-east-1:5b5b0000-0000-4000-8000-000000000002'
const TRIGGER_POOL = 'us-east-1:5b5b0000-0000-4000-8000-000000000003'
const poll = { timeout: 10_000, interval: 20 }

let aws: FakeAws
let restoreEnv: () => void
let server: SyncServer
let url: string

beforeAll(async () => {
  aws = await startFakeAws()
  restoreEnv = useEnvironment(aws.env)
  aws.kinesis.addStream('notes-stream', 2)
  ;({ server, url } = await startServer())
  await adminClient(url).send(
    new SetIdentityPoolConfigurationCommand({
      IdentityPoolId: STREAM_POOL,
      CognitoStreams: { StreamName: 'notes-stream', RoleArn: aws.streamRole.arn, StreamingStatus: 'ENABLED' },
    }),
  )
})
afterAll(async () => {
  await server?.close()
  await aws?.close()
  restoreEnv?.()
})

type StreamRecord = Record<string, unknown> & { kinesisSyncRecords: Array<Record<string, unknown>> }
const streamed = (identityId: string) =>
  aws.kinesis
    .records('notes-stream')
    .filter((record) => record.partitionKey === identityId)
    .map((record) => record.data as StreamRecord)

describe('Cognito Streams to Kinesis', () => {
  it('writes every committed UpdateRecords as Cognito did, partitioned by identity, as the stream role', async () => {
    const user = await signIn(url, STREAM_POOL)
    const before = Date.now()
    await user.write('notes', [replace('title', 'hello'), replace('body', 'world')])
    await user.write('notes', [{ Op: 'remove', Key: 'body', SyncCount: 1 }])
    await expect.poll(() => streamed(user.identityId).length, poll).toBe(2)
    const [first, second] = streamed(user.identityId)
    expect(first).toMatchObject({
      identityPoolId: STREAM_POOL,
      identityId: user.identityId,
      dataSetName: 'notes',
      operation: 'replace',
      kinesisSyncRecordsURL: null,
      payloadType: 'Inline',
      syncCount: 1,
    })
    expect(Object.keys(first ?? {}).sort()).toEqual([
      'dataSetName',
      'identityId',
      'identityPoolId',
      'kinesisSyncRecords',
      'kinesisSyncRecordsURL',
      'lastModifiedDate',
      'operation',
      'payloadType',
      'syncCount',
    ])
    // Epoch milliseconds, where the REST API has seconds.
    expect(first?.lastModifiedDate).toBeGreaterThanOrEqual(before)
    expect(first?.kinesisSyncRecords.map((r) => [r.key, r.value, r.syncCount, r.op]).sort()).toEqual([
      ['body', 'world', 1, 'replace'],
      ['title', 'hello', 1, 'replace'],
    ])
    expect(second?.kinesisSyncRecords).toMatchObject([
      { key: 'body', value: null, syncCount: 2, op: 'remove' },
    ])
    expect(aws.kinesis.records('notes-stream').every((r) => r.roleArn === aws.streamRole.arn)).toBe(true)
  })

  it("streams a dataset's deletion as a remove operation", async () => {
    const user = await signIn(url, STREAM_POOL)
    await user.write('scratch', [replace('k', 'v')])
    await user.sync.send(
      new DeleteDatasetCommand({
        IdentityPoolId: STREAM_POOL,
        IdentityId: user.identityId,
        DatasetName: 'scratch',
      }),
    )
    await expect.poll(() => streamed(user.identityId).length, poll).toBe(2)
    expect(streamed(user.identityId)[1]).toMatchObject({
      dataSetName: 'scratch',
      operation: 'remove',
      kinesisSyncRecords: [],
      syncCount: 2,
    })
  })

  it("retries throttled writes and keeps an identity's records in commit order", async () => {
    const user = await signIn(url, STREAM_POOL)
    for (let i = 0; i < 3; i++)
      aws.kinesis.failNext.push({
        action: 'PutRecord',
        status: 400,
        type: 'ProvisionedThroughputExceededException',
        message:
          'Rate exceeded for shard shardId-000000000000 in stream notes-stream under account 123456789012.',
      })
    await user.write('notes', [replace('n', '1')])
    await user.write('notes', [replace('n', '2', 1)])
    await user.write('notes', [replace('n', '3', 2)])
    await expect.poll(() => streamed(user.identityId).length, poll).toBe(3)
    expect(streamed(user.identityId).map((r) => r.syncCount)).toEqual([1, 2, 3])
    expect(await server.store.transaction((tx) => tx.countStreamOutbox())).toBe(0)
  })

  it('bulk publishes every dataset of the pool into the same stream', async () => {
    const user = await signIn(url, STREAM_POOL)
    await user.write('bulk', [replace('a', '1'), replace('b', '2')])
    await user.write('bulk', [{ Op: 'remove', Key: 'b', SyncCount: 1 }])
    await expect.poll(() => streamed(user.identityId).length, poll).toBe(2)
    const admin = adminClient(url)
    await admin.send(new BulkPublishCommand({ IdentityPoolId: STREAM_POOL }))
    await expect
      .poll(
        async () =>
          (await admin.send(new GetBulkPublishDetailsCommand({ IdentityPoolId: STREAM_POOL })))
            .BulkPublishStatus,
        poll,
      )
      .toBe('SUCCEEDED')
    const published = streamed(user.identityId)[2]
    expect(published).toMatchObject({ dataSetName: 'bulk', operation: 'replace', syncCount: 2 })
    expect(published?.kinesisSyncRecords.map((r) => [r.key, r.value, r.syncCount, r.op]).sort()).toEqual([
      ['a', '1', 1, 'replace'],
      ['b', null, 2, 'remove'],
    ])
  })

  it('turns streaming off when the stream is gone, as Cognito did, and drops what waited', async () => {
    aws.kinesis.addStream('short-lived')
    const admin = adminClient(url)
    await admin.send(
      new SetIdentityPoolConfigurationCommand({
        IdentityPoolId: BROKEN_POOL,
        CognitoStreams: {
          StreamName: 'short-lived',
          RoleArn: aws.streamRole.arn,
          StreamingStatus: 'ENABLED',
        },
      }),
    )
    const user = await signIn(url, BROKEN_POOL)
    await user.write('notes', [replace('k', 'v')])
    await expect.poll(() => aws.kinesis.records('short-lived').length, poll).toBe(1)
    aws.kinesis.deleteStream('short-lived')
    await user.write('notes', [replace('k', 'w', 1)])
    await expect
      .poll(
        async () =>
          (await admin.send(new GetIdentityPoolConfigurationCommand({ IdentityPoolId: BROKEN_POOL })))
            .CognitoStreams?.StreamingStatus,
        poll,
      )
      .toBe('DISABLED')
    await expect.poll(() => server.store.transaction((tx) => tx.countStreamOutbox()), poll).toBe(0)
    // Later writes are not streamed, and nothing is queued for them.
    aws.kinesis.addStream('short-lived')
    await user.write('notes', [replace('k', 'x', 2)])
    expect(await server.store.transaction((tx) => tx.countStreamOutbox())).toBe(0)
    expect(aws.kinesis.records('short-lived')).toEqual([])
  })
})

describe('a Lambda function as sync trigger', () => {
  let functionArn: string
  let behaviour: (event: Record<string, unknown>) => unknown

  beforeAll(async () => {
    functionArn = aws.lambda.addFunction('notes-trigger', (event) =>
      behaviour(event as Record<string, unknown>),
    )
    await adminClient(url).send(
      new SetCognitoEventsCommand({ IdentityPoolId: TRIGGER_POOL, Events: { SyncTrigger: functionArn } }),
    )
  })

  it('is invoked with the documented event, as the server, and what it changes is stored', async () => {
    behaviour = (event) => {
      const records = event.datasetRecords as Record<string, { newValue: string; op: string }>
      const title = records.title
      if (title !== undefined) title.newValue = title.newValue.toUpperCase()
      records.added = { newValue: 'by the trigger', op: 'replace' } as never
      return event
    }
    const user = await signIn(url, TRIGGER_POOL)
    const written = await user.write('notes', [replace('title', 'quiet')])
    expect(written.Records?.map((r) => [r.Key, r.Value]).sort()).toEqual([
      ['added', 'by the trigger'],
      ['title', 'QUIET'],
    ])
    const invocation = aws.lambda.invocations.at(-1)
    expect(invocation?.arn).toBe(functionArn)
    expect(invocation?.caller).toBe(aws.server.arn)
    expect(invocation?.event).toEqual({
      version: 2,
      eventType: 'SyncTrigger',
      region: 'us-east-1',
      identityPoolId: TRIGGER_POOL,
      identityId: user.identityId,
      datasetName: 'notes',
      datasetRecords: { title: { oldValue: null, newValue: 'quiet', op: 'replace' } },
    })
  })

  it('fails the write with InvalidLambdaFunctionOutputException when the function throws, storing nothing', async () => {
    behaviour = () => {
      throw new Error('the function broke')
    }
    const user = await signIn(url, TRIGGER_POOL)
    await expect(user.write('notes', [replace('k', 'v')])).rejects.toBeInstanceOf(
      InvalidLambdaFunctionOutputException,
    )
    expect((await user.pull('notes')).Records).toEqual([])
  })

  it('fails the write with InvalidLambdaFunctionOutputException for an answer that changes the event', async () => {
    behaviour = (event) => ({ ...event, datasetName: 'other' })
    const user = await signIn(url, TRIGGER_POOL)
    await expect(user.write('notes', [replace('k', 'v')])).rejects.toBeInstanceOf(
      InvalidLambdaFunctionOutputException,
    )
  })

  it('answers LambdaThrottledException when Lambda throttles, so the client retries', async () => {
    behaviour = (event) => event
    aws.lambda.failNext.push({ status: 429, type: 'TooManyRequestsException', message: 'Rate Exceeded.' })
    const user = await signIn(url, TRIGGER_POOL)
    await expect(user.write('notes', [replace('k', 'v')])).rejects.toBeInstanceOf(LambdaThrottledException)
    const retried = await user.write('notes', [replace('k', 'v')])
    expect(retried.Records?.map((r) => r.Value)).toEqual(['v'])
  })

  it('fails the write with InvalidLambdaFunctionOutputException when the function is gone', async () => {
    const gone = aws.lambda.addFunction('deleted-trigger', (event) => event)
    aws.lambda.removeFunction(gone)
    const pool = 'us-east-1:5b5b0000-0000-4000-8000-000000000004'
    await adminClient(url).send(
      new SetCognitoEventsCommand({ IdentityPoolId: pool, Events: { SyncTrigger: gone } }),
    )
    const user = await signIn(url, pool)
    await expect(user.write('notes', [replace('k', 'v')])).rejects.toThrow(
      /cannot be invoked: ResourceNotFound/,
    )
  })

  it('refuses a SyncTrigger that is neither a Lambda function ARN nor an http(s) URL', async () => {
    for (const target of [
      'arn:aws:lambda:us-east-1:123456789012:layer:mine',
      'arn:aws:sns:us-east-1:123456789012:app/GCM/notes',
      'arn:aws:lambda:us-east-1.example.com:123456789012:function:f',
    ])
      await expect(
        adminClient(url).send(
          new SetCognitoEventsCommand({ IdentityPoolId: TRIGGER_POOL, Events: { SyncTrigger: target } }),
        ),
      ).rejects.toBeInstanceOf(InvalidParameterException)
  })
})
