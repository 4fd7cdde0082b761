import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CognitoSyncClient,
  ListIdentityPoolUsageCommand,
  ListRecordsCommand,
  NotAuthorizedException,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { USAGE } from '../src/cli-args.js'
import { cliRunner } from './helpers/cli.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * The real `pushsync-server` binary in a child process: its arguments, environment, output, exit
 * codes and signals, and a file database across restarts.
 */

const POOL = 'us-east-1:5e1f0000-0000-4000-8000-00000000c11e'
const ADMIN = { accessKeyId: 'AKIDCLIADMIN00000001', secretAccessKey: 'cli-admin-secret' }
const READY = /^listening on http:\/\/127\.0\.0\.1:(\d+)\n$/

let scratch: string
const cli = cliRunner(() => scratch)
const { run, start } = cli

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'pushsync-cli-'))
})

afterAll(async () => {
  cli.stopAll()
  await rm(scratch, { recursive: true, force: true })
  expect(existsSync(scratch)).toBe(false)
})

async function identityCall(url: string, operation: string, body: unknown) {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'x-amz-target': `AWSCognitoIdentityService.${operation}`,
      'content-type': 'application/x-amz-json-1.1',
    },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

interface Identity {
  readonly identityId: string
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }
}

async function newIdentity(url: string): Promise<Identity> {
  const id = await identityCall(url, 'GetId', { IdentityPoolId: POOL })
  expect(id.status).toBe(200)
  return credentialsFor(url, String(id.body.IdentityId))
}

async function credentialsFor(url: string, identityId: string): Promise<Identity> {
  const issued = await identityCall(url, 'GetCredentialsForIdentity', { IdentityId: identityId })
  expect(issued.status).toBe(200)
  const credentials = issued.body.Credentials as Record<string, string>
  return {
    identityId,
    credentials: {
      accessKeyId: String(credentials.AccessKeyId),
      secretAccessKey: String(credentials.SecretKey),
      sessionToken: String(credentials.SessionToken),
    },
  }
}

