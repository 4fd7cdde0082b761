import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CognitoIdentityClient,
  GetIdCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-cognito-identity'
import {
  CognitoSyncClient,
  ListIdentityPoolUsageCommand,
  ListRecordsCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateVapidKeys } from '../../src/push/senders/webpush.js'
import { cliRunner, type Running } from '../helpers/cli.js'
import { identityCall } from '../helpers/guest.js'
import { ADMIN_URL, postgresUnreachable, testDatabase } from '../helpers/postgres.js'
import { parseExposition } from '../helpers/prometheus.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * The operations side of the real command: health probes, the metrics port, JSON logs at each
 * level (and no secret in them), and throttling on by default.
 */

const POOL = 'us-east-1:5e1f0000-0000-4000-8000-0000000000b5'
const ADMIN = { accessKeyId: 'AKIDOPSADMIN00000001', secretAccessKey: 'ops-admin-secret-1f2e3d' }

let scratch: string
const cli = cliRunner(() => scratch)

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'pushsync-cli-ops-'))
})

afterAll(async () => {
  cli.stopAll()
  await rm(scratch, { recursive: true, force: true })
})

const base = ['--port', '0', '--db', ':memory:', '--allow-unauthenticated']
const unreachable = await postgresUnreachable('the logs test on PostgreSQL')

describe('probes and metrics', () => {
  it('answer /healthz and /readyz, and serve /metrics on --metrics-port only', async () => {
    const running = await cli.start([...base, '--metrics-port', '0'])
    try {
      expect(await (await fetch(`${running.url}/healthz`)).json()).toEqual({ status: 'ok' })
      expect(await (await fetch(`${running.url}/readyz`)).json()).toEqual({ status: 'ready' })
      await identityCall(running.url, 'GetId', { IdentityPoolId: POOL })
      const started = running.logLines().find((line) => line.msg === 'started')
      const metricsUrl = String(started?.metricsUrl)
      expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
      expect(metricsUrl).not.toContain(`:${running.port}/`)
      const scraped = parseExposition(await (await fetch(metricsUrl)).text())
      expect(scraped.value('pushsync_http_requests_total', { operation: 'GetId', status: '200' })).toBe(1)
      expect(scraped.value('pushsync_http_requests_total', { operation: 'Readyz', status: '200' })).toBe(1)
      expect(scraped.value('process_resident_memory_bytes')).toBeGreaterThan(0)
      expect((await fetch(`${running.url}/metrics`)).status).toBe(400)
    } finally {
      expect(await running.stop()).toBe(0)
    }
  })
})

