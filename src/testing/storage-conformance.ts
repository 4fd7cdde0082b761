/**
 * The storage conformance suite: every `StorageAdapter` runs it, so the engine can rely on one set of
 * behaviours whatever the medium. Adapter authors call {@link runStorageConformance} from a vitest file.
 *
 * @module
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { StorageAdapter, StorageReadTx, StorageWriteTx } from '../contracts/storage.js'
import {
  type DatasetMeta,
  DELETE_PENDING,
  type DeviceRegistration,
  PLATFORMS,
  type Platform,
  type SyncRecord,
} from '../core/model.js'
import { isSyncError, SyncError } from '../errors.js'

export interface StorageFixture {
  /** Shown in the suite's title, such as `'memory'` or `'sqlite (node:sqlite)'`. */
  name: string
  /** A new, empty adapter. Called before every test. */
  create(): Promise<StorageAdapter>
  /** reopen the same medium after close, for persistent adapters */
  reopen?(): Promise<StorageAdapter>
  /** Removes what `create` made. Called after every test, once its adapters are closed. */
  destroy?(): Promise<void>
  /**
   * Runs of the model property (default: fast-check's global `numRuns`). Setting it also gives that
   * test time for a medium whose every transaction reaches the disk: a browser's IndexedDB takes
   * about 80 ms per run of up to 20 transactions.
   */
  modelRuns?: number
}