const syncClient = (url: string, credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new CognitoSyncClient({ region: 'us-east-1', endpoint: url, credentials, maxAttempts: 1 })

const listRecords = (
  url: string,
  identity: Identity,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = identity.credentials,
) =>
  syncClient(url, credentials).send(
    new ListRecordsCommand({ IdentityPoolId: POOL, IdentityId: identity.identityId, DatasetName: 'profile' }),
  )

describe('arguments', () => {
  it('prints the usage on stdout and exits 0 for --help', async () => {
    const result = await run(['--help'])
    expect(result).toMatchObject({ code: 0, signal: null, stdout: USAGE, stderr: '' })
  })

  it.concurrent.each([
    { args: ['--port', 'abc'], env: {}, message: /^--port must be 0 to 65535, not abc$/ },
    { args: ['--port', '65536'], env: {}, message: /^--port must be 0 to 65535, not 65536$/ },
    { args: ['--port', '1.5'], env: {}, message: /^--port must be 0 to 65535/ },
    { args: ['--admin-key', 'nocolon'], env: {}, message: /^--admin-key \(entry 1\) must be AKID:SECRET/ },
    { args: ['--admin-key', ':secret'], env: {}, message: /^--admin-key \(entry 1\) must be AKID:SECRET/ },
    { args: ['--admin-key', 'AKID:'], env: {}, message: /^--admin-key \(entry 1\) must be AKID:SECRET/ },
    { args: ['--bogus'], env: {}, message: /^Unknown option '--bogus'$/ },
    { args: ['--port'], env: {}, message: /--port/ },
    { args: ['stray'], env: {}, message: /stray/ },
    { args: [], env: { PUSHSYNC_PORT: 'abc' }, message: /^PUSHSYNC_PORT must be 0 to 65535, not abc$/ },
    {
      args: [],
      env: { PUSHSYNC_ADMIN_KEYS: 'AKID:secret,nocolon' },
      message: /^PUSHSYNC_ADMIN_KEYS \(entry 2\) must be AKID:SECRET/,
    },
    {
      args: ['--cors-origin', 'app.example.com'],
      env: {},
      message: /^--cors-origin \(entry 1\) must be an origin/,
    },
    { args: ['--cors-origin', 'https://app.example.com/path'], env: {}, message: /not https:\/\/app/ },
    {
      args: [],
      env: { PUSHSYNC_CORS_ORIGINS: 'https://a.example,nonsense' },
      message: /^PUSHSYNC_CORS_ORIGINS \(entry 2\) must be an origin .* not nonsense$/,
    },
    {
      args: [],
      env: { PUSHSYNC_ALLOW_UNAUTHENTICATED: 'yes' },
      message: /^PUSHSYNC_ALLOW_UNAUTHENTICATED must be 1, true, 0 or false, not yes$/,
    },
    {
      args: ['--log-level', 'loud'],
      env: {},
      message: /^--log-level must be one of fatal, error, warn, info/,
    },
    { args: [], env: { PUSHSYNC_METRICS_PORT: '8787' }, message: /^PUSHSYNC_METRICS_PORT must differ/ },
    { args: ['--throttle-identity-rate=-1'], env: {}, message: /^--throttle-identity-rate must be a number/ },
    {
      args: ['--throttle-identity-rate', '-1'],
      env: {},
      message: /^Option '--throttle-identity-rate' argument is ambiguous$/,
    },
  ])(
    'exits 2 with one message on stderr and nothing on stdout for $args $env',
    async ({ args, env, message }) => {
      const result = await run(args, env)
      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      const lines = result.stderr.split('\n')
      expect(lines).toHaveLength(3)
      expect(lines[0]).toMatch(/^pushsync-server: /)
      expect(lines[0]?.slice('pushsync-server: '.length)).toMatch(message)
      expect(lines.slice(1)).toEqual(['(pushsync-server --help lists every setting)', ''])
    },
  )

  it('names every bad setting at once, wherever it was set, and never repeats a secret', async () => {
    const config = join(scratch, 'bad-settings.json')
    await writeFile(
      config,
      JSON.stringify({
        db: ':memory:',
        sseHeartbeatMs: 'often',
        throttle: { guestBurst: 0 },
        colour: 'blue',
      }),
    )
    const result = await run(
      ['--config', config, '--port', 'http', '--admin-key', 'leaked-secret-without-colon'],
      {
        PUSHSYNC_THROTTLE_IDENTITY_RATE: 'fast',
        PUSHSYNC_LOGINS: 'provider=accounts.example.com',
        PUSHSYNC_APNS_KEY_ID: 'ABC123DEFG',
      },
    )
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.split('\n')).toEqual([
      'pushsync-server: 8 settings are wrong:',
      '  --port must be 0 to 65535, not http',
      '  --admin-key (entry 1) must be AKID:SECRET (a key id, a colon, the secret)',
      `  sseHeartbeatMs in ${config} must be 1000 to 3600000, not often`,
      '  PUSHSYNC_LOGINS (entry 1) needs a secret (HS256) or a jwksUrl',
      `  throttle.guestBurst in ${config} must be 1 to 1000000, not 0`,
      '  PUSHSYNC_THROTTLE_IDENTITY_RATE must be a number of requests per second, 0 to turn it off, not fast',
      `  ${config} has unknown field colour`,
      '  APNs is half configured: --apns-key-file (PUSHSYNC_APNS_KEY_FILE), --apns-team-id (PUSHSYNC_APNS_TEAM_ID), --apns-bundle-id (PUSHSYNC_APNS_BUNDLE_ID) missing',
      '(pushsync-server --help lists every setting)',
      '',
    ])
    expect(result.stderr).not.toContain('leaked-secret')
  })
})

