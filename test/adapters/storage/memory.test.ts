import { describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../../adapters/storage/memory/index.js'
import type { SyncRecord } from '../../../src/core/model.js'
import { isSyncError } from '../../../src/errors.js'
import { runStorageConformance } from '../../../src/testing/index.js'

runStorageConformance({ name: 'memory', create: async () => createMemoryStorage() })

const ID = 'eu-west-1:00000000-0000-4000-8000-000000000001'

function record(key: string, value: string | null): SyncRecord {
  return {
    key,
    value,
    syncCount: 0,
    lastModifiedDate: 0,
    lastModifiedBy: null,
    deviceLastModifiedDate: 0,
    dirty: true,
  }
}

describe('createMemoryStorage', () => {
  it('gives every instance its own data', async () => {
    const first = createMemoryStorage()
    const second = createMemoryStorage()
    await first.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
    expect(await second.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([])
    expect(await first.read((tx) => tx.listRecords(ID, 'settings'))).toEqual([record('a', '1')])
  })

  it('lets the transactions queued before close finish, and refuses the ones after', async () => {
    const storage = createMemoryStorage()
    const queued = storage.write((tx) => tx.putRecords(ID, 'settings', [record('a', '1')]))
    const reading = storage.read((tx) => tx.listRecords(ID, 'settings'))
    const closing = storage.close()
    const late = storage.read((tx) => tx.listRecords(ID, 'settings'))
    await queued
    expect(await reading).toEqual([record('a', '1')])
    await closing
    await expect(late).rejects.toSatisfy((error) => isSyncError(error, 'STORAGE_CLOSED'))
  })

  it('names the instance in its STORAGE_CLOSED errors', async () => {
    const storage = createMemoryStorage({ name: 'left tab' })
    await storage.close()
    const error = await storage.read(async () => undefined).catch((caught: unknown) => caught)
    expect(isSyncError(error, 'STORAGE_CLOSED')).toBe(true)
    expect(error).toMatchObject({ adapter: 'storage:memory', details: { instance: 'left tab' } })
    expect(String((error as Error).message)).toContain("'left tab'")
  })

  it('can be closed twice', async () => {
    const storage = createMemoryStorage()
    await storage.close()
    await expect(storage.close()).resolves.toBeUndefined()
  })
})
