import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CognitoIdentityClient,
  GetIdCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-cognito-identity'
import { CognitoSyncClient, ListIdentityPoolUsageCommand } from '@aws-sdk/client-cognito-sync'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateVapidKeys } from '../src/push/senders/webpush.js'
import { cliRunner } from './helpers/cli.js'
import { signInAsGuest } from './helpers/guest.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * Every deployment setting from flags, `PUSHSYNC_*` variables and a `--config` JSON file, in that
 * order of precedence, checked before the command starts; and what a start that fails prints.
 */

const POOL = 'us-east-1:5e1f0000-0000-4000-8000-00000000c0f1'
const LOGIN_SECRET = 'cli-settings-login-secret'

let scratch: string
const cli = cliRunner(() => scratch)

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'pushsync-cli-settings-'))
})

afterAll(async () => {
  cli.stopAll()
  await rm(scratch, { recursive: true, force: true })
})

let files = 0
async function file(content: string | object): Promise<string> {
  const path = join(scratch, `file-${++files}`)
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

const guestGetId = (url: string) =>
  new CognitoIdentityClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1 }).send(
    new GetIdCommand({ IdentityPoolId: POOL }),
  )

const allowedOrigin = async (url: string, origin: string) =>
  (
    await fetch(`${url}/`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    })
  ).headers.get('access-control-allow-origin')

describe('the --config file', () => {
  it('sets what flags and variables do not: flags win over variables, variables over the file', async () => {
    const config = await file({
      port: 0,
      db: ':memory:',
      allowUnauthenticated: true,
      adminKeys: [
        'AKIDFILEADMIN0000001:file-secret',
        { accessKeyId: 'AKIDFILEADMIN0000002', secretAccessKey: 'x' },
      ],
      corsOrigins: ['https://file.example'],
      throttle: { guestRate: 0.001, guestBurst: 1 },
    })
    const origins = ['https://file.example', 'https://env.example', 'https://flag.example']
    const allowed = async (url: string) =>
      (await Promise.all(origins.map((origin) => allowedOrigin(url, origin)))).filter(
        (origin) => origin !== null,
      )

    const fromFile = await cli.start(['--config', config])
    expect(await allowed(fromFile.url)).toEqual(['https://file.example'])
    // The file's throttle: one guest identity per address, then TooManyRequestsException.
    await guestGetId(fromFile.url)
    await expect(guestGetId(fromFile.url)).rejects.toBeInstanceOf(TooManyRequestsException)
    // Both admin keys of the file, in either form.
    const usage = await new CognitoSyncClient({
      region: 'us-east-1',
      endpoint: fromFile.url,
      credentials: { accessKeyId: 'AKIDFILEADMIN0000001', secretAccessKey: 'file-secret' },
    }).send(new ListIdentityPoolUsageCommand({}))
    expect(usage.IdentityPoolUsages?.map((pool) => pool.IdentityPoolId)).toEqual([POOL])
    expect(await fromFile.stop()).toBe(0)

    const fromEnv = await cli.start([], {
      PUSHSYNC_CONFIG: config,
      PUSHSYNC_CORS_ORIGINS: 'https://env.example',
    })
    expect(await allowed(fromEnv.url)).toEqual(['https://env.example'])
    expect(await fromEnv.stop()).toBe(0)

    const fromFlag = await cli.start(['--config', config, '--cors-origin', 'https://flag.example'], {
      PUSHSYNC_CORS_ORIGINS: 'https://env.example',
      PUSHSYNC_THROTTLE_GUEST_RATE: '0',
    })
    expect(await allowed(fromFlag.url)).toEqual(['https://flag.example'])
    // The variable turned the file's throttle off.
    for (let i = 0; i < 3; i++) await guestGetId(fromFlag.url)
    expect(await fromFlag.stop()).toBe(0)
  })

  it.concurrent.each([
    { content: undefined, message: /^--config names .*missing\.json, which cannot be read \(ENOENT\)$/ },
    { content: '{"port": 80,', message: /^--config names .*, which is not JSON: / },
    { content: '[1, 2]', message: /^--config names .*, which must hold a JSON object$/ },
    {
      content: { port: 0, bearerJwt: { issuer: 'x', secret: 's', colour: 1 } },
      message: /^[^ ]+ has unknown field colour in bearerJwt$/,
    },
  ])('refuses a file that cannot be used: $message', async ({ content, message }) => {
    const path = content === undefined ? join(scratch, 'missing.json') : await file(content)
    const result = await cli.run(['--config', path])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.split('\n')[0]?.replace(/^pushsync-server: /, '')).toMatch(message)
  })
})

