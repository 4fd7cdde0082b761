/**
 * The stores under `useDataset` and `useRecord`, in Node against the real server: what
 * `useSyncExternalStore` needs of them (a snapshot that is the same object until a committed
 * change, a listener told once per change, a stable `subscribe`), one handle per manager and name,
 * typed values, and failures reported as states rather than thrown into a render.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { isLoadState, LOADING } from '../../src/react/dataset-store.js'
import { textStore, typedStore } from '../../src/react/stores.js'
import { startServer, storageWithFailingReads, type TestServer } from '../engine/harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

async function device() {
  return server.device(await server.newIdentity())
}

describe('the dataset store', () => {
  it('loads on the first subscription, then holds one snapshot per committed change', async () => {
    const manager = await device()
    const store = textStore(manager, 'settings')
    // Nothing opens during a render: before any subscription the store only says "loading".
    const open = vi.spyOn(manager, 'openOrCreateDataset')
    expect(store.getSnapshot()).toBe(LOADING)
    expect(open).not.toHaveBeenCalled()

    const listener = vi.fn()
    const unsubscribe = store.subscribe(listener)
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('ready'))
    const first = store.getSnapshot()
    expect({ ...first.values }).toEqual({})
    expect(store.getSnapshot()).toBe(first)

    const calls = listener.mock.calls.length
    await first.dataset?.put('theme', 'dark')
    await vi.waitFor(() => expect(store.getSnapshot().values?.theme).toBe('dark'))
    const second = store.getSnapshot()
    expect(second).not.toBe(first)
    expect(second.dataset).toBe(first.dataset)
    expect(store.getSnapshot()).toBe(second)
    expect(listener.mock.calls.length).toBe(calls + 1)

    // Writing what is already there commits nothing: no new snapshot, nobody told.
    await second.dataset?.put('theme', 'dark')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(store.getSnapshot()).toBe(second)
    expect(listener.mock.calls.length).toBe(calls + 1)
    expect(open).toHaveBeenCalledTimes(1)
    unsubscribe()
    await manager.close()
  })

  it('is one store, one handle and one watch per manager and name, however many components subscribe', async () => {
    const manager = await device()
    const open = vi.spyOn(manager, 'openOrCreateDataset')
    const store = textStore(manager, 'settings')
    expect(textStore(manager, 'settings')).toBe(store)
    expect(textStore(manager, 'other')).not.toBe(store)
    expect(textStore(await device(), 'settings')).not.toBe(store)

    const stops = [store.subscribe(() => {}), store.subscribe(() => {})]
    const handle = await store.dataset()
    const watch = vi.spyOn(handle, 'watch')
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('ready'))
    expect(open).toHaveBeenCalledTimes(1)

    // StrictMode's unsubscribe-and-subscribe-again (and a component that moves) keeps the watch.
    for (const stop of stops) stop()
    const again = store.subscribe(() => {})
    await Promise.resolve()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(watch).not.toHaveBeenCalled()
    expect(store.getSnapshot().status).toBe('ready')

    // When the last one leaves, the watch stops and the values are let go; the next one reads them anew.
    again()
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('loading'))
    expect(store.getSnapshot().dataset).toBe(handle)
    const last = store.subscribe(() => {})
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('ready'))
    expect(watch).toHaveBeenCalledTimes(1)
    expect(open).toHaveBeenCalledTimes(1)
    last()
    await manager.close()
  })

  it('tells a component showing one record only of that record: the same value until it changes', async () => {
    const manager = await device()
    const store = textStore(manager, 'settings')
    const stop = store.subscribe(() => {})
    expect(isLoadState(store.selectRecord('theme'))).toBe(true)
    await store.write('theme', 'dark')
    await vi.waitFor(() => expect(store.selectRecord('theme')).toBe('dark'))
    await store.write('language', 'fr')
    await vi.waitFor(() => expect(store.selectRecord('language')).toBe('fr'))
    expect(store.selectRecord('theme')).toBe('dark')
    // Writing undefined removes the record.
    await store.write('theme', undefined)
    await vi.waitFor(() => expect(store.selectRecord('theme')).toBeUndefined())
    expect(await (await store.dataset()).get('theme')).toBeUndefined()
    stop()
    await manager.close()
  })

  it('reports a dataset that cannot be opened as an error state, and tries again on the next subscription', async () => {
    const manager = await device()
    const store = textStore(manager, 'not a valid name!')
    const listener = vi.fn()
    const stop = store.subscribe(listener)
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('error'))
    const state = store.getSnapshot()
    expect(state.error?.code).toBe('INVALID_ARGUMENT')
    expect(store.getSnapshot()).toBe(state)
    expect(listener).toHaveBeenCalled()
    await expect(store.write('theme', 'dark')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    stop()

    const open = vi.spyOn(manager, 'openOrCreateDataset')
    const again = store.subscribe(() => {})
    await vi.waitFor(() => expect(open).toHaveBeenCalledTimes(1))
    again()
    await manager.close()
  })

  it('reports values that could not be read as an error state, and is ready again after the next change', async () => {
    const disk = storageWithFailingReads()
    const manager = server.device(await server.newIdentity(), { storage: disk.storage })
    const store = textStore(manager, 'settings')
    const handle = await store.dataset()
    await handle.put('theme', 'dark')
    disk.readsFail = true
    const stop = store.subscribe(() => {})
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('error'))
    expect(store.getSnapshot().error?.code).toBe('STORAGE_UNAVAILABLE')
    expect(store.getSnapshot().dataset).toBe(handle)

    disk.readsFail = false
    await handle.put('theme', 'light')
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('ready'))
    expect({ ...store.getSnapshot().values }).toEqual({ theme: 'light' })
    stop()
    await manager.close()
  })

  it('reports a closed manager as ENGINE_CLOSED rather than loading forever', async () => {
    const manager = await device()
    const store = textStore(manager, 'settings')
    await store.dataset()
    await manager.close()
    const stop = store.subscribe(() => {})
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe('error'))
    expect(store.getSnapshot().error?.code).toBe('ENGINE_CLOSED')
    stop()
  })
})

describe('the typed dataset store', () => {
  const Enabled = z.boolean()

  it('gives the values the schema accepts, one store per schema object, strings on the device', async () => {
    const manager = await device()
    const store = typedStore(manager, 'notifications', Enabled)
    expect(typedStore(manager, 'notifications', Enabled)).toBe(store)
    expect(typedStore(manager, 'notifications', z.boolean())).not.toBe(store)
    expect(typedStore(manager, 'notifications', Enabled)).not.toBe(textStore(manager, 'notifications'))

    const stop = store.subscribe(() => {})
    await store.write('email', true)
    await store.write('digest', false)
    await vi.waitFor(() => expect({ ...store.getSnapshot().values }).toEqual({ email: true, digest: false }))
    expect(await (await textStore(manager, 'notifications').dataset()).getAll()).toEqual({
      email: 'true',
      digest: 'false',
    })

    // A value the schema refuses is not written; one already stored (another app wrote it) is left out.
    await expect(store.write('email', 'yes')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    const invalid = vi.fn()
    manager.on('valueInvalid', invalid)
    await (await textStore(manager, 'notifications').dataset()).put('push', '"sometimes"')
    await vi.waitFor(() => expect(invalid).toHaveBeenCalledWith(expect.objectContaining({ key: 'push' })))
    expect({ ...store.getSnapshot().values }).toEqual({ email: true, digest: false })
    stop()
    await manager.close()
  })

  it('keeps a decoded object the same while its JSON text is unchanged', async () => {
    const manager = await device()
    const Shortcut = z.object({ keys: z.string(), enabled: z.boolean() })
    const store = typedStore(manager, 'shortcuts', Shortcut)
    const stop = store.subscribe(() => {})
    await store.write('save', { keys: 'Ctrl+S', enabled: true })
    await vi.waitFor(() => expect(store.selectRecord('save')).toEqual({ keys: 'Ctrl+S', enabled: true }))
    const save = store.selectRecord('save')
    await store.write('open', { keys: 'Ctrl+O', enabled: true })
    await vi.waitFor(() => expect(store.selectRecord('open')).toBeDefined())
    expect(store.selectRecord('save')).toBe(save)
    stop()
    await manager.close()
  })
})
