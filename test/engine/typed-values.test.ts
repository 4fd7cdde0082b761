/**
 * Typed values: a dataset opened with a Standard Schema keeps JSON checked by it, strings on the
 * device and the wire. Tested with zod (a real validator) and a hand-written asynchronous schema.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { z } from 'zod'
import type { DatasetValues, StandardSchemaV1, SyncEvents } from '../../src/index.js'
import { isSyncError } from '../../src/index.js'
import { startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

const Setting = z.union([z.number(), z.object({ theme: z.enum(['dark', 'light']), size: z.number().int() })])

describe('a dataset with a schema', () => {
  it('writes and reads typed values, stored and sent as JSON text', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const ds = await phone.openOrCreateDataset('prefs', { schema: Setting })
    await ds.put('count', 42)
    await ds.put('look', { theme: 'dark', size: 12 })
    expectTypeOf(ds.get).returns.resolves.toEqualTypeOf<z.infer<typeof Setting> | undefined>()
    expect(await ds.get('count')).toBe(42)
    expect(await ds.get('look')).toEqual({ theme: 'dark', size: 12 })
    expect({ ...(await ds.getAll()) }).toEqual({ count: 42, look: { theme: 'dark', size: 12 } })
    expect(await ds.text.get('count')).toBe('42')
    await ds.synchronize()

    // Another device without the schema, and the server, hold the JSON text.
    const laptop = await server.device(identity).openOrCreateDataset('prefs')
    await laptop.synchronize()
    expect({ ...(await laptop.getAll()) }).toEqual({ count: '42', look: '{"theme":"dark","size":12}' })
    await phone.close()
  })

  it('refuses a value the schema refuses, or one that is not JSON, and writes nothing', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const ds = await phone.openOrCreateDataset('prefs', { schema: Setting })
    const refused = (e: unknown) => isSyncError(e, 'INVALID_ARGUMENT')
    await expect(ds.put('look', { theme: 'pink', size: 1 } as never)).rejects.toSatisfy(refused)
    await expect(ds.put('count', Number.NaN)).rejects.toSatisfy(refused)
    await expect(ds.put('nothing', undefined as never)).rejects.toSatisfy(refused)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await expect(ds.put('cycle', cyclic as never)).rejects.toSatisfy(refused)
    await expect(ds.putAll({ ok: 1, bad: 'x' as never })).rejects.toSatisfy(refused)
    expect({ ...(await ds.text.getAll()) }).toEqual({})
    expect(ds.getStatus().pendingChanges).toBe(0)
    await expect(phone.openOrCreateDataset('prefs', { schema: {} as never })).rejects.toSatisfy(refused)
    await phone.close()
  })

  it('surfaces a stored value the schema refuses, and never drops or overwrites it', async () => {
    const identity = await server.newIdentity()
    // An older version of the app wrote a string where the schema now wants numbers.
    const old = await server.device(identity).openOrCreateDataset('counters')
    await old.putAll({ visits: '3', mood: '"happy"' })
    await old.synchronize()

    const phone = server.device(identity)
    const invalid: Array<SyncEvents['valueInvalid'][0]> = []
    phone.on('valueInvalid', (event) => void invalid.push(event))
    const ds = await phone.openOrCreateDataset('counters', { schema: z.number() })
    await ds.synchronize()
    expect(await ds.get('visits')).toBe(3)
    await expect(ds.get('mood')).rejects.toSatisfy(
      (e) => isSyncError(e, 'VALUE_INVALID') && e.details.key === 'mood',
    )
    expect({ ...(await ds.getAll()) }).toEqual({ visits: 3 })
    expect(invalid.map((event) => [event.dataset, event.key, event.value])).toEqual([
      ['counters', 'mood', '"happy"'],
      ['counters', 'mood', '"happy"'],
    ])
    expect(invalid[0]?.issues.length).toBeGreaterThan(0)
    // Left as it is, on the device and the server.
    expect(await ds.text.get('mood')).toBe('"happy"')
    await ds.put('visits', 4)
    await ds.synchronize()
    await old.synchronize()
    expect({ ...(await old.getAll()) }).toEqual({ visits: '4', mood: '"happy"' })
    await phone.close()
  })

  it('watches typed values and keys; a refused value is told as undefined and announced', async () => {
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const invalid: string[] = []
    phone.on('valueInvalid', (event) => void invalid.push(event.key))
    const ds = await phone.openOrCreateDataset('counters', { schema: z.number() })
    await ds.put('a', 1)
    const seen: Array<DatasetValues<number>> = []
    const keyed: Array<number | undefined> = []
    ds.watch((values) => void seen.push(values))
    ds.watch('b', (value) => void keyed.push(value))
    await vi.waitFor(() => expect(seen).toHaveLength(1))
    expect({ ...seen[0] }).toEqual({ a: 1 })
    expect(ds.getSnapshot()).toBe(seen[0])

    await ds.put('b', 2)
    await vi.waitFor(() => expect(keyed).toEqual([undefined, 2]))
    await ds.text.put('b', 'not json')
    await vi.waitFor(() => expect(keyed).toEqual([undefined, 2, undefined]))
    await vi.waitFor(() => expect({ ...seen.at(-1) }).toEqual({ a: 1 }))
    expect(invalid).toContain('b')
    await phone.close()
  })

  it('works with any Standard Schema, an asynchronous one included', async () => {
    const evenNumber: StandardSchemaV1<number> = {
      '~standard': {
        version: 1,
        vendor: 'tests',
        validate: async (value) =>
          typeof value === 'number' && value % 2 === 0
            ? { value }
            : { issues: [{ message: 'not an even number' }] },
      },
    }
    const identity = await server.newIdentity()
    const phone = server.device(identity)
    const ds = await phone.openOrCreateDataset('even', { schema: evenNumber })
    await ds.put('x', 4)
    await expect(ds.put('y', 3)).rejects.toSatisfy(
      (e) => isSyncError(e, 'INVALID_ARGUMENT') && /not an even number/.test((e as Error).message),
    )
    expect({ ...(await ds.getAll()) }).toEqual({ x: 4 })
    await phone.close()
  })
})