describe('sign-in settings', () => {
  const login = (secret = LOGIN_SECRET) =>
    new SignJWT({ sub: 'user-7' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://login.example.com')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret))

  const signIn = async (url: string, token: string) =>
    fetch(`${url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
      body: JSON.stringify({ IdentityPoolId: POOL, Logins: { 'login.example.com': token } }),
    })

  it('take login providers from --login and from the file, and bearer JWTs from their flags', async () => {
    const fromFlag = await cli.start([
      '--port',
      '0',
      '--db',
      ':memory:',
      '--login',
      `provider=login.example.com,secret=${LOGIN_SECRET},issuer=https://login.example.com`,
      '--bearer-jwt-issuer',
      'https://auth.example.com',
      '--bearer-jwt-secret',
      LOGIN_SECRET,
    ])
    const signedIn = await signIn(fromFlag.url, await login())
    expect(signedIn.status).toBe(200)
    const { IdentityId } = (await signedIn.json()) as { IdentityId: string }
    expect((await signIn(fromFlag.url, await login('another-secret'))).status).toBe(403)
    const bearer = await new SignJWT({ identityPoolId: POOL, identityId: IdentityId })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://auth.example.com')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(LOGIN_SECRET))
    const datasets = await fetch(
      `${fromFlag.url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(IdentityId)}/datasets`,
      { headers: { authorization: `Bearer ${bearer}` } },
    )
    expect(datasets.status).toBe(200)
    expect(await fromFlag.stop()).toBe(0)

    const config = await file({
      port: 0,
      db: ':memory:',
      logins: [{ provider: 'login.example.com', secret: LOGIN_SECRET, audience: 'not-in-the-token' }],
    })
    const fromFile = await cli.start(['--config', config])
    // The file's audience is checked: the token has none.
    expect((await signIn(fromFile.url, await login())).status).toBe(403)
    expect(await fromFile.stop()).toBe(0)
  })

  it.concurrent.each([
    { args: ['--login', 'nonsense'], message: /^--login \(entry 1\) must be provider=NAME,jwks-url=URL/ },
    {
      args: ['--login', 'provider=a,jwks-url=ftp://x'],
      message: /^--login \(entry 1, jwksUrl\) must be a https or http URL$/,
    },
    {
      args: ['--login', 'provider=a,secret=s', '--login', 'provider=a,secret=t'],
      message: /^--login names a provider twice$/,
    },
    {
      args: ['--login', 'provider=a,secret=s,colour=red'],
      message: /^--login \(entry 1\) has unknown field colour$/,
    },
    { args: ['--bearer-jwt-secret', 's'], message: /^Bearer JWTs is half configured: --bearer-jwt-issuer/ },
    { args: ['--bearer-jwt-issuer', 'https://a.example'], message: /^Bearer JWTs need a key/ },
  ])('refuses $args', async ({ args, message }) => {
    const result = await cli.run(args)
    expect(result.code).toBe(2)
    expect(result.stderr.split('\n')[0]?.replace(/^pushsync-server: /, '')).toMatch(message)
  })
})

