/**
 * Reactive reads and write-through: `watch` tells once per committed change (local, pulled, pushed,
 * another device's), per key only when that key changed, with a snapshot that stays the same object
 * between changes; `writeThrough` sends local writes by itself.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { DatasetValues, PushSource, SyncError } from '../../src/index.js'
import { isSyncError } from '../../src/index.js'
import { interceptTransport, startServer, storageWithFailingReads, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

const live: PushSource = {
  name: 'push:live',
  start(sink) {
    sink.onConnected?.()
    return () => {}
  },
}

describe('watch', () => {
  it('reads the values once, then tells every committed change with a new snapshot', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const ds = await phone.openOrCreateDataset('settings')
    await ds.putAll({ theme: 'dark', font: 'serif' })
    expect(ds.getSnapshot()).toBeUndefined()

    const seen: DatasetValues[] = []
    const stop = ds.watch((values) => void seen.push(values))
    await vi.waitFor(() => expect(seen).toHaveLength(1))
    expect({ ...seen[0] }).toEqual({ theme: 'dark', font: 'serif' })
    expect(Object.getPrototypeOf(seen[0])).toBeNull()
    expect(Object.isFrozen(seen[0])).toBe(true)
    // Stable: the same object until something changes.
    expect(ds.getSnapshot()).toBe(seen[0])
    expect(ds.getSnapshot()).toBe(ds.getSnapshot())

    await ds.put('theme', 'light')
    await vi.waitFor(() => expect(seen).toHaveLength(2))
    expect({ ...seen[1] }).toEqual({ theme: 'light', font: 'serif' })
    expect(ds.getSnapshot()).toBe(seen[1])
    // Writing what is already there commits nothing, and tells nobody.
    await ds.put('theme', 'light')
    await ds.remove('font')
    await vi.waitFor(() => expect(seen).toHaveLength(3))
    expect({ ...seen[2] }).toEqual({ theme: 'light' })

    // A change pulled from another device.
    const laptop = await server.device(identity).openOrCreateDataset('settings')
    await ds.synchronize()
    await laptop.synchronize()
    await laptop.put('lang', 'fr')
    await laptop.synchronize()
    await ds.synchronize()
    await vi.waitFor(() => expect(seen).toHaveLength(4))
    expect({ ...seen[3] }).toEqual({ theme: 'light', lang: 'fr' })

    stop()
    await ds.put('theme', 'blue')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(seen).toHaveLength(4)
    // Nobody watches: the values are not kept.
    expect(ds.getSnapshot()).toBeUndefined()
    await phone.close()
  })

  it('tells a key’s watchers only when that key changed', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const ds = await phone.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    const themes: Array<string | undefined> = []
    const fonts: Array<string | undefined> = []
    ds.watch('theme', (value) => void themes.push(value))
    ds.watch('font', (value) => void fonts.push(value))
    await vi.waitFor(() => expect(themes).toEqual(['dark']))
    expect(fonts).toEqual([undefined])

    await ds.put('font', 'serif')
    await ds.put('theme', 'light')
    await ds.remove('theme')
    await vi.waitFor(() => expect(themes).toEqual(['dark', 'light', undefined]))
    expect(fonts).toEqual([undefined, 'serif'])
    await phone.close()
  })

  it('follows a deletion, a wipe and a watcher that throws', async () => {
    const identity = await server.newIdentity()
    const warn = vi.fn()
    const phone = server.device(identity, { logger: { warn } })
    const ds = await phone.openOrCreateDataset('settings')
    await ds.put('a', '1')
    const seen: DatasetValues[] = []
    ds.watch(() => {
      throw new Error('a broken watcher')
    })
    ds.watch((values) => void seen.push(values))
    await vi.waitFor(() => expect(seen).toHaveLength(1))
    await ds.delete()
    await vi.waitFor(() => expect(seen).toHaveLength(2))
    expect({ ...seen[1] }).toEqual({})

    const again = await phone.openOrCreateDataset('settings')
    await again.put('b', '2')
    await vi.waitFor(() => expect(seen).toHaveLength(3))
    await phone.wipeData()
    await vi.waitFor(() => expect(seen).toHaveLength(4))
    expect({ ...seen[3] }).toEqual({})
    expect(warn.mock.calls.some(([message]) => /watch listener threw/.test(String(message)))).toBe(true)
    await phone.close()
  })

  it('tells a read that failed to onError (else the logger), and reads again at the next change', async () => {
    const identity = await server.newIdentity()
    const warn = vi.fn()
    const disk = storageWithFailingReads()
    const phone = server.device(identity, { storage: disk.storage, logger: { warn } })
    const ds = await phone.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')

    disk.readsFail = true
    const errors: SyncError[] = []
    const seen: DatasetValues[] = []
    const keySeen: Array<string | undefined> = []
    ds.watch((values) => void seen.push(values), { onError: (error) => void errors.push(error) })
    ds.watch('theme', (value) => void keySeen.push(value))
    // Both watchers started while nothing was read: one read, one failure.
    await vi.waitFor(() => expect(errors).toHaveLength(1))
    expect(errors[0]).toSatisfy((e) => isSyncError(e, 'STORAGE_UNAVAILABLE'))
    expect(errors[0]?.cause).toEqual(new Error('disk gone'))
    expect(seen).toEqual([])
    expect(ds.getSnapshot()).toBeUndefined()
    // The watcher without onError: its failure went to the logger, once per failed read.
    expect(
      warn.mock.calls.filter(([message]) => /watching dataset "settings" failed/.test(message)),
    ).toHaveLength(0)

    disk.readsFail = false
    await ds.put('theme', 'light')
    await vi.waitFor(() => expect(seen).toHaveLength(1))
    expect({ ...seen[0] }).toEqual({ theme: 'light' })
    expect(keySeen).toEqual(['light'])

    // Only watchers without onError: the logger hears of it.
    const other = await phone.openOrCreateDataset('other')
    await other.put('a', '1')
    disk.readsFail = true
    other.watch(() => {})
    await vi.waitFor(() =>
      expect(warn.mock.calls.some(([message]) => /watching dataset "other" failed/.test(message))).toBe(true),
    )
    disk.readsFail = false
    expect(() => ds.watch(() => {}, 'onError' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    await phone.close()
  })

  it('refuses bad arguments, and subscribe() with a listener, with a typed error', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const ds = await phone.openOrCreateDataset('settings')
    expect(() => ds.watch('k'.repeat(129), () => {})).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => (ds.watch as (key: unknown) => void)('theme')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    const subscribing = (ds.subscribe as (listener: unknown) => Promise<void>)(() => {})
    await expect(subscribing).rejects.toSatisfy(
      (e) => isSyncError(e, 'INVALID_ARGUMENT') && /use watch/.test((e as Error).message),
    )
    await phone.close()
  })
})

describe('writeThrough', () => {
  it('sends a burst of local writes in one sync, without synchronize()', async () => {
    const identity = await server.newIdentity()
    const calls: string[] = []
    const phone = server.device(identity, {
      writeThrough: { delayMs: 30 },
      transport: interceptTransport(server.transport(identity), (call) => {
        calls.push(call.method)
        return call.proceed()
      }),
    })
    phone.addPushSource(live)
    const ds = await phone.openOrCreateDataset('notes')
    await ds.put('a', '1')
    await ds.put('b', '2')
    await ds.put('c', '3')
    await vi.waitFor(() => expect(ds.getStatus().pendingChanges).toBe(0))
    expect(calls.filter((method) => method === 'updateRecords')).toHaveLength(1)
    const laptop = await server.device(identity).openOrCreateDataset('notes')
    await laptop.synchronize()
    expect({ ...(await laptop.getAll()) }).toEqual({ a: '1', b: '2', c: '3' })
    await phone.close()
  })

  it('is off unless asked, and refuses a delay that is not a number of milliseconds', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const ds = await phone.openOrCreateDataset('notes')
    await ds.put('a', '1')
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(ds.getStatus().pendingChanges).toBe(1)
    await phone.close()
    expect(() => server.device(identity, { writeThrough: { delayMs: -1 } })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})
