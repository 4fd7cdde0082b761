import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import type { ConnectivitySource } from '../../src/engine/sync-manager.js'
import { createSyncManager, isSyncError } from '../../src/index.js'
import { interceptTransport, POOL, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

describe('changeIdentity', () => {
  it('gives data kept before sign-in to the identity, which then syncs it', async () => {
    const identity = await server.newIdentity()
    // Before sign-in: no identity and no transport yet.
    const device = createSyncManager({ identityPoolId: POOL, storage: createMemoryStorage() })
    expect(device.identityId).toBe('unknown')
    const ds = await device.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    await expect(ds.synchronize()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_AUTH'))

    await device.changeIdentity(identity.identityId, server.transport(identity))
    expect(device.identityId).toBe(identity.identityId)
    expect(await ds.get('theme')).toBe('dark')
    expect((await ds.synchronize()).pushed).toBe(1)
    const other = await server.device(identity).openOrCreateDataset('settings')
    await other.synchronize()
    expect(await other.get('theme')).toBe('dark')
  })

  it('keeps another identity’s datasets as NAME.OLDID and reports them as merged', async () => {
    const first = await server.newIdentity()
    const second = await server.newIdentity()
    const device = server.device(first)
    const ds = await device.openOrCreateDataset('settings')
    await ds.putAll({ theme: 'dark', gone: 'x' })
    await ds.synchronize()
    await ds.remove('gone')

    await device.changeIdentity(second.identityId, server.transport(second))
    const mergedName = `settings.${first.identityId}`
    expect((await device.listDatasets()).map((meta) => [meta.name, meta.lastSyncCount])).toEqual([
      [mergedName, 0],
    ])
    const merged = await device.openOrCreateDataset(mergedName)
    expect({ ...(await merged.getAll()) }).toEqual({ theme: 'dark' })
    expect(merged.getStatus().pendingChanges).toBe(1)

    const reported: string[][] = []
    const fresh = await device.openOrCreateDataset('settings')
    await fresh.synchronize({ onDatasetsMerged: ({ merged: names }) => void reported.push([...names]) })
    expect(reported).toEqual([[mergedName]])
    await expect(device.changeIdentity('not an id', server.transport(second))).rejects.toSatisfy((e) =>
      isSyncError(e, 'INVALID_ARGUMENT'),
    )
  })
})

describe('scheduling', () => {
  it('synchronizes pending datasets when connectivity returns, and synchronizeOnConnectivity waits for it', async () => {
    const identity = await server.newIdentity()
    let online = false
    const listeners = new Set<(online: boolean) => void>()
    const connectivity: ConnectivitySource = {
      isOnline: () => online,
      subscribe(listener) {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
    }
    let pushes = 0
    const transport = interceptTransport(server.transport(identity), (call) => {
      if (call.method === 'updateRecords') pushes++
      return call.proceed()
    })
    const device = server.device(identity, { transport, connectivity })
    const ds = await device.openOrCreateDataset('offline')
    await ds.put('k', 'v')
    const waiting = ds.synchronizeOnConnectivity()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(pushes).toBe(0)
    online = true
    for (const listener of [...listeners]) listener(true)
    expect((await waiting).pushed).toBe(1)
    expect(pushes).toBe(1)
    await device.close()
    expect(listeners.size).toBe(0)
  })

  it('synchronizes every dataset on the interval, and stops when closed', async () => {
    const identity = await server.newIdentity()
    const writer = await server.device(identity).openOrCreateDataset('timed')
    await writer.put('k', 'v')
    await writer.synchronize()
    const device = server.device(identity, { syncIntervalMs: 10 })
    const ds = await device.openOrCreateDataset('timed')
    for (let i = 0; i < 100 && (await ds.get('k')) === undefined; i++)
      await new Promise((r) => setTimeout(r, 10))
    expect(await ds.get('k')).toBe('v')
    await device.close()
  })
})
