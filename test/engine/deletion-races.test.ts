/**
 * Deletions racing with syncs: a local delete made while a sync is under way must still reach the
 * server, and a device that holds records the server gave it must learn of the dataset's deletion
 * even when its `lastSyncCount` stayed at 0 (another writer got in before its push was answered).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DELETE_PENDING } from '../../src/index.js'
import { type InterceptedCall, interceptTransport, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

type Identity = Awaited<ReturnType<TestServer['newIdentity']>>

/** What the server holds, as a fresh device pulls it. */
async function serverView(identity: Identity, name: string) {
  const fresh = server.device(identity)
  const ds = await fresh.openOrCreateDataset(name)
  await ds.synchronize()
  const values = { ...(await ds.getAll()) }
  await fresh.close()
  return values
}

/** A device whose next call of `method` waits for `during` to run first. */
function deviceWithHook(identity: Identity, method: InterceptedCall['method'], during: () => Promise<void>) {
  let armed = false
  const transport = interceptTransport(server.transport(identity), async (call) => {
    if (armed && call.method === method) {
      armed = false
      await during()
    }
    return call.proceed()
  })
  const manager = server.device(identity, { transport })
  const arm = () => {
    armed = true
  }
  return { manager, arm }
}

describe('a local delete made while a sync is under way', () => {
  for (const method of ['updateRecords', 'listRecords'] as const) {
    it(`reaches the server when made before the sync's ${method}`, async () => {
      const identity = await server.newIdentity()
      let deleting: Promise<void> = Promise.resolve()
      const phone = deviceWithHook(identity, method, async () => {
        deleting = ds.delete()
        await deleting
      })
      const ds = await phone.manager.openOrCreateDataset('scratch')
      await ds.put('k', 'v')
      await ds.synchronize()
      await ds.put('k', 'w')
      phone.arm()
      const racing = await ds.synchronize()
      await deleting
      // The sync under way sends the delete after what it started with, or leaves it pending for
      // the next sync; it never stores the server's count over it.
      if (!racing.deleted) {
        expect(await ds.getLastSyncCount()).toBe(DELETE_PENDING)
        expect((await ds.synchronize()).deleted).toBe(true)
      }
      expect(await phone.manager.listDatasets()).toEqual([])
      expect(await serverView(identity, 'scratch')).toEqual({})
      await phone.manager.close()
    })
  }
})

describe('a device whose acknowledged push left lastSyncCount at 0', () => {
  /** The phone's first push is answered after the laptop wrote: its count stays at 0. */
  async function behindPhone(identity: Identity) {
    const laptop = await server.device(identity).openOrCreateDataset('shared')
    const phone = deviceWithHook(identity, 'updateRecords', async () => {
      await laptop.put('other', 'x')
      await laptop.synchronize()
    })
    const ds = await phone.manager.openOrCreateDataset('shared')
    await ds.put('mine', '1')
    phone.arm()
    await ds.synchronize()
    expect(await ds.getLastSyncCount()).toBe(0)
    return { phone: phone.manager, ds, laptop }
  }

  it('learns that the dataset was deleted', async () => {
    const identity = await server.newIdentity()
    const { phone, ds, laptop } = await behindPhone(identity)
    await laptop.synchronize()
    await laptop.delete()
    await laptop.synchronize()
    const result = await ds.synchronize()
    expect(result.deleted).toBe(true)
    expect(await phone.listDatasets()).toEqual([])
    expect(await serverView(identity, 'shared')).toEqual({})
    await phone.close()
  })

  it('learns that it was deleted and made again, and ends where the server is', async () => {
    const identity = await server.newIdentity()
    const { phone, ds, laptop } = await behindPhone(identity)
    await laptop.synchronize()
    await laptop.delete()
    await laptop.synchronize()
    const again = server.device(identity)
    const fresh = await again.openOrCreateDataset('shared')
    await fresh.put('new', '2')
    await fresh.synchronize()
    await again.close()

    await ds.synchronize()
    expect({ ...(await ds.getAll()) }).toEqual({ new: '2' })
    expect(await serverView(identity, 'shared')).toEqual({ new: '2' })
    await phone.close()
  })
})
