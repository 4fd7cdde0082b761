import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  CognitoSyncClient,
  GetCognitoEventsCommand,
  InvalidLambdaFunctionOutputException,
  LambdaThrottledException,
  ListRecordsCommand,
  type RecordPatch,
  SetCognitoEventsCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDevice } from './devices.js'
import { ADMIN, type RunningServer, spawnServer } from './spawn-server.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const region = 'us-east-1'
const identityPoolId = 'us-east-1:7d3e1f20-9a4b-4c5d-8e6f-0a1b2c3d4e5f'

interface TriggerRecord {
  oldValue: string | null
  newValue: string | null
  op: string
}

interface TriggerEvent {
  version: number
  eventType: string
  region: string
  identityPoolId: string
  identityId: string
  datasetName: string
  datasetRecords: Record<string, TriggerRecord>
}

interface Answer {
  readonly status?: number
  /** A string goes out as is; anything else as JSON. */
  readonly body: unknown
}

let server: RunningServer
let trigger: Server
/** Every event the trigger received, in order. */
let events: TriggerEvent[] = []
/** What the trigger answers; each test sets its own. */
let answer: (event: TriggerEvent) => Answer = (event) => ({ body: event })

beforeAll(async () => {
  trigger = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TriggerEvent
      events.push(event)
      const { status = 200, body } = answer(structuredClone(event))
      response
        .writeHead(status, { 'content-type': 'application/json' })
        .end(typeof body === 'string' ? body : JSON.stringify(body))
    })
  })
  await new Promise<void>((resolve) => trigger.listen(0, '127.0.0.1', resolve))
  // The trigger listens on this machine: a private address the server calls only when told to.
  server = await spawnServer(['--allow-private-outbound'])
  const { port } = trigger.address() as AddressInfo
  const url = `http://127.0.0.1:${port}/sync-trigger`
  await adminClient().send(
    new SetCognitoEventsCommand({ IdentityPoolId: identityPoolId, Events: { SyncTrigger: url } }),
  )
  const configured = await adminClient().send(new GetCognitoEventsCommand({ IdentityPoolId: identityPoolId }))
  expect(configured.Events).toEqual({ SyncTrigger: url })
})
afterAll(async () => {
  await server?.stop()
  await new Promise<void>((resolve) => {
    trigger?.close(() => resolve())
    trigger?.closeAllConnections()
  })
})
beforeEach(() => {
  events = []
  answer = (event) => ({ body: event })
})

/**
 * The SDK retries 429 answers; a single attempt lets a test count the trigger's calls exactly and
 * keeps a deliberate LambdaThrottledException from costing back-off time.
 */
const clientOptions = { region, maxAttempts: 1 }

/** A device of a new identity of this file's pool. */
const newDevice = () =>
  createDevice({ url: server.url, identityPoolId, maxAttempts: clientOptions.maxAttempts })

function adminClient() {
  return new CognitoSyncClient({ ...clientOptions, endpoint: server.url, credentials: ADMIN })
}

const dataset = (identityId: string, DatasetName = 'settings') => ({
  IdentityPoolId: identityPoolId,
  IdentityId: identityId,
  DatasetName,
})

async function pull(sync: CognitoSyncClient, identityId: string, LastSyncCount = 0) {
  return sync.send(new ListRecordsCommand({ ...dataset(identityId), LastSyncCount }))
}