describe('push settings', () => {
  const apnsKey = () =>
    generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString()
  const serviceAccount = {
    type: 'service_account',
    project_id: 'demo-project',
    client_email: 'pusher@demo-project.iam.gserviceaccount.com',
    private_key: generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
  }

  it('configure Web Push, APNs and FCM from flags, variables or the file', async () => {
    const vapid = { subject: 'mailto:ops@example.com', ...generateVapidKeys() }
    const running = await cli.start(
      [
        '--port',
        '0',
        '--db',
        ':memory:',
        '--vapid-subject',
        vapid.subject,
        '--vapid-public-key',
        vapid.publicKey,
        '--apns-key-file',
        await file(apnsKey()),
        '--apns-key-id',
        'ABC123DEFG',
        '--apns-team-id',
        'TEAM123456',
      ],
      {
        PUSHSYNC_VAPID_PRIVATE_KEY: vapid.privateKey,
        PUSHSYNC_APNS_BUNDLE_ID: 'com.example.app',
        PUSHSYNC_CONFIG: await file({ fcm: { serviceAccountFile: await file(serviceAccount) } }),
      },
    )
    const key = await fetch(`${running.url}/pushsync/vapid-public-key`)
    expect(await key.json()).toEqual({ publicKey: vapid.publicKey })
    expect(running.logLines().find((line) => line.msg === 'started')).toMatchObject({
      push: ['WEBPUSH', 'APNS', 'APNS_SANDBOX', 'GCM'],
    })
    expect(await running.stop()).toBe(0)
  })

  it('refuses platforms set up halfway, unreadable files and keys that do not work, all in one message', async () => {
    const missing = join(scratch, 'no-such-key.p8')
    const result = await cli.run(
      [
        '--apns-key-file',
        missing,
        '--vapid-subject',
        'mailto:ops@example.com',
        '--vapid-public-key',
        'short',
      ],
      {
        PUSHSYNC_VAPID_PRIVATE_KEY: 'also-short',
        PUSHSYNC_FCM_SERVICE_ACCOUNT_FILE: await file({ project_id: 'p' }),
        PUSHSYNC_APNS_KEY_ID: 'ABC123DEFG',
      },
    )
    expect(result.code).toBe(2)
    const lines = result.stderr.split('\n')
    expect(lines[0]).toBe('pushsync-server: 4 settings are wrong:')
    expect(lines).toContain(`  --apns-key-file names ${missing}, which cannot be read (ENOENT)`)
    expect(
      lines.some((line) =>
        /^ {2}PUSHSYNC_FCM_SERVICE_ACCOUNT_FILE names .*, which has no client_email/.test(line),
      ),
    ).toBe(true)
    expect(lines).toContain(
      '  APNs is half configured: --apns-team-id (PUSHSYNC_APNS_TEAM_ID), --apns-bundle-id (PUSHSYNC_APNS_BUNDLE_ID) missing',
    )
    expect(lines.some((line) => /^ {2}Web Push keys \(--vapid-public-key\) do not work: /.test(line))).toBe(
      true,
    )
    expect(result.stderr).not.toContain('also-short')
  })
})

describe('quotas', () => {
  it('are Cognito’s unless --max-* settings raise or lower them', async () => {
    const running = await cli.start(['--port', '0', '--db', ':memory:', '--allow-unauthenticated'], {
      PUSHSYNC_MAX_DATASETS_PER_IDENTITY: '1',
    })
    const guest = await signInAsGuest(running.url, POOL)
    const write = async (dataset: string) => {
      const at = `${running.url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(guest.identityId)}/datasets/${dataset}`
      const headers = { authorization: `Bearer ${guest.token}` }
      const { SyncSessionToken } = (await (await fetch(`${at}/records`, { headers })).json()) as {
        SyncSessionToken: string
      }
      return fetch(at, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          SyncSessionToken,
          RecordPatches: [{ Op: 'replace', Key: 'k', Value: 'v', SyncCount: 0 }],
        }),
      })
    }
    expect((await write('first')).status).toBe(200)
    const second = await write('second')
    expect(second.status).toBe(400)
    expect(second.headers.get('x-amzn-errortype')).toBe('LimitExceededException')
    expect(await running.stop()).toBe(0)
  })
})

describe('a start that fails', () => {
  const taken = async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const address = blocker.address()
    return { blocker, port: typeof address === 'object' && address !== null ? address.port : 0 }
  }

  it('on a port in use prints one line and exits 2', async () => {
    const { blocker, port } = await taken()
    try {
      const result = await cli.run(['--port', String(port), '--db', ':memory:'])
      expect(result).toMatchObject({ code: 2, stdout: '' })
      expect(result.stderr).toBe(
        `pushsync-server: port ${port} is in use: pass --port or set PUSHSYNC_PORT\n`,
      )
      const metrics = await cli.run(['--port', '0', '--db', ':memory:', '--metrics-port', String(port)])
      expect(metrics).toMatchObject({ code: 2, stdout: '' })
      expect(metrics.stderr).toBe(
        `pushsync-server: metrics port ${port} is in use: pass --metrics-port or set PUSHSYNC_METRICS_PORT\n`,
      )
    } finally {
      blocker.close()
    }
  })

  it('on a database it cannot open prints one line without the password and exits 1', async () => {
    const { blocker, port } = await taken()
    blocker.close()
    const result = await cli.run([
      '--port',
      '0',
      '--db',
      `postgres://pushsync:hunter2-password@127.0.0.1:${port}/sync`,
    ])
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toMatch(
      new RegExp(
        `^pushsync-server: Could not open the PostgreSQL store postgres://pushsync:\\*\\*\\*@127\\.0\\.0\\.1:${port}/sync: .+\\n$`,
      ),
    )
    expect(result.stderr).not.toContain('hunter2')
  })
})
