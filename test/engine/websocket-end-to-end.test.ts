/**
 * The WebSocket transport end to end: two managers of one identity, each with the transport and
 * its push source on a real server over real sockets. A's write reaches B by the socket's event,
 * and once A is current its write is one socket message (UpdateRecords) and no HTTP request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket as NodeWebSocket } from 'ws'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import type { FetchLike } from '../../adapters/transport/http/index.js'
import {
  createWebSocketTransport,
  type WebSocketConstructor,
} from '../../adapters/transport/websocket/index.js'
import { createSyncServer, type SyncServer } from '../../server/src/server.js'
import { createMemoryStore } from '../../server/src/store/memory.js'
import { createSyncManager, type SyncManager } from '../../src/index.js'
import { newIdentity, POOL } from '../adapters/transport/sync-server.js'

let server: SyncServer
let url: string
beforeAll(async () => {
  server = await createSyncServer({
    db: createMemoryStore(),
    allowUnauthenticated: true,
    tokenSecret: 'ws-e2e',
  })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
})

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A device whose socket messages and HTTP requests are counted. */
function device(identityId: string, token: string) {
  const messages: Array<{ method: string; path: string }> = []
  const requests: string[] = []
  class Counting extends NodeWebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      if (typeof data === 'string') messages.push(JSON.parse(data))
      ;(NodeWebSocket.prototype.send as (...args: unknown[]) => void).call(this, data, ...rest)
    }
  }
  const fetch: FetchLike = (target, init) => {
    requests.push(`${init.method} ${target}`)
    return globalThis.fetch(target, init)
  }
  const transport = createWebSocketTransport({
    endpoint: url,
    identityPoolId: POOL,
    identityId,
    getToken: () => token,
    fetch,
    WebSocket: Counting as unknown as WebSocketConstructor,
  })
  const manager: SyncManager = createSyncManager({
    identityPoolId: POOL,
    identityId,
    storage: createMemoryStorage(),
    transport,
  })
  let live = false
  manager.on('pushSourceStateChanged', ({ state }) => {
    live = state === 'live'
  })
  manager.addPushSource(transport.pushSource)
  return { manager, messages, requests, isLive: () => live }
}

describe('the WebSocket transport with its push source', () => {
  it('brings A’s write to B, and A’s next write is one socket message and no HTTP request', async () => {
    const { identityId, sessionToken } = await newIdentity(url)
    const a = device(identityId, sessionToken)
    const b = device(identityId, sessionToken)
    await until(() => a.isLive() && b.isLive())
    const changedOnB: string[][] = []
    b.manager.on('datasetChanged', (event) => {
      if (event.source === 'remote') changedOnB.push([...event.keys])
    })

    const dsA = await a.manager.openOrCreateDataset('settings')
    const dsB = await b.manager.openOrCreateDataset('settings')
    await dsB.synchronize()
    await dsA.put('theme', 'dark')
    await dsA.synchronize()
    await until(async () => (await dsB.get('theme')) === 'dark')
    expect(changedOnB).toEqual([['theme']])

    a.messages.length = 0
    a.requests.length = 0
    b.requests.length = 0
    const bMessages = b.messages.length
    await dsA.put('theme', 'light')
    expect(await dsA.synchronize()).toMatchObject({ pushed: 1 })
    expect(a.messages).toEqual([
      expect.objectContaining({ method: 'POST', path: expect.stringMatching(/\/datasets\/settings$/) }),
    ])
    expect(a.requests).toEqual([])

    await until(async () => (await dsB.get('theme')) === 'light')
    expect(changedOnB).toEqual([['theme'], ['theme']])
    expect(await dsB.getLastSyncCount()).toBe(await dsA.getLastSyncCount())
    // B applied the change its event carried: it asked the server nothing, by socket or by HTTP.
    expect(b.messages.length).toBe(bMessages)
    expect(b.requests).toEqual([])
    await Promise.all([a.manager.close(), b.manager.close()])
  })
})