async function push(sync: CognitoSyncClient, identityId: string, RecordPatches: RecordPatch[]) {
  const { SyncSessionToken } = await pull(sync, identityId)
  return sync.send(new UpdateRecordsCommand({ ...dataset(identityId), SyncSessionToken, RecordPatches }))
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

describe('the SyncTrigger event, called over HTTP', () => {
  it('sends the documented event and applies what the trigger changes', async () => {
    const { sync, identityId } = await newDevice()
    const created = await push(sync, identityId, [
      replace('theme', 'dark'),
      replace('font', 'big'),
      replace('lang', 'en'),
      replace('color', 'red'),
    ])
    expect(summary(created.Records)).toEqual([
      ['color', 'red', 1],
      ['font', 'big', 1],
      ['lang', 'en', 1],
      ['theme', 'dark', 1],
    ])
    expect(events).toHaveLength(1)
    expect(events[0]?.datasetRecords.theme).toEqual({ oldValue: null, newValue: 'dark', op: 'replace' })

    answer = (event) => {
      const records = event.datasetRecords
      records.theme = { oldValue: 'dark', newValue: 'light, checked', op: 'replace' }
      records.font = { oldValue: 'big', newValue: 'huge', op: 'replace' }
      records.color = { oldValue: 'red', newValue: null, op: 'remove' }
      records.added = { oldValue: null, newValue: 'by trigger', op: 'replace' }
      return { body: event }
    }
    const updated = await push(sync, identityId, [
      replace('theme', 'light', 1),
      { Op: 'remove', Key: 'lang', SyncCount: 1 },
    ])

    // Every live record goes out, the ones the request did not touch unchanged.
    expect(events[1]).toEqual({
      version: 2,
      eventType: 'SyncTrigger',
      region: 'us-east-1',
      identityPoolId,
      identityId,
      datasetName: 'settings',
      datasetRecords: {
        theme: { oldValue: 'dark', newValue: 'light', op: 'replace' },
        lang: { oldValue: 'en', newValue: null, op: 'remove' },
        font: { oldValue: 'big', newValue: 'big', op: 'replace' },
        color: { oldValue: 'red', newValue: 'red', op: 'replace' },
      },
    })
    // The response has the trigger's outcome, every change stamped with the one new sync count.
    const expected = [
      ['added', 'by trigger', 2],
      ['color', undefined, 2],
      ['font', 'huge', 2],
      ['lang', undefined, 2],
      ['theme', 'light, checked', 2],
    ]
    expect(summary(updated.Records)).toEqual(expected)
    const since1 = await pull(sync, identityId, 1)
    expect(since1.DatasetSyncCount).toBe(2)
    expect(summary(since1.Records)).toEqual(expected)
    const everything = await pull(sync, identityId)
    expect(summary(everything.Records?.filter((r) => r.Value !== undefined))).toEqual([
      ['added', 'by trigger', 2],
      ['font', 'huge', 2],
      ['theme', 'light, checked', 2],
    ])
    expect(events).toHaveLength(2)
  })

  it('keeps what the request asked for records the trigger leaves out', async () => {
    const { sync, identityId } = await newDevice()
    await push(sync, identityId, [replace('a', '1'), replace('b', '2')])
    answer = (event) => ({ body: { ...event, datasetRecords: {} } })
    const updated = await push(sync, identityId, [replace('a', 'one', 1)])
    expect(summary(updated.Records)).toEqual([['a', 'one', 2]])
    expect(summary((await pull(sync, identityId)).Records)).toEqual([
      ['a', 'one', 2],
      ['b', '2', 1],
    ])
  })

  it('refuses malformed trigger output with InvalidLambdaFunctionOutputException and stores nothing', async () => {
    const { sync, identityId } = await newDevice()
    await push(sync, identityId, [replace('theme', 'dark')])
    const { identityId: someoneElse } = await newDevice()
    const malformed: Array<(event: TriggerEvent) => Answer> = [
      (event) => ({ body: { ...event, identityId: someoneElse } }),
      (event) => ({ body: { ...event, datasetName: 'elsewhere' } }),
      () => ({ body: 'this is not JSON' }),
      () => ({ body: [] }),
      (event) => ({ body: { ...event, datasetRecords: { theme: { newValue: 'x', op: 'upsert' } } } }),
    ]
    const before = await pull(sync, identityId)
    for (const [index, bad] of malformed.entries()) {
      answer = bad
      const write = sync.send(
        new UpdateRecordsCommand({
          ...dataset(identityId),
          SyncSessionToken: before.SyncSessionToken,
          RecordPatches: [replace('theme', 'light', 1)],
        }),
      )
      await expect(write, `answer ${index}`).rejects.toBeInstanceOf(InvalidLambdaFunctionOutputException)
      await expect(write).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } })
    }
    expect(events).toHaveLength(1 + malformed.length)
    const after = await pull(sync, identityId)
    expect(after.DatasetSyncCount).toBe(1)
    expect(summary(after.Records)).toEqual([['theme', 'dark', 1]])

    // Nothing was stored, not even the spending of the session token.
    answer = (event) => ({ body: event })
    const retried = await sync.send(
      new UpdateRecordsCommand({
        ...dataset(identityId),
        SyncSessionToken: before.SyncSessionToken,
        RecordPatches: [replace('theme', 'light', 1)],
      }),
    )
    expect(summary(retried.Records)).toEqual([['theme', 'light', 2]])
  })

  it('answers a failing trigger with LambdaThrottledException, to be retried', async () => {
    const { sync, identityId } = await newDevice()
    answer = () => ({ status: 500, body: { errorMessage: 'boom' } })
    const write = push(sync, identityId, [replace('k', 'v')])
    await expect(write).rejects.toBeInstanceOf(LambdaThrottledException)
    await expect(write).rejects.toMatchObject({ $metadata: { httpStatusCode: 429 } })
    expect(events).toHaveLength(1)
    expect(await pull(sync, identityId)).toMatchObject({ DatasetExists: false, DatasetSyncCount: 0 })
  })

  it('does not run for developer credentials', async () => {
    const { sync, identityId } = await newDevice()
    await push(sync, identityId, [replace('k', 'v')])
    expect(events).toHaveLength(1)
    // Even a trigger that would refuse everything is not asked.
    answer = () => ({ body: 'not JSON' })
    const admin = adminClient()
    const written = await push(admin, identityId, [replace('k', 'by admin', 1), replace('new', 'x')])
    expect(summary(written.Records)).toEqual([
      ['k', 'by admin', 2],
      ['new', 'x', 2],
    ])
    expect(events).toHaveLength(1)
    expect(summary((await pull(sync, identityId)).Records)).toEqual(summary(written.Records))
  })
})
