import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, type SyncServer } from '../../src/server.js'
import { signInAsGuest } from '../helpers/guest.js'

/**
 * The `site` option: pages served from the API's origin. The API keeps every route and path of its
 * own; the site answers GET and HEAD of the rest, and what it leaves gets the API's answer to an
 * unknown path (UnknownOperationException, which this server sends with status 400).
 */

const POOL = 'us-east-1:5173e000-0000-4000-8000-00000000517e'
let server: SyncServer
let url: string
const asked: string[] = []
const errors: unknown[] = []

beforeAll(async () => {
  server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    tokenSecret: 'site',
    onError: (error) => errors.push(error),
    site: async (request) => {
      const { pathname } = new URL(request.url)
      asked.push(`${request.method} ${pathname}`)
      if (pathname === '/')
        return new Response('<!doctype html><title>home</title>', {
          headers: { 'content-type': 'text/html; charset=utf-8' },
        })
      if (pathname === '/broken') throw new Error('the site failed')
      // Tries to claim everything it is asked about, API paths included.
      if (pathname.startsWith('/identitypools') || pathname.startsWith('/pushsync/'))
        return new Response('taken by the site')
      return undefined
    },
  })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
})

describe('the site option', () => {
  it('answers GET / with its page', async () => {
    const response = await fetch(`${url}/`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await response.text()).toContain('<title>home</title>')
  })

  it('answers HEAD with the headers and no body', async () => {
    const response = await fetch(`${url}/`, { method: 'HEAD' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await response.text()).toBe('')
  })

  it('leaves the API its routes: Cognito Identity on POST / and the sync routes', async () => {
    const guest = await signInAsGuest(url, POOL)
    const base = `${url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(guest.identityId)}`
    const headers = { authorization: `Bearer ${guest.token}` }
    const datasets = await fetch(`${base}/datasets`, { headers })
    expect(datasets.status).toBe(200)
    expect(await datasets.json()).toMatchObject({ Count: 0, Datasets: [] })
    const vapid = await fetch(`${url}/pushsync/vapid-public-key`)
    expect(vapid.headers.get('x-amzn-errortype')).not.toBeNull()
    expect(await vapid.text()).not.toBe('taken by the site')
    // A route that refuses (no credentials here) is still the API's answer, not the site's.
    const usage = await fetch(`${url}/identitypools`)
    expect(usage.headers.get('x-amzn-errortype')).toBe('NotAuthorizedException')
    expect(asked.some((line) => line.startsWith('POST'))).toBe(false)
  })

  it('is not asked about the API’s own paths, even those no route answers', async () => {
    asked.length = 0
    for (const path of ['/identitypools/nothing/here', '/pushsync/nothing']) {
      const response = await fetch(`${url}${path}`)
      expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException')
    }
    expect(asked).toEqual([])
  })

  it('leaves an unknown path to the API’s answer', async () => {
    const response = await fetch(`${url}/no-such-page`)
    expect(response.status).toBe(400)
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException')
    expect(await response.json()).toMatchObject({ __type: 'UnknownOperationException' })
    expect(asked).toContain('GET /no-such-page')
  })

  it('is asked about GET and HEAD only', async () => {
    asked.length = 0
    const response = await fetch(`${url}/`, { method: 'DELETE' })
    expect(response.status).toBe(400)
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException')
    expect(asked).toEqual([])
  })

  it('reports its failures to onError and answers 500', async () => {
    const response = await fetch(`${url}/broken`)
    expect(response.status).toBe(500)
    expect(response.headers.get('x-amzn-errortype')).toBe('InternalErrorException')
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe('the site failed')
  })
})
