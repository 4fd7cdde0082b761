import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isSyncError, localWins } from '../../src/index.js'
import { interceptTransport, offline, startServer, type TestServer } from './harness.js'

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

describe('Dataset: local reads and writes', () => {
  it('puts, gets, removes and lists, with the empty string as a value', async () => {
    const device = server.device(await server.newIdentity())
    const ds = await device.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    await ds.putAll({ a: '1', b: '', __proto__: 'proto' } as Record<string, string>)
    await ds.remove('a')
    expect(await ds.get('theme')).toBe('dark')
    expect(await ds.get('b')).toBe('')
    expect(await ds.get('a')).toBeUndefined()
    const all = await ds.getAll()
    expect(Object.entries(all).sort()).toEqual([
      ['b', ''],
      ['theme', 'dark'],
    ])
    expect(ds.getStatus().pendingChanges).toBe(3)
  })

  it('refuses bad input with a typed error and changes nothing', async () => {
    const device = server.device(await server.newIdentity())
    await expect(device.openOrCreateDataset('bad name')).rejects.toSatisfy((e) =>
      isSyncError(e, 'INVALID_ARGUMENT'),
    )
    const ds = await device.openOrCreateDataset('settings')
    await ds.put('keep', 'me')
    await expect(ds.put('k'.repeat(129), 'v')).rejects.toSatisfy((e) => isSyncError(e, 'INVALID_ARGUMENT'))
    await expect(ds.put('k', null as unknown as string)).rejects.toSatisfy((e) =>
      isSyncError(e, 'INVALID_ARGUMENT'),
    )
    await expect(ds.putAll({ ok: 'v', bad: 42 as unknown as string })).rejects.toSatisfy((e) =>
      isSyncError(e, 'INVALID_ARGUMENT'),
    )
    expect(await ds.getAll()).toEqual(Object.assign(Object.create(null), { keep: 'me' }))
  })

  it('refuses use after close', async () => {
    const device = server.device(await server.newIdentity())
    const ds = await device.openOrCreateDataset('settings')
    await device.close()
    await expect(ds.put('k', 'v')).rejects.toSatisfy((e) => isSyncError(e, 'ENGINE_CLOSED'))
    await expect(ds.synchronize()).rejects.toSatisfy((e) => isSyncError(e, 'ENGINE_CLOSED'))
  })
})

