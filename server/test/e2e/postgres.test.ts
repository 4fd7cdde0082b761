import { CognitoSyncClient, ListRecordsCommand, UpdateRecordsCommand } from '@aws-sdk/client-cognito-sync'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import { ADMIN_URL, postgresUnreachable, testDatabase } from '../helpers/postgres.js'
import { createDevice } from './devices.js'

/**
 * Two servers on one PostgreSQL database, as two processes behind a load balancer would run: a
 * device of the AWS SDK v3 writes through one and reads through the other. Skips without a
 * reachable PostgreSQL unless PUSHSYNC_REQUIRE_POSTGRES=1 (see server/test/store/postgres.test.ts).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const unreachable = await postgresUnreachable('the PostgreSQL end-to-end test')

const region = 'us-east-1'
const identityPoolId = 'us-east-1:8d1f6c2a-4b3e-4f5a-9c7d-2e1f0a9b8c7d'
const { name: databaseName, url: databaseUrl } = testDatabase()

describe.skipIf(unreachable !== undefined)('two servers on one PostgreSQL database', () => {
  let admin: pg.Client | undefined
  const servers: SyncServer[] = []
  const urls: string[] = []

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${databaseName}`)
    // Started together, as a deployment would: they must agree on the schema and the token secret.
    servers.push(
      ...(await Promise.all(
        [0, 1].map(() => createSyncServer({ db: databaseUrl, allowUnauthenticated: true })),
      )),
    )
    for (const server of servers) urls.push((await server.listen(0, '127.0.0.1')).url)
  })

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()))
    await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`)
    await admin?.end()
  })

  it('syncs through either server with the AWS SDK v3', async () => {
    const [first, second] = servers
    expect(first?.store.kind).toBe('postgres')
    expect(second?.store.kind).toBe('postgres')
    const [urlA = '', urlB = ''] = urls
    // The identity and its credentials come from server A; server B accepts them.
    const onA = await createDevice({ url: urlA, identityPoolId })
    const onB = await createDevice({ url: urlB, identityPoolId })
    const ids = { IdentityPoolId: identityPoolId, IdentityId: onA.identityId, DatasetName: 'settings' }

    const empty = await onA.sync.send(new ListRecordsCommand({ ...ids, LastSyncCount: 0 }))
    expect(empty).toMatchObject({ DatasetExists: false, DatasetSyncCount: 0, Records: [] })
    await onA.sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: empty.SyncSessionToken,
        RecordPatches: [
          { Op: 'replace', Key: 'theme', Value: 'dark', SyncCount: 0 },
          { Op: 'replace', Key: 'lang', Value: 'fr', SyncCount: 0 },
        ],
      }),
    )

    // The same device through server B: it accepts A's credentials, both servers sharing the token
    // secret kept in the database.
    const viaB = new CognitoSyncClient({ region, endpoint: urlB, credentials: onA.credentials })
    const pulled = await viaB.send(new ListRecordsCommand({ ...ids, LastSyncCount: 0 }))
    expect(pulled).toMatchObject({ DatasetExists: true, DatasetSyncCount: 1, Count: 2 })
    expect(pulled.Records?.map((r) => [r.Key, r.Value, r.SyncCount])).toEqual([
      ['lang', 'fr', 1],
      ['theme', 'dark', 1],
    ])

    // A write through B, then A sees it and a stale write through A conflicts.
    await viaB.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: pulled.SyncSessionToken,
        RecordPatches: [{ Op: 'replace', Key: 'theme', Value: 'light', SyncCount: 1 }],
      }),
    )
    const again = await onA.sync.send(new ListRecordsCommand({ ...ids, LastSyncCount: 1 }))
    expect(again).toMatchObject({ DatasetSyncCount: 2, Count: 1 })
    expect(again.Records?.[0]).toMatchObject({ Key: 'theme', Value: 'light', SyncCount: 2 })
    await expect(
      onA.sync.send(
        new UpdateRecordsCommand({
          ...ids,
          SyncSessionToken: again.SyncSessionToken,
          RecordPatches: [{ Op: 'replace', Key: 'theme', Value: 'stale', SyncCount: 1 }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceConflictException' })
    expect(onB.identityId).not.toBe(onA.identityId)
  })

  it('lands concurrent writes of one dataset through both servers one after another', async () => {
    const [urlA = '', urlB = ''] = urls
    const device = await createDevice({ url: urlA, identityPoolId, maxAttempts: 1 })
    const clients = [urlA, urlB].map(
      (endpoint) =>
        new CognitoSyncClient({ region, endpoint, credentials: device.credentials, maxAttempts: 1 }),
    )
    const ids = { IdentityPoolId: identityPoolId, IdentityId: device.identityId, DatasetName: 'counter' }
    // Each writer adds its own key; a conflict (another writer got in first) is retried with a fresh read.
    const write = async (i: number) => {
      const sync = clients[i % 2] ?? device.sync
      for (;;) {
        const read = await sync.send(new ListRecordsCommand({ ...ids, LastSyncCount: 0 }))
        try {
          await sync.send(
            new UpdateRecordsCommand({
              ...ids,
              SyncSessionToken: read.SyncSessionToken,
              RecordPatches: [{ Op: 'replace', Key: `k${i}`, Value: `${i}`, SyncCount: 0 }],
            }),
          )
          return
        } catch (error) {
          if ((error as Error).name !== 'ResourceConflictException') throw error
        }
      }
    }
    const writers = 10
    await Promise.all(Array.from({ length: writers }, (_, i) => write(i)))
    const final = await device.sync.send(new ListRecordsCommand({ ...ids, LastSyncCount: 0 }))
    expect(final.DatasetSyncCount).toBe(writers)
    expect(new Set(final.Records?.map((r) => r.SyncCount))).toEqual(
      new Set(Array.from({ length: writers }, (_, i) => i + 1)),
    )
  })

  it('pushes a change written through one server to a device listening on the other', async () => {
    const [urlA = '', urlB = ''] = urls
    const device = await createDevice({ url: urlA, identityPoolId, maxAttempts: 1 })
    const ids = { IdentityPoolId: identityPoolId, IdentityId: device.identityId, DatasetName: 'live' }
    const { sessionToken: token } = await device.credentials()
    // The device's live channel is on server B, its write goes through server A.
    const events = await fetch(
      `${urlB}/identitypools/${encodeURIComponent(identityPoolId)}/identities/${encodeURIComponent(device.identityId)}/events`,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
    )
    expect(events.status).toBe(200)
    const reader = (events.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    const nextSync = async (): Promise<Record<string, unknown>> => {
      for (;;) {
        const match = /event: sync\ndata: (.*)\n/.exec(text) ?? /event: sync\nid: .*\ndata: (.*)\n/.exec(text)
        if (match !== null) {
          text = text.slice((match.index ?? 0) + match[0].length)
          return JSON.parse(match[1] ?? '{}') as Record<string, unknown>
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('the stream ended')
        text += decoder.decode(value, { stream: true })
      }
    }
    const read = await device.sync.send(new ListRecordsCommand({ ...ids, LastSyncCount: 0 }))
    await device.sync.send(
      new UpdateRecordsCommand({
        ...ids,
        SyncSessionToken: read.SyncSessionToken,
        RecordPatches: [{ Op: 'replace', Key: 'theme', Value: 'dark', SyncCount: 0 }],
      }),
    )
    const pushed = await Promise.race([
      nextSync(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no push within 10 s')), 10_000)),
    ])
    expect(pushed).toMatchObject({ source: 'cognito-sync', datasetName: 'live', syncCount: 1 })
    expect(pushed.changes).toMatchObject({
      after: 0,
      records: [{ Key: 'theme', Value: 'dark', SyncCount: 1 }],
    })
    await reader.cancel()
  })
})