describe('the running server', () => {
  it('prints exactly one line, the address it listens on, and nothing more while serving', async () => {
    const server = await start(['--port', '0', '--db', ':memory:'])
    expect(server.port).toBeGreaterThan(0)
    expect(server.output.stdout).toBe(`listening on ${server.url}\n`)
    // Serving requests, including refused ones, adds nothing to stdout.
    expect((await identityCall(server.url, 'GetId', { IdentityPoolId: POOL })).status).toBe(403)
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(400)
    expect(await server.stop()).toBe(0)
    expect(server.output.stdout).toBe(`listening on ${server.url}\n`)
  })

  it('lets the pages of --cors-origin origins (and PUSHSYNC_CORS_ORIGINS ones) call it, and no others', async () => {
    const server = await start(
      ['--port', '0', '--db', ':memory:', '--cors-origin', 'https://app.example.com/'],
      {
        PUSHSYNC_CORS_ORIGINS: 'https://ignored.example',
      },
    )
    const preflight = (origin: string) =>
      fetch(`${server.url}/`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'x-amz-target',
        },
      })
    expect((await preflight('https://app.example.com')).headers.get('access-control-allow-origin')).toBe(
      'https://app.example.com',
    )
    // A flag wins over the variable, as for every setting.
    expect((await preflight('https://ignored.example')).headers.get('access-control-allow-origin')).toBeNull()
    expect(await server.stop()).toBe(0)

    const fromEnv = await start(['--port', '0', '--db', ':memory:'], {
      PUSHSYNC_CORS_ORIGINS: 'https://a.example, https://b.example',
    })
    const asked = await fetch(`${fromEnv.url}/`, {
      method: 'OPTIONS',
      headers: { origin: 'https://b.example', 'access-control-request-method': 'POST' },
    })
    expect(asked.headers.get('access-control-allow-origin')).toBe('https://b.example')
    expect(await fromEnv.stop()).toBe(0)
  })

  it('takes its settings from PUSHSYNC_* variables', async () => {
    const db = join(scratch, 'from-env.db')
    const server = await start([], {
      PUSHSYNC_PORT: '0',
      PUSHSYNC_DB: db,
      PUSHSYNC_ALLOW_UNAUTHENTICATED: '1',
      PUSHSYNC_ADMIN_KEYS: `AKIDENVADMIN0000001:first-secret,${ADMIN.accessKeyId}:${ADMIN.secretAccessKey}`,
    })
    try {
      expect(server.output.stdout).toMatch(READY)
      expect(existsSync(db)).toBe(true)
      const identity = await newIdentity(server.url)
      // Either configured admin key works; one that is not configured does not.
      for (const admin of [{ accessKeyId: 'AKIDENVADMIN0000001', secretAccessKey: 'first-secret' }, ADMIN]) {
        const usage = await syncClient(server.url, admin).send(new ListIdentityPoolUsageCommand({}))
        expect(usage.IdentityPoolUsages?.map((pool) => pool.IdentityPoolId)).toEqual([POOL])
      }
      await expect(
        syncClient(server.url, { accessKeyId: 'AKIDNOTCONFIGURED01', secretAccessKey: 'x' }).send(
          new ListIdentityPoolUsageCommand({}),
        ),
      ).rejects.toBeInstanceOf(NotAuthorizedException)
      expect((await listRecords(server.url, identity)).DatasetExists).toBe(false)
    } finally {
      expect(await server.stop()).toBe(0)
    }
  })

  it.each([
    { env: {}, allowed: false },
    { env: { PUSHSYNC_ALLOW_UNAUTHENTICATED: '0' }, allowed: false },
    { env: { PUSHSYNC_ALLOW_UNAUTHENTICATED: 'false' }, allowed: false },
    { env: { PUSHSYNC_ALLOW_UNAUTHENTICATED: 'true' }, allowed: true },
    { env: { PUSHSYNC_ALLOW_UNAUTHENTICATED: '1' }, allowed: true },
  ])('hands out identities without logins only when allowed ($env)', async ({ env, allowed }) => {
    const server = await start([], { PUSHSYNC_PORT: '0', PUSHSYNC_DB: ':memory:', ...env })
    try {
      const result = await identityCall(server.url, 'GetId', { IdentityPoolId: POOL })
      if (allowed) {
        expect(result.status).toBe(200)
        expect(result.body.IdentityId).toMatch(/^us-east-1:[0-9a-f-]{36}$/)
      } else {
        expect(result.status).toBe(403)
        expect(result.body.__type).toBe('NotAuthorizedException')
      }
    } finally {
      expect(await server.stop()).toBe(0)
    }
  })

  it('prefers flags to variables', async () => {
    const db = join(scratch, 'not-created.db')
    const server = await start(['--port', '0', '--db', ':memory:', '--allow-unauthenticated'], {
      PUSHSYNC_PORT: 'abc',
      PUSHSYNC_DB: db,
      PUSHSYNC_ALLOW_UNAUTHENTICATED: '0',
    })
    try {
      expect((await identityCall(server.url, 'GetId', { IdentityPoolId: POOL })).status).toBe(200)
      expect(existsSync(db)).toBe(false)
    } finally {
      expect(await server.stop()).toBe(0)
    }
  })
})