describe('synchronize against the real server', () => {
  it('carries a write from one device to another and counts like Cognito', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const laptop = server.device(identity)
    const a = await phone.openOrCreateDataset('settings')
    await a.put('theme', 'dark')
    const pushed = await a.synchronize()
    expect(pushed).toMatchObject({ pushed: 1, lastSyncCount: 1 })
    expect(a.getStatus()).toMatchObject({ pendingChanges: 0, syncing: false, lastError: null })

    const b = await laptop.openOrCreateDataset('settings')
    const pulled = await b.synchronize()
    expect(pulled).toMatchObject({ updatedRecords: 1, pushed: 0, lastSyncCount: 1 })
    expect(await b.get('theme')).toBe('dark')
  })

  it('resolves offline edits on two devices through onConflict and converges', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const laptop = server.device(identity)
    const a = await phone.openOrCreateDataset('notes')
    const b = await laptop.openOrCreateDataset('notes')
    await a.putAll({ shared: 'from phone', onlyPhone: 'p' })
    await b.putAll({ shared: 'from laptop', onlyLaptop: 'l' })
    await a.synchronize()
    const seen: string[] = []
    const result = await b.synchronize({
      onConflict: (conflicts) => {
        for (const conflict of conflicts) {
          seen.push(`${conflict.key}: ${conflict.local.value} vs ${conflict.remote.value}`)
          conflict.resolveWithValue(`${conflict.local.value} + ${conflict.remote.value}`)
        }
      },
    })
    expect(seen).toEqual(['shared: from laptop vs from phone'])
    expect(result.conflicts).toBe(1)
    await a.synchronize()
    const expected = { shared: 'from laptop + from phone', onlyPhone: 'p', onlyLaptop: 'l' }
    expect({ ...(await a.getAll()) }).toEqual(expected)
    expect({ ...(await b.getAll()) }).toEqual(expected)
    expect(await a.getLastSyncCount()).toBe(await b.getLastSyncCount())
  })

  it('fails with CONFLICT_UNRESOLVED when onConflict leaves one open, keeping the local change', async () => {
    const identity = await server.newIdentity()
    const a = await server.device(identity).openOrCreateDataset('s')
    const b = await server.device(identity).openOrCreateDataset('s')
    await a.put('k', 'a')
    await a.synchronize()
    await b.put('k', 'b')
    await expect(b.synchronize({ onConflict: () => {} })).rejects.toSatisfy((e) =>
      isSyncError(e, 'CONFLICT_UNRESOLVED'),
    )
    expect(await b.get('k')).toBe('b')
    expect(b.getStatus().pendingChanges).toBe(1)
  })

  it('uses the manager’s resolver when no onConflict is given', async () => {
    const identity = await server.newIdentity()
    const a = await server.device(identity).openOrCreateDataset('s')
    const b = await server.device(identity, { conflictResolver: localWins }).openOrCreateDataset('s')
    await a.put('k', 'a')
    await a.synchronize()
    await b.put('k', 'b')
    await b.synchronize()
    await a.synchronize()
    expect(await a.get('k')).toBe('b')
  })

  it('keeps a dataset deleted on the server while this device has changes, and re-creates it', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const laptop = server.device(identity)
    const a = await phone.openOrCreateDataset('todo')
    await a.putAll({ one: '1', two: '2' })
    await a.synchronize()
    const b = await laptop.openOrCreateDataset('todo')
    await b.synchronize()
    await b.put('three', '3')
    await a.delete()
    expect((await a.synchronize()).deleted).toBe(true)
    expect(await phone.listDatasets()).toEqual([])

    const kept = await b.synchronize()
    expect(kept.deleted).toBe(false)
    expect({ ...(await b.getAll()) }).toEqual({ one: '1', two: '2', three: '3' })
    const again = await phone.openOrCreateDataset('todo')
    await again.synchronize()
    expect({ ...(await again.getAll()) }).toEqual({ one: '1', two: '2', three: '3' })
  })

  it('follows a remote delete when this device has nothing pending', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const laptop = server.device(identity)
    const a = await phone.openOrCreateDataset('tmp')
    await a.put('k', 'v')
    await a.synchronize()
    const b = await laptop.openOrCreateDataset('tmp')
    await b.synchronize()
    await a.delete()
    await a.synchronize()
    expect((await b.synchronize()).deleted).toBe(true)
    expect(await laptop.listDatasets()).toEqual([])
  })

  it('converges after a lost acknowledgement with no duplicate write and no false conflict', async () => {
    const identity = await server.newIdentity()
    let loseAnswer = true
    const transport = interceptTransport(server.transport(identity), async (call) => {
      const result = await call.proceed()
      if (call.method === 'updateRecords' && loseAnswer) {
        loseAnswer = false
        return offline()
      }
      return result
    })
    const device = server.device(identity, { transport })
    const ds = await device.openOrCreateDataset('s')
    await ds.put('k', 'v')
    await expect(ds.synchronize()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_OFFLINE'))
    expect(ds.getStatus().pendingChanges).toBe(1)
    let conflicts = 0
    const result = await ds.synchronize({ onConflict: () => void conflicts++ })
    expect(conflicts).toBe(0)
    expect(result).toMatchObject({ pushed: 0, lastSyncCount: 1 })
    expect(ds.getStatus().pendingChanges).toBe(0)
  })

  it('rejects with SYNC_RETRIES_EXHAUSTED when other writers win every push, losing nothing', async () => {
    const identity = await server.newIdentity()
    const other = await server.device(identity).openOrCreateDataset('busy')
    let round = 0
    const transport = interceptTransport(server.transport(identity), async (call) => {
      if (call.method === 'updateRecords') {
        await other.put('k', `other ${round++}`)
        await other.synchronize()
      }
      return call.proceed()
    })
    // Keeping its own value, the device has something to push after every conflict.
    const ds = await server
      .device(identity, { transport, conflictResolver: localWins })
      .openOrCreateDataset('busy')
    await ds.put('k', 'mine')
    await expect(ds.synchronize()).rejects.toSatisfy((e) => isSyncError(e, 'SYNC_RETRIES_EXHAUSTED'))
    expect(round).toBe(4)
    expect(ds.getStatus().lastError?.code).toBe('SYNC_RETRIES_EXHAUSTED')
    expect(await ds.get('k')).toBe('mine')
    expect(ds.getStatus().pendingChanges).toBe(1)
  })

  it('runs one sync per dataset at a time; calls during a sync share one follow-up', async () => {
    const identity = await server.newIdentity()
    let pulls = 0
    const transport = interceptTransport(server.transport(identity), (call) => {
      if (call.method === 'listRecords') pulls++
      return call.proceed()
    })
    const device = server.device(identity, { transport })
    const ds = await device.openOrCreateDataset('s')
    await ds.put('k', 'v')
    const first = ds.synchronize()
    const followers = [ds.synchronize(), ds.synchronize(), ds.synchronize()]
    await Promise.all([first, ...followers])
    expect(pulls).toBe(2)
    expect(followers[0]).toBe(followers[1])
  })

  it('emits events for local changes, syncs and remote changes', async () => {
    const identity = await server.newIdentity()
    const a = server.device(identity)
    const b = server.device(identity)
    const log: string[] = []
    b.on('datasetChanged', (e) => log.push(`changed ${e.source} ${e.keys.join(',')}`))
    b.on('syncStarted', () => log.push('started'))
    b.on('syncSucceeded', (e) => log.push(`succeeded ${e.result.updatedRecords}`))
    const dsA = await a.openOrCreateDataset('s')
    await dsA.put('k', 'v')
    await dsA.synchronize()
    const dsB = await b.openOrCreateDataset('s')
    await dsB.put('mine', 'x')
    await dsB.synchronize()
    expect(log).toEqual(['changed local mine', 'started', 'changed remote k', 'succeeded 1'])
  })

  it('syncs on a newer push and ignores a stale one', async () => {
    const identity = await server.newIdentity()
    const a = await server.device(identity).openOrCreateDataset('s')
    const bManager = server.device(identity)
    const b = await bManager.openOrCreateDataset('s')
    await a.put('k', 'v')
    await a.synchronize()
    const payload = {
      source: 'cognito-sync',
      identityPoolId: bManager.identityPoolId,
      identityId: identity.identityId,
      datasetName: 's',
      syncCount: '1',
    }
    const update = bManager.getPushSyncUpdate(payload)
    expect(await bManager.handlePushSyncUpdate(update)).toBe('sync')
    await b.synchronize()
    expect(await b.get('k')).toBe('v')
    expect(await bManager.handlePushSyncUpdate(update)).toBe('ignore')
    expect(() => bManager.getPushSyncUpdate({ source: 'cognito-sync' })).toThrow(
      expect.objectContaining({ code: 'PUSH_PAYLOAD_INVALID' }),
    )
  })
})
