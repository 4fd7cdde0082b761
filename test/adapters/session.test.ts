/**
 * `pushsync/session` against pushsync-server on a real socket: a guest signs in, keeps its identity,
 * renews its credentials before they expire, and feeds both transports — the HTTP transport's bearer
 * token and the AWS SDK's credentials for the Cognito transport. And the browser connectivity source.
 */
import { CognitoSyncClient } from '@aws-sdk/client-cognito-sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBrowserConnectivity } from '../../adapters/connectivity/browser/index.js'
import { createIdentitySession, type IdentityStore, type SessionFetch } from '../../adapters/session/index.js'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { createCognitoTransport } from '../../adapters/transport/cognito/index.js'
import { createHttpTransport } from '../../adapters/transport/http/index.js'
import { createSyncManager, isSyncError } from '../../src/index.js'
import { closedUrl, POOL, REGION, type RunningSyncServer, startSyncServer } from './transport/sync-server.js'

let server: RunningSyncServer
beforeAll(async () => {
  server = await startSyncServer()
})
afterAll(async () => {
  await server?.close()
})

/** fetch, counting the Cognito Identity operations asked. */
function countingFetch() {
  const asked: string[] = []
  const send: SessionFetch = async (url, init) => {
    asked.push(init.headers['x-amz-target']?.split('.')[1] ?? '?')
    return fetch(url, init)
  }
  return { asked, send }
}

function memoryStore(): IdentityStore & { saved: string[] } {
  const saved: string[] = []
  return { saved, load: () => saved.at(-1), save: (id) => void saved.push(id) }
}

describe('createIdentitySession', () => {
  it('signs a guest in and syncs through the HTTP transport, a complete program', async () => {
    const session = createIdentitySession({ endpoint: server.url, identityPoolId: POOL })
    const identityId = await session.identityId()
    const manager = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createHttpTransport({
        endpoint: server.url,
        identityPoolId: POOL,
        identityId,
        getToken: session.getToken,
      }),
    })
    const ds = await manager.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    expect(await ds.synchronize()).toMatchObject({ pushed: 1, lastSyncCount: 1 })
    await manager.close()
  })

  it('asks once, shares concurrent calls, keeps the identity and renews before expiry', async () => {
    let clock = Date.now()
    const { asked, send } = countingFetch()
    const store = memoryStore()
    const session = createIdentitySession({
      endpoint: server.url,
      identityPoolId: POOL,
      identityStore: store,
      fetch: send,
      now: () => clock,
    })
    const tokens = await Promise.all([session.getToken(), session.getToken(), session.credentials()])
    expect(asked).toEqual(['GetId', 'GetCredentialsForIdentity'])
    expect(tokens[0]).toBe(tokens[1])
    expect(tokens[2].sessionToken).toBe(tokens[0])
    expect(store.saved).toEqual([await session.identityId()])
    // Credentials last an hour; five minutes before they end, new ones are asked for.
    clock = tokens[2].expiration.getTime() - 4 * 60_000
    await session.getToken()
    expect(asked).toEqual(['GetId', 'GetCredentialsForIdentity', 'GetCredentialsForIdentity'])

    // The next run of the app: the same identity, no GetId.
    const next = countingFetch()
    const again = createIdentitySession({
      endpoint: server.url,
      identityPoolId: POOL,
      identityStore: store,
      fetch: next.send,
    })
    expect(await again.identityId()).toBe(store.saved[0])
    await again.getToken()
    expect(next.asked).toEqual(['GetCredentialsForIdentity'])
  })

  it('gives the AWS SDK its credentials for the Cognito transport', async () => {
    const session = createIdentitySession({ endpoint: server.url, identityPoolId: POOL })
    const identityId = await session.identityId()
    const client = new CognitoSyncClient({
      region: REGION,
      endpoint: server.url,
      credentials: session.credentials,
      maxAttempts: 1,
    })
    const manager = createSyncManager({
      identityPoolId: POOL,
      identityId,
      storage: createMemoryStorage(),
      transport: createCognitoTransport({ client, identityPoolId: POOL, identityId }),
    })
    const ds = await manager.openOrCreateDataset('settings')
    await ds.put('lang', 'fr')
    expect(await ds.synchronize()).toMatchObject({ pushed: 1 })
    await manager.close()
  })

  it('fails with typed errors and tries again on the next call', async () => {
    const nowhere = createIdentitySession({ endpoint: await closedUrl(), identityPoolId: POOL })
    await expect(nowhere.getToken()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_OFFLINE'))
    // A pool id that is well formed but whose identity the server refuses to credit.
    const refused = createIdentitySession({
      endpoint: server.url,
      identityPoolId: POOL,
      identityStore: { load: () => 'us-east-1:00000000-0000-4000-8000-000000000000', save: () => {} },
    })
    const error = await refused.getToken().catch((caught: unknown) => caught)
    expect(isSyncError(error)).toBe(true)
    expect((error as { code: string }).code).toMatch(/^TRANSPORT_(AUTH|NOT_FOUND)$/)
    expect(() => createIdentitySession({ endpoint: 'not a url', identityPoolId: POOL })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => createIdentitySession({ endpoint: server.url, identityPoolId: 'no-colon' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})

describe('createBrowserConnectivity', () => {
  it('reads navigator.onLine and follows the online and offline events', () => {
    const target = new EventTarget()
    const navigator = { onLine: false }
    const connectivity = createBrowserConnectivity({ navigator, target })
    expect(connectivity.isOnline()).toBe(false)
    const seen: boolean[] = []
    const stop = connectivity.subscribe((online) => void seen.push(online))
    navigator.onLine = true
    target.dispatchEvent(new Event('online'))
    target.dispatchEvent(new Event('offline'))
    stop()
    target.dispatchEvent(new Event('online'))
    expect(seen).toEqual([true, false])
    expect(connectivity.isOnline()).toBe(true)
    // Nothing to read (server rendering): online, and nothing to follow.
    const bare = createBrowserConnectivity({ navigator: {} })
    expect(bare.isOnline()).toBe(true)
  })
})