describe('request bodies over a socket', () => {
  it('refuses a declared length over the 8 MiB limit with 413 before the body is sent', async () => {
    const server = await start(['--port', '0', '--db', ':memory:', '--allow-unauthenticated'])
    try {
      const target = new URL(server.url)
      const response = await new Promise<{ status: number; type: string | undefined; body: string }>(
        (resolve, reject) => {
          const request = httpRequest({
            host: target.hostname,
            port: target.port,
            method: 'POST',
            path: '/',
            headers: {
              'x-amz-target': 'AWSCognitoIdentityService.GetId',
              'content-length': String(9 * 1024 * 1024),
            },
          })
          request.on('response', (res) => {
            let body = ''
            res.on('data', (chunk: Buffer) => {
              body += chunk.toString()
            })
            res.on('end', () => {
              const type = res.headers['x-amzn-errortype']
              resolve({ status: res.statusCode ?? 0, type: Array.isArray(type) ? type[0] : type, body })
              request.destroy()
            })
          })
          request.on('error', reject)
          // Only the first 16 KiB go out: the answer must not wait for the rest.
          request.write(Buffer.alloc(16 * 1024, 0x20))
        },
      )
      expect(response.status).toBe(413)
      expect(response.type).toBe('RequestEntityTooLargeException')
      expect(JSON.parse(response.body)).toMatchObject({ __type: 'RequestEntityTooLargeException' })
    } finally {
      expect(await server.stop()).toBe(0)
    }
  })
})

