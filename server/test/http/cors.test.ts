import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import { type Identity, signInAsGuest } from '../helpers/guest.js'

/**
 * The `corsOrigins` option: pages of the listed origins may call the API from a browser; others
 * get no CORS headers, so the browser keeps the answer from them. Without the option, no CORS
 * header at all. (test/browser/cors.test.ts checks the same in Chromium, which enforces it.)
 */

const POOL = 'us-east-1:c0125000-0000-4000-8000-00000000c025'
const APP = 'http://app.example.test'
let server: SyncServer
let plain: SyncServer
let url: string
let plainUrl: string
let guest: Identity

beforeAll(async () => {
  server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    tokenSecret: 'cors',
    corsOrigins: [APP, 'http://other.example.test'],
  })
  plain = await createSyncServer({ db: ':memory:', allowUnauthenticated: true, tokenSecret: 'cors' })
  url = (await server.listen(0)).url
  plainUrl = (await plain.listen(0)).url
  guest = await signInAsGuest(url, POOL)
})
afterAll(async () => {
  await server?.close()
  await plain?.close()
})

const records = (base: string) =>
  `${base}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(guest.identityId)}/datasets/settings/records`

const preflight = (base: string, origin: string) =>
  fetch(records(base), {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization,x-amz-user-agent,last-event-id',
    },
  })

describe('CORS', () => {
  it('answers a listed origin’s preflight with the method and the headers it asked for', async () => {
    const response = await preflight(url, APP)
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe(APP)
    expect(response.headers.get('access-control-allow-methods')).toContain('GET')
    expect(response.headers.get('access-control-allow-headers')).toBe(
      'authorization,x-amz-user-agent,last-event-id',
    )
    expect(response.headers.get('access-control-max-age')).toBe('600')
  })

  it('lets a listed origin read answers and error types, errors included', async () => {
    const ok = await fetch(records(url), { headers: { origin: APP, authorization: `Bearer ${guest.token}` } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP)
    expect(ok.headers.get('vary')).toMatch(/origin/i)

    const refused = await fetch(records(url), { headers: { origin: APP, authorization: 'Bearer nonsense' } })
    expect(refused.status).toBeGreaterThanOrEqual(400)
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP)
    expect(refused.headers.get('access-control-expose-headers')).toContain('x-amzn-errortype')
    expect(refused.headers.get('x-amzn-errortype')).toBeTruthy()
  })

  it('gives an origin not on the list no CORS header', async () => {
    const response = await fetch(records(url), {
      headers: { origin: 'http://evil.example.test', authorization: `Bearer ${guest.token}` },
    })
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
    expect(
      (await preflight(url, 'http://evil.example.test')).headers.get('access-control-allow-origin'),
    ).toBeNull()
  })

  it('sends no CORS header at all without the option', async () => {
    const response = await fetch(records(plainUrl), { headers: { origin: APP } })
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
    expect((await preflight(plainUrl, APP)).headers.get('access-control-allow-origin')).toBeNull()
  })

  it('covers Cognito Identity’s endpoint too, which an SDK in the page calls first', async () => {
    const response = await fetch(`${url}/`, {
      method: 'POST',
      headers: {
        origin: APP,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSCognitoIdentityService.GetId',
      },
      body: JSON.stringify({ IdentityPoolId: POOL }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe(APP)
  })
})
