import { Writable } from 'node:stream'
import { CognitoIdentityClient, GetIdCommand } from '@aws-sdk/client-cognito-identity'
import {
  CognitoSyncClient,
  ListIdentityPoolUsageCommand,
  ListRecordsCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger, type LogLevel } from '../../src/ops/logger.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import type { SyncStore } from '../../src/store/contract.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { identityCall } from '../helpers/guest.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * The server's JSON logs: one line per request (id, operation, status, duration), errors with
 * their stack, and never a credential, a token or a record value, even at `trace`.
 */

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const ADMIN = { accessKeyId: 'AKIDLOGADMIN00000001', secretAccessKey: 'admin-secret-key-5d1f0c9e' }
const TOKEN_SECRET = 'token-secret-8b7a6c5d4e'
const JWT_SECRET = 'login-provider-hs256-secret-3e2f1a0b'
const RECORD_VALUE = 'record-value-that-must-stay-private-77aa'
const LOGIN_PROVIDER = 'login.example.com'

interface LogLine {
  readonly level: string
  readonly msg: string
  readonly [field: string]: unknown
}

/** A logger at `level` whose JSON lines the test reads. */
function capturedLogger(level: LogLevel) {
  let text = ''
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString()
      done()
    },
  })
  return {
    logger: createLogger(level, destination),
    text: () => text,
    lines: (): LogLine[] =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as LogLine),
  }
}

/** Collects the SigV4 signatures `client` sends, read after its signing step. */
function catchSignatures(client: CognitoSyncClient, signatures: string[]): void {
  type Next = (args: { readonly request: unknown }) => Promise<unknown>
  const catchOne = (next: Next) => async (args: { readonly request: unknown }) => {
    const headers = (args.request as { headers?: Record<string, string> }).headers ?? {}
    const signature = /Signature=([0-9a-f]{64})/.exec(headers.authorization ?? '')?.[1]
    if (signature !== undefined) signatures.push(signature)
    return next(args)
  }
  client.middlewareStack.addRelativeTo(
    catchOne as unknown as Parameters<typeof client.middlewareStack.addRelativeTo>[0],
    { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'catchSignature' },
  )
}

let server: SyncServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('request lines', () => {
  it('are one per request, with the id the response carries, the operation, status and duration', async () => {
    const log = capturedLogger('info')
    server = await createSyncServer({
      db: createMemoryStore(),
      allowUnauthenticated: true,
      logger: log.logger,
    })
    const { url } = await server.listen(0)
    const answered = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
      body: JSON.stringify({ IdentityPoolId: POOL }),
    })
    const refused = await fetch(`${url}/identitypools/${encodeURIComponent(POOL)}`)
    const requestLines = log.lines().filter((line) => line.msg === 'request')
    expect(requestLines).toHaveLength(2)
    const [first, second] = requestLines
    expect(first).toMatchObject({
      level: 'info',
      requestId: answered.headers.get('x-amzn-requestid'),
      operation: 'GetId',
      status: 200,
    })
    expect(first?.durationMs).toBeTypeOf('number')
    expect(second).toMatchObject({
      level: 'info',
      requestId: refused.headers.get('x-amzn-requestid'),
      operation: 'DescribeIdentityPoolUsage',
      status: 403,
      errorType: 'NotAuthorizedException',
    })
    expect(new Set(requestLines.map((line) => line.requestId)).size).toBe(2)
    expect(typeof first?.time).toBe('string')
  })

  it('carry the request id every answer has, whatever answered it', async () => {
    const log = capturedLogger('debug')
    server = await createSyncServer({
      db: createMemoryStore(),
      corsOrigins: ['https://app.example.com'],
      bodyLimit: 1024,
      site: (request) => (new URL(request.url).pathname === '/page' ? new Response('a page') : undefined),
      logger: log.logger,
    })
    const requests = [
      new Request('http://pushsync.test/healthz'),
      new Request('http://pushsync.test/page'),
      new Request('http://pushsync.test/nowhere'),
      new Request('http://pushsync.test/pushsync/vapid-public-key'),
      new Request('http://pushsync.test/', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      }),
      new Request('http://pushsync.test/', {
        method: 'POST',
        headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
        body: 'x'.repeat(2048),
      }),
    ]
    const ids: Array<string | null> = []
    for (const request of requests) ids.push((await server.fetch(request)).headers.get('x-amzn-requestid'))
    const lines = log.lines().filter((line) => line.msg === 'request')
    expect(lines.map((line) => [line.operation, line.status])).toEqual([
      ['Healthz', 200],
      ['Site', 200],
      ['Unknown', 400],
      ['VapidPublicKey', 404],
      ['Preflight', 204],
      ['GetId', 413],
    ])
    expect(lines.map((line) => line.requestId)).toEqual(ids)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('of health probes are debug lines, not info', async () => {
    const log = capturedLogger('info')
    server = await createSyncServer({ db: createMemoryStore(), logger: log.logger })
    await server.fetch(new Request('http://pushsync.test/healthz'))
    await server.fetch(new Request('http://pushsync.test/readyz'))
    expect(log.lines().filter((line) => line.msg === 'request')).toEqual([])
  })

  it('report an unexpected error once, with its stack, and answer 500 without it', async () => {
    const log = capturedLogger('info')
    const inner = createMemoryStore()
    const failing: SyncStore = {
      kind: inner.kind,
      close: () => inner.close(),
      readiness: () => inner.readiness(),
      transaction: () => Promise.reject(new Error('the disk is on fire')),
    }
    const reported: unknown[] = []
    server = await createSyncServer({
      db: failing,
      tokenSecret: 'fixed',
      allowUnauthenticated: true,
      logger: log.logger,
      onError: (error) => reported.push(error),
    })
    const response = await server.fetch(
      new Request('http://pushsync.test/', {
        method: 'POST',
        headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId' },
        body: JSON.stringify({ IdentityPoolId: POOL }),
      }),
    )
    expect(response.status).toBe(500)
    expect(await response.text()).not.toContain('fire')
    const errors = log.lines().filter((line) => line.level === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({
      msg: 'internal error',
      operation: 'GetId',
      requestId: response.headers.get('x-amzn-requestid'),
      error: { type: 'Error', message: 'the disk is on fire' },
    })
    expect(String((errors[0]?.error as { stack?: unknown } | undefined)?.stack)).toContain('logging.test.ts')
    expect(reported).toHaveLength(1)
    expect(log.lines().find((line) => line.msg === 'request')).toMatchObject({ status: 500 })
  })
})