describe('signals', () => {
  /** Opens a request and sends half its body, so the server is waiting on it. */
  async function halfSentRequest(url: string) {
    const target = new URL(url)
    const request = httpRequest({
      host: target.hostname,
      port: target.port,
      method: 'POST',
      path: '/',
      headers: {
        'x-amz-target': 'AWSCognitoIdentityService.GetId',
        'content-type': 'application/x-amz-json-1.1',
        'transfer-encoding': 'chunked',
      },
    })
    const settled = new Promise<string>((resolve) => {
      request.on('response', (response) => {
        response.resume()
        response.on('end', () => resolve(`response ${response.statusCode}`))
        response.on('error', (error) => resolve(`error ${error.message}`))
      })
      request.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`))
    })
    request.write('{"IdentityPoolId":')
    await new Promise<void>((resolve) => request.once('socket', (socket) => socket.once('connect', resolve)))
    // Let the server get the headers and start reading the body.
    await new Promise((resolve) => setTimeout(resolve, 150))
    return { request, settled }
  }

  it.each(['SIGINT', 'SIGTERM'] as const)('%s stops an idle server with exit code 0', async (signal) => {
    const server = await start(['--port', '0', '--db', ':memory:'])
    // Sent the moment the ready line arrives: the handlers are in place before it is printed.
    expect(await server.stop(signal)).toBe(0)
    expect(server.output.stderr).toContain(`${signal}, closing`)
    await expect(fetch(`${server.url}/`)).rejects.toThrow()
  })

  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s stops a server with a request in flight with exit code 0',
    async (signal) => {
      const db = join(scratch, `in-flight-${signal}.db`)
      const server = await start(['--port', '0', '--db', db, '--allow-unauthenticated'])
      const { request, settled } = await halfSentRequest(server.url)
      const stopped = server.stop(signal)
      await new Promise((resolve) => setTimeout(resolve, 100))
      request.end(`"${POOL}"}`)
      // The request in flight is answered before the server exits.
      expect(await settled).toBe('response 200')
      expect(await stopped).toBe(0)
      // The database was closed intact: a new server opens it.
      const again = await start(['--port', '0', '--db', db, '--allow-unauthenticated'])
      expect((await identityCall(again.url, 'GetId', { IdentityPoolId: POOL })).status).toBe(200)
      expect(await again.stop()).toBe(0)
    },
  )
})

describe('a file database', () => {
  it('keeps data, and the credentials issued before a restart, unless --token-secret overrides', async () => {
    const db = join(scratch, 'restart.db')
    const args = [
      '--port',
      '0',
      '--db',
      db,
      '--allow-unauthenticated',
      '--admin-key',
      `${ADMIN.accessKeyId}:${ADMIN.secretAccessKey}`,
    ]

    let server = await start(args)
    const identity = await newIdentity(server.url)
    const { SyncSessionToken } = await listRecords(server.url, identity)
    await syncClient(server.url, identity.credentials).send(
      new UpdateRecordsCommand({
        IdentityPoolId: POOL,
        IdentityId: identity.identityId,
        DatasetName: 'profile',
        SyncSessionToken,
        RecordPatches: [
          { Op: 'replace', Key: 'name', Value: 'Ada', SyncCount: 0 },
          { Op: 'replace', Key: 'emoji', Value: '🧮', SyncCount: 0 },
        ],
      }),
    )
    expect(await server.stop()).toBe(0)

    const expectData = (listing: Awaited<ReturnType<typeof listRecords>>) => {
      expect(listing.DatasetSyncCount).toBe(1)
      expect(Object.fromEntries((listing.Records ?? []).map((r) => [r.Key, r.Value]))).toEqual({
        name: 'Ada',
        emoji: '🧮',
      })
    }

    // Restarted: the data is there, and the old credentials (SigV4 and bearer) still work.
    server = await start(args)
    expectData(await listRecords(server.url, identity))
    const bearer = await fetch(
      `${server.url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(identity.identityId)}/datasets/profile`,
      { headers: { authorization: `Bearer ${identity.credentials.sessionToken}` } },
    )
    expect(bearer.status).toBe(200)
    expect(await server.stop()).toBe(0)

    // An explicit secret replaces the stored one: old credentials fail, the data stays.
    server = await start([...args, '--token-secret', 'an-explicit-secret'])
    await expect(listRecords(server.url, identity)).rejects.toBeInstanceOf(NotAuthorizedException)
    expectData(await listRecords(server.url, identity, ADMIN))
    const underExplicit = await credentialsFor(server.url, identity.identityId)
    expectData(await listRecords(server.url, underExplicit))
    expect(await server.stop()).toBe(0)

    // Without it again, the stored secret is back: it was neither replaced nor lost.
    server = await start(args)
    expectData(await listRecords(server.url, identity))
    await expect(listRecords(server.url, underExplicit)).rejects.toBeInstanceOf(NotAuthorizedException)
    expect(await server.stop()).toBe(0)
  })
})