/** Registers the suite's tests with vitest; call it at the top level of a test file. */
export function runStorageConformance(fixture: StorageFixture): void {
  describe(`storage conformance (${fixture.name})`, () => {
    let storage: StorageAdapter
    const opened: StorageAdapter[] = []

    beforeEach(async () => {
      storage = await fixture.create()
      opened.push(storage)
    })

    afterEach(async () => {
      for (const adapter of opened.splice(0)) await closeOnce(adapter)
      await fixture.destroy?.()
    })

    const putRecords = (records: readonly SyncRecord[], dataset = DS, identityId = ID) =>
      storage.write((tx) => tx.putRecords(identityId, dataset, records))
    const getRecord = (key: string, dataset = DS, identityId = ID) =>
      storage.read((tx) => tx.getRecord(identityId, dataset, key))
    const listRecords = (dataset = DS, identityId = ID) =>
      storage.read((tx) => tx.listRecords(identityId, dataset))
    const putDataset = (...metas: DatasetMeta[]) =>
      storage.write(async (tx) => {
        for (const m of metas) await tx.putDataset(m)
      })
    const putDevice = (...registrations: DeviceRegistration[]) =>
      storage.write(async (tx) => {
        for (const registration of registrations) await tx.putDevice(registration)
      })

    it('names itself storage:<implementation>', () => {
      expect(storage.name).toMatch(/^storage:\S+$/)
    })

    describe('dataset metadata', () => {
      it('has no metadata for datasets never stored, even for names every object inherits', async () => {
        await putDataset(meta('settings'))
        const found = await storage.read(async (tx) => {
          const names = ['other', ...INHERITED_NAMES]
          return Promise.all(names.map((name) => tx.getDataset(ID, name)))
        })
        expect(found).toEqual(found.map(() => undefined))
        expect(await storage.read((tx) => tx.listDatasets(OTHER_ID))).toEqual([])
      })

      it('stores metadata and returns it field for field', async () => {
        const synced = meta('settings', {
          lastSyncCount: 42,
          creationDate: T0,
          lastModifiedDate: T0 + 5,
          lastModifiedBy: 'device-a',
          lastSyncDate: T0 + 9,
        })
        const pendingDelete = meta('scores', { lastSyncCount: DELETE_PENDING, lastModifiedBy: null })
        await putDataset(synced, pendingDelete)
        expect(await storage.read((tx) => tx.getDataset(ID, 'settings'))).toEqual(synced)
        expect(await storage.read((tx) => tx.getDataset(ID, 'scores'))).toEqual(pendingDelete)
      })

      it('replaces the metadata stored under the same identity and name', async () => {
        await putDataset(meta('settings', { lastSyncCount: 1 }))
        await putDataset(meta('settings', { lastSyncCount: 7, lastModifiedBy: 'device-b' }))
        const expected = meta('settings', { lastSyncCount: 7, lastModifiedBy: 'device-b' })
        expect(await storage.read((tx) => tx.getDataset(ID, 'settings'))).toEqual(expected)
        expect(await storage.read((tx) => tx.listDatasets(ID))).toEqual([expected])
      })

      it('lists an identity’s datasets ordered by name in code unit order', async () => {
        // Inserted out of order; neither insertion order nor localeCompare gives the expected order.
        const names = ['ax', '_x', 'Ax', ':x', '0x', '.x', '-x', 'b', 'a', 'B', '10', '9']
        await putDataset(...names.map((name) => meta(name)))
        const listed = await storage.read((tx) => tx.listDatasets(ID))
        expect(listed.map((m) => m.name)).toEqual([
          '-x',
          '.x',
          '0x',
          '10',
          '9',
          ':x',
          'Ax',
          'B',
          '_x',
          'a',
          'ax',
          'b',
        ])
        expect(listed).toEqual(listed.map((m) => meta(m.name)))
      })

      it('deleting a dataset removes its metadata and all of its records, tombstones included', async () => {
        await putDataset(meta('settings'))
        await putRecords([record('a', '1'), record('b', null, { dirty: true }), record('c', '')], 'settings')
        await storage.write((tx) => tx.deleteDataset(ID, 'settings'))
        expect(await storage.read((tx) => tx.getDataset(ID, 'settings'))).toBeUndefined()
        expect(await storage.read((tx) => tx.listDatasets(ID))).toEqual([])
        expect(await listRecords('settings')).toEqual([])
        expect(await storage.read((tx) => tx.listRecords(ID, 'settings', { dirtyOnly: true }))).toEqual([])
        expect(await getRecord('a', 'settings')).toBeUndefined()
        expect(await getRecord('b', 'settings')).toBeUndefined()
      })

      it('deleting a dataset leaves other datasets, other identities and registrations alone', async () => {
        await putDataset(meta('settings'), meta('settings2'), meta('settings', { identityId: OTHER_ID }))
        await putRecords([record('a', 'mine')], 'settings')
        await putRecords([record('a', 'sibling')], 'settings2')
        await putRecords([record('a', 'theirs')], 'settings', OTHER_ID)
        await putDevice(device('GCM'))
        await storage.write((tx) => tx.deleteDataset(ID, 'settings'))
        expect(await storage.read((tx) => tx.listDatasets(ID))).toEqual([meta('settings2')])
        expect(await listRecords('settings2')).toEqual([record('a', 'sibling')])
        expect(await storage.read((tx) => tx.listDatasets(OTHER_ID))).toEqual([
          meta('settings', { identityId: OTHER_ID }),
        ])
        expect(await listRecords('settings', OTHER_ID)).toEqual([record('a', 'theirs')])
        expect(await storage.read((tx) => tx.listDevices(ID))).toEqual([device('GCM')])
      })

      it('deleting a dataset, records or a registration that do not exist succeeds and changes nothing', async () => {
        await putDataset(meta('settings'))
        await putRecords([record('a', '1')], 'settings')
        await putDevice(device('APNS'))
        const before = await storage.read((tx) => snapshot(tx, [ID], ['settings', 'absent']))
        await storage.write(async (tx) => {
          await tx.deleteDataset(ID, 'absent')
          await tx.deleteDataset(OTHER_ID, 'settings')
          await tx.deleteRecords(ID, 'settings', ['missing', 'constructor'])
          await tx.deleteRecords(ID, 'absent', ['a'])
          await tx.deleteDevice(ID, 'GCM')
          await tx.deleteDevice(OTHER_ID, 'APNS')
        })
        expect(await storage.read((tx) => snapshot(tx, [ID], ['settings', 'absent']))).toEqual(before)
        expect(before[0]?.devices).toEqual([device('APNS')])
      })
    })

    describe('records', () => {
      it('has no record for keys never stored, even for names every object inherits', async () => {
        await putRecords([record('a', '1')])
        const found = await storage.read((tx) =>
          Promise.all(['b', ...INHERITED_NAMES].map((key) => tx.getRecord(ID, DS, key))),
        )
        expect(found).toEqual(found.map(() => undefined))
        expect(await getRecord('a', 'other')).toBeUndefined()
        expect(await getRecord('a', DS, OTHER_ID)).toBeUndefined()
        expect(await listRecords('other')).toEqual([])
      })

      it('stores records and returns them field for field', async () => {
        const pulled = record('theme', 'dark', {
          syncCount: 9_007_199_254_740_991,
          lastModifiedDate: T0 + 1,
          lastModifiedBy: 'device-a',
          deviceLastModifiedDate: T0 - 1,
          dirty: false,
        })
        const local = record('font', 'serif', {
          syncCount: 0,
          lastModifiedDate: 0,
          lastModifiedBy: null,
          dirty: true,
        })
        await putRecords([pulled, local])
        expect(await getRecord('theme')).toEqual(pulled)
        expect(await getRecord('font')).toEqual(local)
        expect(await listRecords()).toEqual([local, pulled])
      })

      it('replaces the record stored under the same key', async () => {
        await putRecords([record('theme', 'dark', { syncCount: 1 })])
        await putRecords([record('theme', 'light', { syncCount: 2, dirty: true })])
        expect(await getRecord('theme')).toEqual(record('theme', 'light', { syncCount: 2, dirty: true }))
        expect(await listRecords()).toEqual([record('theme', 'light', { syncCount: 2, dirty: true })])
      })

      it('keeps tombstones: a record with a null value is stored, returned and listed', async () => {
        const tombstone = record('gone', null, { syncCount: 3, dirty: true })
        await putRecords([record('kept', 'v'), tombstone])
        expect(await getRecord('gone')).toEqual(tombstone)
        expect(await listRecords()).toEqual([tombstone, record('kept', 'v')])
      })

      it('keeps an empty string value as a value, distinct from a tombstone', async () => {
        await putRecords([record('empty', ''), record('tombstone', null)])
        const empty = await getRecord('empty')
        const tombstone = await getRecord('tombstone')
        expect(empty?.value).toBe('')
        expect(tombstone?.value).toBeNull()
        expect((await listRecords()).map((r) => r.value)).toEqual(['', null])
      })

      it('deleteRecords removes rows outright instead of tombstoning them, and ignores absent keys', async () => {
        await putRecords([record('a', '1'), record('b', null), record('c', '3')])
        await storage.write((tx) => tx.deleteRecords(ID, DS, ['a', 'b', 'never']))
        expect(await getRecord('a')).toBeUndefined()
        expect(await getRecord('b')).toBeUndefined()
        expect(await listRecords()).toEqual([record('c', '3')])
      })

      it('lists records ordered by UTF-16 code unit, not code point, locale or insertion order', async () => {
        // U+E000 sorts after the surrogate pair of U+1F600 in code units but before it in code points
        // (which is what a byte-wise UTF-8 index gives).
        const expected = [
          '10',
          '2',
          '9',
          'A',
          'B',
          'a',
          'a\u0000',
          'ab',
          'b',
          'é',
          '\u{1F600}',
          '\uE000',
          '\uFFFF',
        ]
        const shuffled = [...expected.slice(6), ...expected.slice(0, 6)].reverse()
        await putRecords(shuffled.slice(0, 7).map((key) => record(key, key)))
        await putRecords(shuffled.slice(7).map((key) => record(key, key)))
        expect((await listRecords()).map((r) => r.key)).toEqual(expected)
      })

      it('lists only dirty records, tombstones included, when dirtyOnly is set', async () => {
        await putRecords([
          record('d', 'changed', { dirty: true }),
          record('c', 'clean', { dirty: false }),
          record('b', null, { dirty: true }),
          record('a', null, { dirty: false }),
        ])
        const dirty = await storage.read((tx) => tx.listRecords(ID, DS, { dirtyOnly: true }))
        expect(dirty).toEqual([record('b', null, { dirty: true }), record('d', 'changed', { dirty: true })])
        const all = await storage.read((tx) => tx.listRecords(ID, DS, { dirtyOnly: false }))
        expect(all.map((r) => r.key)).toEqual(['a', 'b', 'c', 'd'])
        expect((await listRecords()).map((r) => r.key)).toEqual(['a', 'b', 'c', 'd'])
      })

      it('drops a record from the dirty listing once it is stored clean', async () => {
        await putRecords([record('a', '1', { dirty: true }), record('b', '2', { dirty: true })])
        await putRecords([record('a', '1', { dirty: false, syncCount: 4 })])
        const dirty = await storage.read((tx) => tx.listRecords(ID, DS, { dirtyOnly: true }))
        expect(dirty).toEqual([record('b', '2', { dirty: true })])
      })
    })

    describe('isolation', () => {
      it('keeps the same key in two datasets as two independent records', async () => {
        await putRecords([record('k', 'in settings')], 'settings')
        await putRecords([record('k', 'in scores')], 'scores')
        await storage.write((tx) => tx.deleteRecords(ID, 'scores', ['k']))
        expect(await getRecord('k', 'settings')).toEqual(record('k', 'in settings'))
        expect(await getRecord('k', 'scores')).toBeUndefined()
      })

      it('keeps the same dataset under two identities as independent metadata and records', async () => {
        await putDataset(meta('settings', { lastSyncCount: 1 }), meta('settings', { identityId: OTHER_ID }))
        await putRecords([record('k', 'mine')], 'settings')
        await putRecords([record('k', 'theirs')], 'settings', OTHER_ID)
        await storage.write((tx) => tx.putRecords(OTHER_ID, 'settings', [record('k', 'theirs, changed')]))
        expect(await getRecord('k', 'settings')).toEqual(record('k', 'mine'))
        expect(await getRecord('k', 'settings', OTHER_ID)).toEqual(record('k', 'theirs, changed'))
        expect(await storage.read((tx) => tx.getDataset(ID, 'settings'))).toEqual(
          meta('settings', { lastSyncCount: 1 }),
        )
      })

      it('does not mix datasets whose names share a prefix or a separator', async () => {
        // A store joining names with ':' or '.', or scanning by prefix, would mix these up.
        await putRecords([record('b:c', 'in a'), record('.b', 'in a too')], 'a')
        await putRecords([record('c', 'in a:b')], 'a:b')
        await putRecords([record('b', 'in a.')], 'a.')
        await putRecords([record('x', 'in ab')], 'ab')
        expect(await listRecords('a')).toEqual([record('.b', 'in a too'), record('b:c', 'in a')])
        expect(await listRecords('a:b')).toEqual([record('c', 'in a:b')])
        expect(await listRecords('a.')).toEqual([record('b', 'in a.')])
        expect(await getRecord('c', 'a')).toBeUndefined()
        await storage.write((tx) => tx.deleteDataset(ID, 'a'))
        expect(await listRecords('a:b')).toEqual([record('c', 'in a:b')])
        expect(await listRecords('ab')).toEqual([record('x', 'in ab')])
      })

      it('does not mix identities whose ids share a prefix', async () => {
        const shorter = 'eu-west-1:abc'
        const longer = 'eu-west-1:abcd'
        await putDataset(meta('settings', { identityId: shorter }), meta('settings', { identityId: longer }))
        await putRecords([record('k', 'shorter')], 'settings', shorter)
        await putDevice(device('GCM', { identityId: longer }))
        expect(await listRecords('settings', longer)).toEqual([])
        expect(await storage.read((tx) => tx.listDevices(shorter))).toEqual([])
        await storage.write((tx) => tx.deleteDataset(longer, 'settings'))
        expect(await storage.read((tx) => tx.listDatasets(shorter))).toEqual([
          meta('settings', { identityId: shorter }),
        ])
        expect(await listRecords('settings', shorter)).toEqual([record('k', 'shorter')])
      })
    })

    describe('device registrations', () => {
      it('has no registration for a platform never registered', async () => {
        await putDevice(device('GCM'))
        expect(await storage.read((tx) => tx.getDevice(ID, 'APNS'))).toBeUndefined()
        expect(await storage.read((tx) => tx.getDevice(OTHER_ID, 'GCM'))).toBeUndefined()
        expect(await storage.read((tx) => tx.listDevices(OTHER_ID))).toEqual([])
      })

      it('stores a registration and returns it field for field', async () => {
        const registration = device('WEBPUSH', { deviceId: 'device-7', token: '{"endpoint":"https://push"}' })
        await putDevice(registration)
        expect(await storage.read((tx) => tx.getDevice(ID, 'WEBPUSH'))).toEqual(registration)
      })

      it('replaces the registration of the same identity and platform', async () => {
        await putDevice(device('APNS', { token: 'old' }))
        await putDevice(device('APNS', { deviceId: 'device-2', token: 'new' }))
        const expected = device('APNS', { deviceId: 'device-2', token: 'new' })
        expect(await storage.read((tx) => tx.getDevice(ID, 'APNS'))).toEqual(expected)
        expect(await storage.read((tx) => tx.listDevices(ID))).toEqual([expected])
      })

      it('lists an identity’s registrations ordered by platform', async () => {
        await putDevice(...[...PLATFORMS].reverse().map((platform) => device(platform)))
        const listed = await storage.read((tx) => tx.listDevices(ID))
        expect(listed.map((d) => d.platform)).toEqual(['ADM', 'APNS', 'APNS_SANDBOX', 'GCM', 'WEBPUSH'])
        expect(listed).toEqual(listed.map((d) => device(d.platform)))
      })

      it('keeps registrations per identity and deletes only the one asked for', async () => {
        await putDevice(
          device('GCM'),
          device('APNS'),
          device('GCM', { identityId: OTHER_ID, token: 'other' }),
        )
        await storage.write((tx) => tx.deleteDevice(ID, 'GCM'))
        expect(await storage.read((tx) => tx.getDevice(ID, 'GCM'))).toBeUndefined()
        expect(await storage.read((tx) => tx.listDevices(ID))).toEqual([device('APNS')])
        expect(await storage.read((tx) => tx.listDevices(OTHER_ID))).toEqual([
          device('GCM', { identityId: OTHER_ID, token: 'other' }),
        ])
      })
    })

    describe('returned objects are copies', () => {
      it('changing what a read returned changes nothing stored', async () => {
        await putDataset(meta('settings'))
        await putRecords([record('a', '1'), record('b', '2')], 'settings')
        await putDevice(device('GCM'))
        const got = await storage.read(async (tx) => ({
          record: await tx.getRecord(ID, 'settings', 'a'),
          records: await tx.listRecords(ID, 'settings'),
          meta: await tx.getDataset(ID, 'settings'),
          metas: await tx.listDatasets(ID),
          device: await tx.getDevice(ID, 'GCM'),
          devices: await tx.listDevices(ID),
        }))
        // Frozen results are fine too: Reflect.set reports failure instead of throwing.
        for (const target of [
          got.record,
          got.records[0],
          got.meta,
          got.metas[0],
          got.device,
          got.devices[0],
        ]) {
          for (const field of ['value', 'dirty', 'syncCount', 'lastSyncCount', 'token', 'name', 'key']) {
            Reflect.set(target ?? {}, field, 'changed')
          }
        }
        Reflect.set(got.records, 'length', 0)
        Reflect.set(got.metas, 'length', 0)
        Reflect.set(got.devices, 'length', 0)
        expect(await storage.read((tx) => snapshot(tx, [ID], ['settings']))).toEqual([
          {
            identityId: ID,
            datasets: [meta('settings')],
            records: [['settings', [record('a', '1'), record('b', '2')]]],
            devices: [device('GCM')],
          },
        ])
      })

      it('changing an input after it was stored changes nothing stored', async () => {
        const rec = { ...record('a', '1') }
        const batch = [rec]
        const m = { ...meta('settings') }
        const d = { ...device('GCM') }
        await storage.write(async (tx) => {
          await tx.putDataset(m)
          await tx.putRecords(ID, 'settings', batch)
          await tx.putDevice(d)
          // Changes made inside the transaction, after the put, must not leak into what it stored either.
          Object.assign(rec, { value: 'changed inside', dirty: true })
        })
        Object.assign(rec, { value: 'changed', syncCount: 99 })
        batch.push(record('b', 'late'))
        Object.assign(m, { lastSyncCount: 99 })
        Object.assign(d, { token: 'changed' })
        expect(await listRecords('settings')).toEqual([record('a', '1')])
        expect(await storage.read((tx) => tx.getDataset(ID, 'settings'))).toEqual(meta('settings'))
        expect(await storage.read((tx) => tx.getDevice(ID, 'GCM'))).toEqual(device('GCM'))
      })
    })

    describe('special keys and dataset names', () => {
      for (const [label, key] of SPECIAL_KEYS) {
        it(`round-trips the key ${label}`, async () => {
          await putRecords([record('a', 'neighbour'), record(key, `value of ${label}`)])
          expect(await getRecord(key)).toEqual(record(key, `value of ${label}`))
          expect(await listRecords()).toEqual(
            sortByKey([record('a', 'neighbour'), record(key, `value of ${label}`)], (r) => r.key),
          )
          await storage.write((tx) => tx.deleteRecords(ID, DS, [key]))
          expect(await getRecord(key)).toBeUndefined()
          expect(await listRecords()).toEqual([record('a', 'neighbour')])
        })
      }

      it('keeps all the special keys apart in one dataset', async () => {
        const bytes = SPECIAL_KEYS.map(([, key]) => new TextEncoder().encode(key).length)
        expect(Math.max(...bytes)).toBe(128)
        const records = SPECIAL_KEYS.map(([label, key]) => record(key, label))
        await putRecords(records)
        expect(await listRecords()).toEqual(sortByKey(records, (r) => r.key))
        for (const [label, key] of SPECIAL_KEYS) expect((await getRecord(key))?.value).toBe(label)
      })

      for (const name of SPECIAL_DATASET_NAMES) {
        it(`round-trips the dataset name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 20)}…` : name)}`, async () => {
          await putDataset(meta('a'), meta(name, { lastSyncCount: 3 }))
          await putRecords([record('k', name)], name)
          await putRecords([record('k', 'in a')], 'a')
          expect(await storage.read((tx) => tx.getDataset(ID, name))).toEqual(
            meta(name, { lastSyncCount: 3 }),
          )
          expect(await getRecord('k', name)).toEqual(record('k', name))
          expect((await storage.read((tx) => tx.listDatasets(ID))).map((m) => m.name)).toEqual(
            sortByKey(['a', name], (n) => n),
          )
          await storage.write((tx) => tx.deleteDataset(ID, name))
          expect(await storage.read((tx) => tx.getDataset(ID, name))).toBeUndefined()
          expect(await listRecords(name)).toEqual([])
          expect(await storage.read((tx) => tx.listDatasets(ID))).toEqual([meta('a')])
          expect(await listRecords('a')).toEqual([record('k', 'in a')])
        })
      }

      it('keeps all the special dataset names apart for one identity', async () => {
        expect(SPECIAL_DATASET_NAMES.map((name) => name.length)).toContain(128)
        await putDataset(...SPECIAL_DATASET_NAMES.map((name, i) => meta(name, { lastSyncCount: i })))
        for (const name of SPECIAL_DATASET_NAMES) await putRecords([record('k', name)], name)
        expect(await storage.read((tx) => tx.listDatasets(ID))).toEqual(
          sortByKey(
            SPECIAL_DATASET_NAMES.map((name, i) => meta(name, { lastSyncCount: i })),
            (m) => m.name,
          ),
        )
        for (const name of SPECIAL_DATASET_NAMES) expect(await listRecords(name)).toEqual([record('k', name)])
      })
    })

    describe('transactions', () => {
      it('resolves read and write with what their callback returned', async () => {
        const written = { ok: 1 }
        expect(await storage.write(async () => written)).toBe(written)
        expect(await storage.read(async () => 'read result')).toBe('read result')
      })

      it('makes a successful write visible to the next read', async () => {
        await storage.write(async (tx) => {
          await tx.putDataset(meta('settings'))
          await tx.putRecords(ID, 'settings', [record('a', '1')])
          await tx.putDevice(device('ADM'))
        })
        expect(await storage.read((tx) => snapshot(tx, [ID], ['settings']))).toEqual([
          {
            identityId: ID,
            datasets: [meta('settings')],
            records: [['settings', [record('a', '1')]]],
            devices: [device('ADM')],
          },
        ])
      })

      it('lets reads inside a write see the write’s own earlier changes', async () => {
        await putDataset(meta('old'))
        await putRecords([record('x', 'stored'), record('y', 'stored')], 'old')
        const seen = await storage.write(async (tx) => {
          await tx.putDataset(meta('settings'))
          await tx.putRecords(ID, 'settings', [record('a', '1'), record('b', null, { dirty: true })])
          await tx.deleteRecords(ID, 'old', ['x'])
          const afterRecordDelete = await tx.listRecords(ID, 'old')
          await tx.deleteDataset(ID, 'old')
          await tx.putDevice(device('GCM'))
          return {
            meta: await tx.getDataset(ID, 'settings'),
            record: await tx.getRecord(ID, 'settings', 'a'),
            records: await tx.listRecords(ID, 'settings'),
            dirty: await tx.listRecords(ID, 'settings', { dirtyOnly: true }),
            afterRecordDelete,
            deleted: await tx.getDataset(ID, 'old'),
            deletedRecords: await tx.listRecords(ID, 'old'),
            datasets: await tx.listDatasets(ID),
            device: await tx.getDevice(ID, 'GCM'),
          }
        })
        expect(seen).toEqual({
          meta: meta('settings'),
          record: record('a', '1'),
          records: [record('a', '1'), record('b', null, { dirty: true })],
          dirty: [record('b', null, { dirty: true })],
          afterRecordDelete: [record('y', 'stored')],
          deleted: undefined,
          deletedRecords: [],
          datasets: [meta('settings')],
          device: device('GCM'),
        })
      })

      for (const [label, makeFailure] of FAILURES) {
        it(`applies none of a write’s changes when its callback rejects with ${label}, and rejects with that same value`, async () => {
          await putDataset(meta('settings', { lastSyncCount: 1 }), meta('scores'))
          await putRecords([record('a', '1'), record('b', '2'), record('t', null)], 'settings')
          await putRecords([record('s', '10')], 'scores')
          await putDevice(device('GCM'))
          const before = await storage.read((tx) =>
            snapshot(tx, [ID, OTHER_ID], ['settings', 'scores', 'new']),
          )
          const failure = makeFailure()
          const writing = storage.write(async (tx) => {
            await tx.putDataset(meta('settings', { lastSyncCount: 2 }))
            await tx.putDataset(meta('new'))
            await tx.putRecords(ID, 'settings', [
              record('a', 'changed'),
              record('c', 'added'),
              record('t', ''),
            ])
            await tx.deleteRecords(ID, 'settings', ['b'])
            await tx.deleteDataset(ID, 'scores')
            await tx.putRecords(ID, 'new', [record('n', 'new')])
            await tx.putRecords(OTHER_ID, 'settings', [record('a', 'other')])
            await tx.putDevice(device('GCM', { token: 'changed' }))
            await tx.putDevice(device('APNS'))
            await tx.deleteDevice(ID, 'GCM')
            throw failure
          })
          await expect(writing).rejects.toBe(failure)
          expect(
            await storage.read((tx) => snapshot(tx, [ID, OTHER_ID], ['settings', 'scores', 'new'])),
          ).toEqual(before)
          expect(await getRecord('a', 'settings')).toEqual(record('a', '1'))
        })
      }

      it('rejects the write, rather than throwing, when its callback throws synchronously', async () => {
        const failure = new Error('thrown synchronously')
        let writing: Promise<unknown> | undefined
        expect(() => {
          writing = storage.write((tx) => {
            void tx.putRecords(ID, DS, [record('a', '1')]).catch(() => {})
            throw failure
          })
        }).not.toThrow()
        await expect(writing).rejects.toBe(failure)
        expect(await listRecords()).toEqual([])
      })

      it('keeps working after a failed write', async () => {
        const failure = new Error('rolled back')
        await expect(
          storage.write(async (tx) => {
            await tx.putRecords(ID, DS, [record('a', 'rolled back')])
            throw failure
          }),
        ).rejects.toBe(failure)
        await putRecords([record('b', 'committed')])
        expect(await listRecords()).toEqual([record('b', 'committed')])
      })

      it('never shows a concurrent read half of a write', async () => {
        const writing = storage.write(async (tx) => {
          await tx.putRecords(ID, DS, [record('a', '1')])
          await pause(tx)
          await tx.putRecords(ID, DS, [record('b', '2')])
        })
        const reading = storage.read((tx) => tx.listRecords(ID, DS))
        const failing = storage.write(async (tx) => {
          await tx.putRecords(ID, DS, [record('c', 'rolled back')])
          await pause(tx)
          throw new Error('rolled back')
        })
        const readingAfterFailure = storage.read((tx) => tx.listRecords(ID, DS))
        await writing
        await failing.catch(() => {})
        const whole = [record('a', '1'), record('b', '2')]
        expect([[], whole]).toContainEqual(await reading)
        expect([[], whole]).toContainEqual(await readingAfterFailure)
        expect(await listRecords()).toEqual(whole)
      })

      it('serialises two concurrent read-increment-write writers so neither update is lost', async () => {
        await putRecords([record('counter', '0')])
        await Promise.all([increment(), increment()])
        expect((await getRecord('counter'))?.value).toBe('2')
      })

      it('loses no update among many concurrent writers, some of which fail', async () => {
        await putRecords([record('counter', '0')])
        const outcomes = await Promise.allSettled(
          Array.from({ length: 30 }, (_, i) => increment(i % 3 === 2)),
        )
        expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(10)
        expect((await getRecord('counter'))?.value).toBe('20')
      })

      it('does not start a write before the previous one has settled', async () => {
        const events: string[] = []
        const writer = (name: string) =>
          storage.write(async (tx) => {
            events.push(`${name} start`)
            await tx.getRecord(ID, DS, 'k')
            await pause(tx)
            await tx.putRecords(ID, DS, [record('k', name)])
            events.push(`${name} end`)
          })
        await Promise.all([writer('first'), writer('second')])
        expect([
          ['first start', 'first end', 'second start', 'second end'],
          ['second start', 'second end', 'first start', 'first end'],
        ]).toContainEqual(events)
      })

      /** Reads the counter, yields to other callers, writes counter + 1; a lost update shows in the total. */
      function increment(fail = false): Promise<void> {
        return storage.write(async (tx) => {
          const current = Number((await tx.getRecord(ID, DS, 'counter'))?.value ?? 'NaN')
          await pause(tx)
          await tx.putRecords(ID, DS, [record('counter', String(current + 1))])
          if (fail) throw new Error('rolled back after incrementing')
        })
      }
    })

    describe('closing', () => {
      it('rejects read and write with STORAGE_CLOSED after close, without running the callback', async () => {
        await putRecords([record('a', '1')])
        await storage.close()
        let ran = false
        await expectStorageClosed(
          storage.read(async () => {
            ran = true
          }),
          storage.name,
        )
        await expectStorageClosed(
          storage.write(async (tx) => {
            ran = true
            await tx.putRecords(ID, DS, [record('b', '2')])
          }),
          storage.name,
        )
        expect(ran).toBe(false)
      })

      it('rejects with STORAGE_CLOSED when a transaction is used after its callback settled, and applies nothing', async () => {
        const leaked: { write?: StorageWriteTx; failed?: StorageWriteTx; read?: StorageReadTx } = {}
        await storage.write(async (tx) => {
          leaked.write = tx
          await tx.putRecords(ID, DS, [record('kept', '1')])
        })
        await storage.read(async (tx) => {
          leaked.read = tx
        })
        const failure = new Error('rolled back')
        await expect(
          storage.write(async (tx) => {
            leaked.failed = tx
            throw failure
          }),
        ).rejects.toBe(failure)
        const { write, failed, read } = leaked
        if (write === undefined || failed === undefined || read === undefined)
          throw new Error('callbacks did not run')

        await expectStorageClosed(write.putRecords(ID, DS, [record('leaked', 'x')]), storage.name)
        await expectStorageClosed(write.deleteRecords(ID, DS, ['kept']), storage.name)
        await expectStorageClosed(write.getRecord(ID, DS, 'kept'), storage.name)
        await expectStorageClosed(failed.putDevice(device('GCM')), storage.name)
        await expectStorageClosed(read.listRecords(ID, DS), storage.name)
        // Nor may a stale transaction write into the one running now.
        await storage.write(async (tx) => {
          await expectStorageClosed(write.putRecords(ID, DS, [record('during', 'x')]), storage.name)
          await tx.putRecords(ID, DS, [record('current', '2')])
        })
        expect(await listRecords()).toEqual([record('current', '2'), record('kept', '1')])
        expect(await storage.read((tx) => tx.listDevices(ID))).toEqual([])
      })

      const reopen = fixture.reopen?.bind(fixture)
      if (reopen !== undefined) {
        it('keeps what was committed before close after reopening the same medium', async () => {
          await putDataset(meta('settings', { lastSyncCount: DELETE_PENDING }), meta('__proto__'))
          const records = [
            record('empty', ''),
            record('tombstone', null, { dirty: true }),
            ...SPECIAL_KEYS.map(([label, key]) => record(key, label, { syncCount: 2 })),
          ]
          await putRecords(records, 'settings')
          await putRecords([record('k', 'v')], '__proto__')
          await putDevice(device('WEBPUSH'), device('APNS_SANDBOX'))
          await expect(
            storage.write(async (tx) => {
              await tx.putRecords(ID, 'settings', [record('uncommitted', 'x')])
              throw new Error('rolled back')
            }),
          ).rejects.toThrow('rolled back')
          await storage.close()

          const reopened = await reopen()
          opened.push(reopened)
          expect(await reopened.read((tx) => snapshot(tx, [ID], ['settings', '__proto__']))).toEqual([
            {
              identityId: ID,
              datasets: [meta('__proto__'), meta('settings', { lastSyncCount: DELETE_PENDING })],
              records: [
                ['__proto__', [record('k', 'v')]],
                ['settings', sortByKey(records, (r) => r.key)],
              ],
              devices: [device('APNS_SANDBOX'), device('WEBPUSH')],
            },
          ])
        })
      }
    })

    describe('model', () => {
      const modelRuns = fixture.modelRuns
      const timing = modelRuns === undefined ? {} : { timeout: Math.max(60_000, modelRuns * 250) }
      it(
        'matches a simple model over random sequences of writes, failed writes included',
        timing,
        async () => {
          await fc.assert(
            fc.asyncProperty(fc.array(stepArbitrary, { maxLength: 20 }), async (steps) => {
              // Runs share the adapter; start each from an empty state for the identities it uses.
              await storage.write(async (tx) => {
                for (const identityId of MODEL_IDENTITIES) {
                  for (const name of MODEL_DATASETS) await tx.deleteDataset(identityId, name)
                  for (const platform of PLATFORMS) await tx.deleteDevice(identityId, platform)
                }
              })
              let model = emptyModel()
              expect(await storage.read(modelView)).toEqual(viewOf(model))
              for (const step of steps) {
                const next = step.ops.reduce(applyToModel, model)
                if (step.fails) {
                  const failure = new Error('rolled back')
                  const seen: { view?: ModelView } = {}
                  const writing = storage.write(async (tx) => {
                    for (const op of step.ops) await applyToStorage(tx, op)
                    seen.view = await modelView(tx)
                    throw failure
                  })
                  await expect(writing).rejects.toBe(failure)
                  expect(seen.view).toEqual(viewOf(next))
                } else {
                  const seen = await storage.write(async (tx) => {
                    for (const op of step.ops) await applyToStorage(tx, op)
                    return modelView(tx)
                  })
                  expect(seen).toEqual(viewOf(next))
                  model = next
                }
                expect(await storage.read(modelView)).toEqual(viewOf(model))
              }
            }),
            modelRuns === undefined ? {} : { numRuns: modelRuns },
          )
        },
      )
    })
  })
}

// --- Internal helpers ---

const ID = 'eu-west-1:00000000-0000-4000-8000-000000000001'
const OTHER_ID = 'eu-west-1:00000000-0000-4000-8000-000000000002'
const DS = 'settings'
const T0 = 1_700_000_000_000

/** Names every plain object answers to; a store keyed by an object would find them. */
const INHERITED_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']

const SPECIAL_KEYS: ReadonlyArray<readonly [label: string, key: string]> = [
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['toString', 'toString'],
  ['hasOwnProperty', 'hasOwnProperty'],
  ['U+200B (zero-width space)', '\u200B'],
  ['" " (one space)', ' '],
  ['U+0000 (NUL)', '\u0000'],
  ['U+0301 (a combining mark alone)', '\u0301'],
  ['U+1F600 (an emoji, a surrogate pair)', '\u{1F600}'],
  ['of 128 UTF-8 bytes (32 four-byte characters)', '\u{1F600}'.repeat(32)],
]

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-'

const SPECIAL_DATASET_NAMES: readonly string[] = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'a.b:c-d_e',
  // The longest name allowed, using every allowed character.
  Array.from({ length: 128 }, (_, i) => NAME_CHARS[i % NAME_CHARS.length]).join(''),
]

class CustomFailure {
  readonly reason = 'not an Error at all'
}

const FAILURES: ReadonlyArray<readonly [label: string, make: () => unknown]> = [
  ['an Error', () => new Error('callback failed')],
  ['a SyncError', () => new SyncError('CONFLICT_UNRESOLVED', 'callback gave up')],
  ['a value that is not an Error', () => new CustomFailure()],
]

function record(key: string, value: string | null, overrides: Partial<SyncRecord> = {}): SyncRecord {
  return {
    key,
    value,
    syncCount: 1,
    lastModifiedDate: T0,
    lastModifiedBy: 'device-a',
    deviceLastModifiedDate: T0,
    dirty: false,
    ...overrides,
  }
}

function meta(name: string, overrides: Partial<DatasetMeta> = {}): DatasetMeta {
  return {
    identityId: ID,
    name,
    lastSyncCount: 0,
    creationDate: T0,
    lastModifiedDate: T0,
    lastModifiedBy: null,
    lastSyncDate: 0,
    ...overrides,
  }
}

function device(platform: Platform, overrides: Partial<DeviceRegistration> = {}): DeviceRegistration {
  return {
    identityId: ID,
    platform,
    deviceId: `device-of-${platform}`,
    token: `token-of-${platform}`,
    ...overrides,
  }
}

/** The contract's order: UTF-16 code units, which is what `<` compares. */
function sortByKey<T>(items: readonly T[], by: (item: T) => string): T[] {
  return [...items].sort((a, b) => (by(a) < by(b) ? -1 : by(a) > by(b) ? 1 : 0))
}

/**
 * Yields inside a transaction by awaiting the transaction itself: other callers' work gets to run
 * meanwhile, so unserialised writers would interleave. Transactions may only await their own
 * methods (IndexedDB ends a transaction that waits on anything else), so the suite does the same.
 */
async function pause(tx: StorageReadTx): Promise<void> {
  await tx.listDatasets('pause')
  await tx.listDatasets('pause')
}

async function closeOnce(adapter: StorageAdapter): Promise<void> {
  try {
    await adapter.close()
  } catch (error) {
    // A test may have closed it already; a second close may reject, and that is fine.
    if (!isSyncError(error, 'STORAGE_CLOSED')) throw error
  }
}

async function expectStorageClosed(promise: Promise<unknown>, adapterName: string): Promise<void> {
  let error: unknown
  try {
    await promise
  } catch (caught) {
    error = caught
  }
  expect(
    isSyncError(error, 'STORAGE_CLOSED'),
    `expected a STORAGE_CLOSED SyncError, got ${String(error)}`,
  ).toBe(true)
  expect((error as SyncError).adapter).toBe(adapterName)
}

interface View {
  readonly identityId: string
  readonly datasets: DatasetMeta[]
  /** Dataset name → records. Pairs rather than an object, since dataset names include `__proto__`. */
  readonly records: Array<readonly [string, SyncRecord[]]>
  readonly devices: DeviceRegistration[]
}

/** Everything stored for the identities: their datasets, the records of the named ones, registrations. */
async function snapshot(
  tx: StorageReadTx,
  identities: readonly string[],
  datasets: readonly string[],
): Promise<View[]> {
  const views: View[] = []
  for (const identityId of identities) {
    const metas = await tx.listDatasets(identityId)
    const names = sortByKey([...new Set([...datasets, ...metas.map((m) => m.name)])], (n) => n)
    const records: Array<readonly [string, SyncRecord[]]> = []
    for (const name of names) records.push([name, await tx.listRecords(identityId, name)])
    views.push({ identityId, datasets: metas, records, devices: await tx.listDevices(identityId) })
  }
  return views
}

// --- The model of the property test ---

const MODEL_IDENTITIES = [
  'eu-west-1:00000000-0000-4000-8000-00000000000a',
  'eu-west-1:00000000-0000-4000-8000-00000000000b',
]
const MODEL_DATASETS = ['settings', '__proto__', 'a.b']
const MODEL_KEYS = ['a', 'b', '__proto__', 'constructor', '\u0301', '\u{1F600}']

type ModelOp =
  | {
      readonly kind: 'putRecords'
      readonly identity: number
      readonly dataset: string
      readonly records: SyncRecord[]
    }
  | {
      readonly kind: 'deleteRecords'
      readonly identity: number
      readonly dataset: string
      readonly keys: string[]
    }
  | {
      readonly kind: 'putDataset'
      readonly identity: number
      readonly dataset: string
      readonly lastSyncCount: number
    }
  | { readonly kind: 'deleteDataset'; readonly identity: number; readonly dataset: string }
  | {
      readonly kind: 'putDevice'
      readonly identity: number
      readonly platform: Platform
      readonly token: string
    }
  | { readonly kind: 'deleteDevice'; readonly identity: number; readonly platform: Platform }

interface Step {
  readonly ops: readonly ModelOp[]
  /** The write's callback throws after its ops, so none of them may stay. */
  readonly fails: boolean
}

const identityArbitrary = fc.integer({ min: 0, max: MODEL_IDENTITIES.length - 1 })
const datasetArbitrary = fc.constantFrom(...MODEL_DATASETS)
const keyArbitrary = fc.constantFrom(...MODEL_KEYS)
const platformArbitrary = fc.constantFrom(...PLATFORMS)

const recordArbitrary = fc
  .record({
    key: keyArbitrary,
    // Tombstones, empty strings and short Unicode values.
    value: fc.oneof(fc.constant(null), fc.constant(''), fc.string({ unit: 'grapheme', maxLength: 3 })),
    syncCount: fc.nat({ max: 5 }),
    lastModifiedBy: fc.constantFrom(null, 'device-a'),
    deviceLastModifiedDate: fc.constantFrom(0, T0, T0 + 1),
    dirty: fc.boolean(),
  })
  .map(({ key, value, ...rest }) => record(key, value, rest))

const opArbitrary: fc.Arbitrary<ModelOp> = fc.oneof(
  fc.record({
    kind: fc.constant('putRecords' as const),
    identity: identityArbitrary,
    dataset: datasetArbitrary,
    // Unique keys: which of two records with one key in one call wins is not part of the contract.
    records: fc.uniqueArray(recordArbitrary, { minLength: 1, maxLength: 3, selector: (r) => r.key }),
  }),
  fc.record({
    kind: fc.constant('deleteRecords' as const),
    identity: identityArbitrary,
    dataset: datasetArbitrary,
    keys: fc.array(keyArbitrary, { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('putDataset' as const),
    identity: identityArbitrary,
    dataset: datasetArbitrary,
    lastSyncCount: fc.integer({ min: DELETE_PENDING, max: 5 }),
  }),
  fc.record({
    kind: fc.constant('deleteDataset' as const),
    identity: identityArbitrary,
    dataset: datasetArbitrary,
  }),
  fc.record({
    kind: fc.constant('putDevice' as const),
    identity: identityArbitrary,
    platform: platformArbitrary,
    token: fc.constantFrom('t1', 't2'),
  }),
  fc.record({
    kind: fc.constant('deleteDevice' as const),
    identity: identityArbitrary,
    platform: platformArbitrary,
  }),
)

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  ops: fc.array(opArbitrary, { minLength: 1, maxLength: 4 }),
  fails: fc.boolean(),
})

/** Flat lists replaced on every change: slower than maps, and too simple to share the adapter's bugs. */
interface Model {
  readonly datasets: readonly DatasetMeta[]
  readonly records: ReadonlyArray<{
    readonly identityId: string
    readonly dataset: string
    readonly record: SyncRecord
  }>
  readonly devices: readonly DeviceRegistration[]
}

function emptyModel(): Model {
  return { datasets: [], records: [], devices: [] }
}

function applyToModel(model: Model, op: ModelOp): Model {
  const identityId = identityOf(op.identity)
  switch (op.kind) {
    case 'putRecords': {
      const keys = new Set(op.records.map((r) => r.key))
      const kept = model.records.filter(
        (row) => !(row.identityId === identityId && row.dataset === op.dataset && keys.has(row.record.key)),
      )
      return {
        ...model,
        records: [...kept, ...op.records.map((r) => ({ identityId, dataset: op.dataset, record: r }))],
      }
    }
    case 'deleteRecords':
      return {
        ...model,
        records: model.records.filter(
          (row) =>
            !(
              row.identityId === identityId &&
              row.dataset === op.dataset &&
              op.keys.includes(row.record.key)
            ),
        ),
      }
    case 'putDataset':
      return {
        ...model,
        datasets: [
          ...model.datasets.filter((m) => !(m.identityId === identityId && m.name === op.dataset)),
          meta(op.dataset, { identityId, lastSyncCount: op.lastSyncCount }),
        ],
      }
    case 'deleteDataset':
      return {
        datasets: model.datasets.filter((m) => !(m.identityId === identityId && m.name === op.dataset)),
        records: model.records.filter(
          (row) => !(row.identityId === identityId && row.dataset === op.dataset),
        ),
        devices: model.devices,
      }
    case 'putDevice':
      return {
        ...model,
        devices: [
          ...model.devices.filter((d) => !(d.identityId === identityId && d.platform === op.platform)),
          device(op.platform, { identityId, token: op.token }),
        ],
      }
    case 'deleteDevice':
      return {
        ...model,
        devices: model.devices.filter((d) => !(d.identityId === identityId && d.platform === op.platform)),
      }
  }
}

async function applyToStorage(tx: StorageWriteTx, op: ModelOp): Promise<void> {
  const identityId = identityOf(op.identity)
  switch (op.kind) {
    case 'putRecords':
      return tx.putRecords(identityId, op.dataset, op.records)
    case 'deleteRecords':
      return tx.deleteRecords(identityId, op.dataset, op.keys)
    case 'putDataset':
      return tx.putDataset(meta(op.dataset, { identityId, lastSyncCount: op.lastSyncCount }))
    case 'deleteDataset':
      return tx.deleteDataset(identityId, op.dataset)
    case 'putDevice':
      return tx.putDevice(device(op.platform, { identityId, token: op.token }))
    case 'deleteDevice':
      return tx.deleteDevice(identityId, op.platform)
  }
}

function identityOf(index: number): string {
  const identityId = MODEL_IDENTITIES[index]
  if (identityId === undefined) throw new Error(`no model identity ${index}`)
  return identityId
}

interface ModelView {
  readonly contents: View[]
  /** `[identity, dataset, dirty records]` for every identity and dataset of the model. */
  readonly dirty: Array<readonly [string, string, SyncRecord[]]>
}

async function modelView(tx: StorageReadTx): Promise<ModelView> {
  const dirty: Array<readonly [string, string, SyncRecord[]]> = []
  for (const identityId of MODEL_IDENTITIES) {
    for (const name of MODEL_DATASETS) {
      dirty.push([identityId, name, await tx.listRecords(identityId, name, { dirtyOnly: true })])
    }
  }
  return { contents: await snapshot(tx, MODEL_IDENTITIES, MODEL_DATASETS), dirty }
}

function viewOf(model: Model): ModelView {
  const contents = MODEL_IDENTITIES.map((identityId) => ({
    identityId,
    datasets: sortByKey(
      model.datasets.filter((m) => m.identityId === identityId),
      (m) => m.name,
    ),
    records: sortByKey(MODEL_DATASETS, (n) => n).map(
      (name) =>
        [
          name,
          sortByKey(
            model.records
              .filter((row) => row.identityId === identityId && row.dataset === name)
              .map((row) => row.record),
            (r) => r.key,
          ),
        ] as const,
    ),
    devices: sortByKey(
      model.devices.filter((d) => d.identityId === identityId),
      (d) => d.platform,
    ),
  }))
  const dirty = MODEL_IDENTITIES.flatMap((identityId) =>
    MODEL_DATASETS.map((name) => {
      const rows = contents
        .find((view) => view.identityId === identityId)
        ?.records.find(([n]) => n === name)?.[1]
      return [identityId, name, (rows ?? []).filter((r) => r.dirty)] as const
    }),
  )
  return { contents, dirty }
}