describe('logs', () => {
  const requestLines = (running: Running) => running.logLines().filter((line) => line.msg === 'request')

  it('are JSON lines on stderr, one per request at info, none at warn, probes at debug', async () => {
    const atInfo = await cli.start(base)
    const answered = await fetch(`${atInfo.url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
      body: JSON.stringify({ IdentityPoolId: POOL }),
    })
    await fetch(`${atInfo.url}/healthz`)
    expect(await atInfo.stop()).toBe(0)
    expect(requestLines(atInfo)).toEqual([
      expect.objectContaining({
        level: 'info',
        requestId: answered.headers.get('x-amzn-requestid'),
        operation: 'GetId',
        status: 200,
        durationMs: expect.any(Number),
      }),
    ])
    // Every line of stderr is JSON, and stdout has only the ready line.
    expect(atInfo.output.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'))).toEqual(
      [],
    )
    expect(atInfo.output.stdout).toBe(`listening on ${atInfo.url}\n`)

    const atWarn = await cli.start([...base, '--log-level', 'warn'])
    await identityCall(atWarn.url, 'GetId', { IdentityPoolId: POOL })
    expect(await atWarn.stop()).toBe(0)
    expect(atWarn.output.stderr).toBe('')

    const atDebug = await cli.start(base, { PUSHSYNC_LOG_LEVEL: 'debug' })
    await fetch(`${atDebug.url}/healthz`)
    expect(await atDebug.stop()).toBe(0)
    expect(requestLines(atDebug)).toEqual([expect.objectContaining({ level: 'debug', operation: 'Healthz' })])
  })

  const stores = [
    { name: 'SQLite', postgres: false },
    ...(unreachable === undefined ? [{ name: 'PostgreSQL', postgres: true }] : []),
  ]

  it.each(stores)('never carry a secret, even at trace ($name)', async ({ postgres }) => {
    const secrets: string[] = [ADMIN.secretAccessKey, 'ops-token-secret-9a8b7c', 'ops-record-value-6d5e4f']
    const vapid = generateVapidKeys()
    secrets.push(vapid.privateKey)
    let db = join(scratch, 'secrets.db')
    const admin = new pg.Client({ connectionString: ADMIN_URL })
    const database = testDatabase()
    if (postgres) {
      await admin.connect()
      await admin.query(`CREATE DATABASE ${database.name}`)
      // Trust authentication: the server accepts any password, so this one only has to stay unseen.
      const url = new URL(database.url)
      url.password = 'db-password-4c3b2a'
      db = url.toString()
      secrets.push('db-password-4c3b2a')
    }
    const running = await cli.start(
      [
        '--port',
        '0',
        '--db',
        db,
        '--allow-unauthenticated',
        '--admin-key',
        `${ADMIN.accessKeyId}:${ADMIN.secretAccessKey}`,
        '--log-level',
        'trace',
        '--vapid-subject',
        'mailto:ops@example.com',
        '--vapid-public-key',
        vapid.publicKey,
      ],
      { PUSHSYNC_TOKEN_SECRET: 'ops-token-secret-9a8b7c', PUSHSYNC_VAPID_PRIVATE_KEY: vapid.privateKey },
    )
    try {
      const { IdentityId } = await identityCall(running.url, 'GetId', { IdentityPoolId: POOL })
      const { Credentials } = (await identityCall(running.url, 'GetCredentialsForIdentity', {
        IdentityId,
      })) as {
        Credentials: { AccessKeyId: string; SecretKey: string; SessionToken: string }
      }
      secrets.push(Credentials.SecretKey, Credentials.SessionToken)
      const sync = new CognitoSyncClient({
        region: 'us-east-1',
        endpoint: running.url,
        maxAttempts: 1,
        credentials: {
          accessKeyId: Credentials.AccessKeyId,
          secretAccessKey: Credentials.SecretKey,
          sessionToken: Credentials.SessionToken,
        },
      })
      const path = { IdentityPoolId: POOL, IdentityId: String(IdentityId), DatasetName: 'private' }
      const { SyncSessionToken } = await sync.send(new ListRecordsCommand(path))
      secrets.push(String(SyncSessionToken))
      await sync.send(
        new UpdateRecordsCommand({
          ...path,
          SyncSessionToken,
          RecordPatches: [{ Op: 'replace', Key: 'k', Value: 'ops-record-value-6d5e4f', SyncCount: 0 }],
        }),
      )
      await new CognitoSyncClient({ region: 'us-east-1', endpoint: running.url, credentials: ADMIN }).send(
        new ListIdentityPoolUsageCommand({}),
      )
      const read = await fetch(
        `${running.url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(String(IdentityId))}/datasets/private/records`,
        { headers: { authorization: `Bearer ${Credentials.SessionToken}` } },
      )
      expect(await read.text()).toContain('ops-record-value-6d5e4f')
    } finally {
      expect(await running.stop()).toBe(0)
      if (postgres) {
        await admin.query(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`)
        await admin.end()
      }
    }
    const lines = running.logLines()
    expect(lines.filter((line) => line.msg === 'request')).toHaveLength(6)
    expect(lines.find((line) => line.msg === 'started')?.db).toBe(
      postgres ? db.replace('db-password-4c3b2a', '***') : db,
    )
    for (const secret of secrets) expect(running.output.stderr).not.toContain(secret)
  })
})

describe('throttling', () => {
  const guests = async (url: string, count: number) => {
    const client = new CognitoIdentityClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1 })
    const outcomes: string[] = []
    for (let i = 0; i < count; i++) {
      try {
        await client.send(new GetIdCommand({ IdentityPoolId: POOL }))
        outcomes.push('ok')
      } catch (error) {
        outcomes.push(error instanceof TooManyRequestsException ? 'throttled' : String(error))
      }
    }
    return outcomes
  }

  it('is on by default: an address gets its burst of 30 guest identities, then TooManyRequestsException', async () => {
    const running = await cli.start(base)
    try {
      const outcomes = await guests(running.url, 40)
      // One more may slip through if the bucket refilled meanwhile (one token per 5 seconds).
      expect(outcomes.slice(0, 30)).toEqual(Array(30).fill('ok'))
      expect(outcomes.slice(30)).toContain('throttled')
      expect(new Set(outcomes)).toEqual(new Set(['ok', 'throttled']))
    } finally {
      expect(await running.stop()).toBe(0)
    }
  })

  it('turns off with a rate of 0', async () => {
    const running = await cli.start([...base, '--throttle-guest-rate', '0'])
    try {
      expect(await guests(running.url, 40)).toEqual(Array(40).fill('ok'))
    } finally {
      expect(await running.stop()).toBe(0)
    }
  })
})