describe('secrets', () => {
  it('never reach the log, at trace, whatever requests carry them', async () => {
    const log = capturedLogger('trace')
    server = await createSyncServer({
      db: createMemoryStore(),
      allowUnauthenticated: true,
      adminKeys: [ADMIN],
      tokenSecret: TOKEN_SECRET,
      logins: [{ provider: LOGIN_PROVIDER, secret: JWT_SECRET }],
      bearerJwt: { issuer: 'https://auth.example.com', secret: JWT_SECRET },
      logger: log.logger,
    })
    const { url } = await server.listen(0)
    const secrets: string[] = [ADMIN.secretAccessKey, TOKEN_SECRET, JWT_SECRET, RECORD_VALUE]

    // A login token in GetId's Logins.
    const login = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JWT_SECRET))
    secrets.push(login)
    const { IdentityId } = await new CognitoIdentityClient({ region: 'us-east-1', endpoint: url }).send(
      new GetIdCommand({ IdentityPoolId: POOL, Logins: { [LOGIN_PROVIDER]: login } }),
    )
    const identityId = String(IdentityId)

    // Issued credentials: the secret key and session token of the answer.
    const issued = (await identityCall(url, 'GetCredentialsForIdentity', {
      IdentityId: identityId,
      Logins: { [LOGIN_PROVIDER]: login },
    })) as { Credentials: { AccessKeyId: string; SecretKey: string; SessionToken: string } }
    secrets.push(issued.Credentials.SecretKey, issued.Credentials.SessionToken)

    // SigV4 requests through the SDK, whose Authorization signatures are caught on the way out.
    const sync = new CognitoSyncClient({
      region: 'us-east-1',
      endpoint: url,
      maxAttempts: 1,
      credentials: {
        accessKeyId: issued.Credentials.AccessKeyId,
        secretAccessKey: issued.Credentials.SecretKey,
        sessionToken: issued.Credentials.SessionToken,
      },
    })
    const signatures: string[] = []
    catchSignatures(sync, signatures)
    const path = { IdentityPoolId: POOL, IdentityId: identityId, DatasetName: 'private' }
    const { SyncSessionToken } = await sync.send(new ListRecordsCommand(path))
    secrets.push(String(SyncSessionToken))
    await sync.send(
      new UpdateRecordsCommand({
        ...path,
        SyncSessionToken,
        RecordPatches: [{ Op: 'replace', Key: 'k', Value: RECORD_VALUE, SyncCount: 0 }],
      }),
    )
    const admin = new CognitoSyncClient({
      region: 'us-east-1',
      endpoint: url,
      credentials: ADMIN,
      maxAttempts: 1,
    })
    catchSignatures(admin, signatures)
    await admin.send(new ListIdentityPoolUsageCommand({}))
    expect(signatures).toHaveLength(3)
    secrets.push(...signatures)

    // The session token as a bearer token, and the record value read back.
    const records = `${url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(identityId)}/datasets/private/records`
    const read = await fetch(records, {
      headers: { authorization: `Bearer ${issued.Credentials.SessionToken}` },
    })
    expect(await read.text()).toContain(RECORD_VALUE)

    // Refused credentials: a malformed signature that the refusal's message quotes, a forged bearer token.
    const forgedSignature = 'f00d'.repeat(16)
    secrets.push(forgedSignature)
    const malformed = await fetch(records, {
      headers: {
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDFORGED/20240101/us-east-1/cognito-sync/aws4_request, Signature:${forgedSignature}`,
        'x-amz-security-token': issued.Credentials.SessionToken,
      },
    })
    expect(malformed.status).toBe(403)
    expect(await malformed.text()).toContain('f00d')
    const forgedBearer = `${issued.Credentials.SessionToken.slice(0, -4)}AAAA`
    secrets.push(forgedBearer)
    expect((await fetch(records, { headers: { authorization: `Bearer ${forgedBearer}` } })).status).toBe(403)

    const text = log.text()
    // The log did see every request, at trace.
    expect(log.lines().filter((line) => line.msg === 'request')).toHaveLength(8)
    for (const secret of secrets) expect(text).not.toContain(secret)
  })
})
