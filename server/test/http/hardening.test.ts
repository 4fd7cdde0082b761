import { request as httpRequest } from 'node:http'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sha256 } from '../../src/auth/sigv4.js'
import { createSyncServer, type SyncServer } from '../../src/server.js'

const POOL = 'us-east-1:4a1d0000-0000-4000-8000-0000000000aa'
const ADMIN = { accessKeyId: 'AKIDHARDENING0000001', secretAccessKey: 'hardening-secret' }
let server: SyncServer
let url: string

beforeAll(async () => {
  server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    adminKeys: [ADMIN],
    tokenSecret: 'hardening',
    bodyLimit: 64 * 1024,
  })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
})

async function identityCall(target: string, body: object) {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${target}`,
    },
    body: JSON.stringify(body),
  })
  return (await response.json()) as Record<string, unknown>
}

async function adminRequest(method: string, path: string, body: string) {
  const target = new URL(path, url)
  const signer = new SignatureV4({
    service: 'cognito-sync',
    region: 'us-east-1',
    credentials: ADMIN,
    sha256: Sha256,
  })
  const signed = await signer.sign(
    new HttpRequest({
      method,
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      headers: { host: target.host, 'content-type': 'application/json' },
      body,
    }),
  )
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'))
  return fetch(target, { method, headers, ...(body === '' ? {} : { body }) })
}

describe('request bodies over a socket', () => {
  it('answers 413 to an oversized chunked body, without reading it all or resetting the connection', async () => {
    const target = new URL(url)
    const outcome = await new Promise<string>((resolve) => {
      const request = httpRequest({
        host: target.hostname,
        port: target.port,
        method: 'POST',
        path: '/',
        headers: { 'x-amz-target': 'AWSCognitoIdentityService.GetId', 'transfer-encoding': 'chunked' },
      })
      request.on('response', (response) => {
        let body = ''
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString()
        })
        response.on('end', () =>
          resolve(`${response.statusCode} ${response.headers['x-amzn-errortype']} ${body}`),
        )
      })
      request.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`))
      // 80 KiB in 8 KiB chunks, over the 64 KiB limit; the rest of the stream is never needed.
      for (let i = 0; i < 10; i++) request.write(Buffer.alloc(8 * 1024, 0x20))
    })
    expect(outcome).toMatch(/^413 RequestEntityTooLargeException \{"__type":"RequestEntityTooLargeException"/)
  })
})

describe('parameters that used to slip through', () => {
  it('refuses a configuration body that is not an object, and creates no pool', async () => {
    for (const body of ['[]', '"x"', '1', 'true', 'null', '[{"PushSync":{"RoleArn":1}}]']) {
      const response = await adminRequest(
        'POST',
        `/identitypools/${encodeURIComponent(POOL)}/configuration`,
        body,
      )
      expect(response.status).toBe(400)
      expect(response.headers.get('x-amzn-errortype')).toBe('InvalidParameterException')
    }
    const read = await adminRequest('GET', `/identitypools/${encodeURIComponent(POOL)}/configuration`, '')
    expect(read.status).toBe(404)
    const events = await adminRequest('GET', `/identitypools/${encodeURIComponent(POOL)}/events`, '')
    expect(events.status).toBe(404)
  })

  it('refuses device times that are not real timestamps', async () => {
    const { IdentityId } = await identityCall('GetId', { IdentityPoolId: POOL })
    const { Credentials } = (await identityCall('GetCredentialsForIdentity', { IdentityId })) as {
      Credentials: { SessionToken: string }
    }
    const auth = { authorization: `Bearer ${Credentials.SessionToken}` }
    const path = `${url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(String(IdentityId))}/datasets/times`
    for (const DeviceLastModifiedDate of [1e306, -1e306, -1, 1e300, 253_402_300_800]) {
      const listing = (await (await fetch(`${path}/records`, { headers: auth })).json()) as {
        SyncSessionToken: string
      }
      const response = await fetch(path, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          SyncSessionToken: listing.SyncSessionToken,
          RecordPatches: [{ Op: 'replace', Key: 'k', Value: 'v', SyncCount: 0, DeviceLastModifiedDate }],
        }),
      })
      expect(response.status).toBe(400)
      expect(response.headers.get('x-amzn-errortype')).toBe('InvalidParameterException')
    }
    const listing = (await (await fetch(`${path}/records`, { headers: auth })).json()) as {
      DatasetExists: boolean
    }
    expect(listing.DatasetExists).toBe(false)
  })
})
