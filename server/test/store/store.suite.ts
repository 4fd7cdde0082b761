import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type {
  DatasetRow,
  DevicePlatform,
  DeviceRow,
  IdentityRow,
  OutboxRow,
  PoolRow,
  RecordCursor,
  RecordRow,
  StoreTx,
  SyncStore,
} from '../../src/store/contract.js'

/**
 * The store contract, run against every implementation. Strings order by code point (UTF-8 byte
 * order), the order SQLite's BINARY and PostgreSQL's "C" collation give, so every store pages
 * through the same sequence.
 */
export function runStoreConformance(name: string, open: () => Promise<SyncStore>): void {
  describe(`${name} store`, () => {
    let store: SyncStore
    beforeEach(async () => {
      store = await open()
    })
    afterEach(async () => {
      await store.close()
    })
    const tx = <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => store.transaction(fn)

    describe('readiness', () => {
      it('is ready while open, also during a transaction, and not once closed', async () => {
        expect(await store.readiness()).toEqual({ ready: true })
        let release = () => {}
        let inside = () => {}
        const entered = new Promise<void>((resolve) => {
          inside = resolve
        })
        const held = tx(async (t) => {
          await t.putSetting('held', 'yes')
          await new Promise<void>((resolve) => {
            release = resolve
            inside()
          })
        })
        await entered
        // A probe does not wait behind a transaction in progress.
        expect(await store.readiness()).toEqual({ ready: true })
        release()
        await held
        await store.close()
        const closed = await store.readiness()
        expect(closed.ready).toBe(false)
        expect(closed).toMatchObject({ reason: expect.stringMatching(/closed/) })
      })
    })

    describe('settings', () => {
      it('round-trips and replaces values, with odd names and empty values', async () => {
        expect(await tx((t) => t.getSetting('missing'))).toBeUndefined()
        await tx(async (t) => {
          for (const [i, n] of ODD.entries()) await t.putSetting(n, `value ${i}`)
          await t.putSetting('empty', '')
        })
        await tx((t) => t.putSetting('constructor', 'replaced'))
        for (const [i, n] of ODD.entries()) {
          expect(await tx((t) => t.getSetting(n))).toBe(n === 'constructor' ? 'replaced' : `value ${i}`)
        }
        expect(await tx((t) => t.getSetting('empty'))).toBe('')
        // A read made to be written back reads the same.
        expect(await tx((t) => t.getSetting('empty', { forUpdate: true }))).toBe('')
        expect(await tx((t) => t.getSetting('missing', { forUpdate: true }))).toBeUndefined()
      })
    })

    describe('identities and logins', () => {
      it('round-trips identities, with and without mergedInto, and replaces them', async () => {
        const plain = identity('__proto__')
        const merged = identity('merged', { mergedInto: 'constructor', createdAt: 7 })
        await tx(async (t) => {
          await t.putIdentity(plain)
          await t.putIdentity(merged)
        })
        expect(await tx((t) => t.getIdentity('__proto__'))).toEqual(plain)
        expect(await tx((t) => t.getIdentity('merged'))).toEqual(merged)
        expect(await tx((t) => t.getIdentity('missing'))).toBeUndefined()
        const replaced = identity('__proto__', {
          identityPoolId: 'other',
          createdAt: 9,
          mergedInto: 'merged',
        })
        await tx((t) => t.putIdentity(replaced))
        expect(await tx((t) => t.getIdentity('__proto__'))).toEqual(replaced)
      })

      it('finds logins by pool, provider and subject together, and replaces them', async () => {
        const row = { identityPoolId: POOL, provider: 'https://issuer', subject: '__proto__', identityId: ID }
        await tx((t) => t.putLogin(row))
        expect(await tx((t) => t.findLogin(POOL, 'https://issuer', '__proto__'))).toEqual(row)
        expect(await tx((t) => t.findLogin('other', 'https://issuer', '__proto__'))).toBeUndefined()
        expect(await tx((t) => t.findLogin(POOL, 'https://other', '__proto__'))).toBeUndefined()
        expect(await tx((t) => t.findLogin(POOL, 'https://issuer', 'constructor'))).toBeUndefined()
        await tx((t) => t.putLogin({ ...row, identityId: OTHER_ID }))
        expect(await tx((t) => t.findLogin(POOL, 'https://issuer', '__proto__'))).toEqual({
          ...row,
          identityId: OTHER_ID,
        })
      })

      it('lists the pools that have identities, in order, and pages through them', async () => {
        const pools = ['pool-3', 'pool-1', '__proto__', 'Pool-0', 'pool-2', '\uffff', '😀']
        await tx(async (t) => {
          for (const [i, pool] of [...pools, 'pool-1', 'pool-3'].entries()) {
            await t.putIdentity(identity(`identity-${i}`, { identityPoolId: pool }))
          }
          // A pool row alone does not make a pool listed: identities do.
          await t.putPool(poolRow('pool-without-identities'))
        })
        const expected = sortStrings(pools)
        expect(expected[0]).toBe('Pool-0')
        expect(await tx((t) => t.listPoolIds({}))).toEqual(expected)
        expect(await tx((t) => t.listPoolIds({ limit: 0 }))).toEqual([])
        for (const limit of [1, 2, 3, 7, 8]) {
          const seen = await pageThrough(
            limit,
            expected.length,
            (afterPoolId: string | undefined) =>
              tx((t) => t.listPoolIds(afterPoolId === undefined ? { limit } : { afterPoolId, limit })),
            (last) => last,
          )
          expect(seen).toEqual(expected)
        }
        expect(await tx((t) => t.listPoolIds({ afterPoolId: 'pool-1' }))).toEqual([
          'pool-2',
          'pool-3',
          '\uffff',
          '😀',
        ])
        expect(await tx((t) => t.poolHasIdentities('__proto__'))).toBe(true)
        expect(await tx((t) => t.poolHasIdentities('pool-without-identities'))).toBe(false)
        expect(await tx((t) => t.poolHasIdentities('missing'))).toBe(false)
      })
    })

    describe('datasets', () => {
      it('round-trips datasets with null and set fields, and odd names', async () => {
        const rows = ODD.map((n, i) =>
          dataset({
            name: n,
            syncCount: i,
            exists: i % 2 === 0,
            deletedAtSyncCount: i % 3,
            creationDate: 1000 + i,
            lastModifiedDate: 2000 + i,
            lastModifiedBy: i % 2 === 0 ? null : `device ${n}`,
            numRecords: i * 2,
            dataStorage: i * 100,
            mergedInto: i % 3 === 0 ? null : n,
          }),
        )
        await tx(async (t) => {
          for (const row of rows) await t.putDataset(row)
        })
        for (const row of rows) expect(await tx((t) => t.getDataset(ID, row.name))).toEqual(row)
        expect(await tx((t) => t.getDataset(ID, 'missing'))).toBeUndefined()
        expect(await tx((t) => t.getDataset(OTHER_ID, ODD[0] ?? ''))).toBeUndefined()
      })

      it('replaces every field of a dataset on put', async () => {
        const first = dataset({ name: 'ds', mergedInto: 'x', lastModifiedBy: 'a', exists: true })
        const second: DatasetRow = {
          identityPoolId: 'other-pool',
          identityId: ID,
          name: 'ds',
          syncCount: 12,
          exists: false,
          deletedAtSyncCount: 11,
          creationDate: 5,
          lastModifiedDate: 6,
          lastModifiedBy: null,
          numRecords: 3,
          dataStorage: 4,
          mergedInto: null,
        }
        await tx((t) => t.putDataset(first))
        await tx((t) => t.putDataset(second))
        expect(await tx((t) => t.getDataset(ID, 'ds'))).toEqual(second)
        await tx((t) => t.putDataset(first))
        expect(await tx((t) => t.getDataset(ID, 'ds'))).toEqual(first)
      })

      it('lists existing datasets in name order and pages through them', async () => {
        const names = [...ODD, 'B', 'a', 'a\u0000', 'ab']
        await tx(async (t) => {
          for (const [i, n] of names.entries()) await t.putDataset(dataset({ name: n, exists: i % 3 !== 1 }))
          await t.putDataset(dataset({ identityId: OTHER_ID, name: 'other identity' }))
        })
        const expected = sortStrings(names.filter((_, i) => i % 3 !== 1))
        const all = await tx((t) => t.listDatasets(ID))
        expect(all.map((d) => d.name)).toEqual(expected)
        expect(all.every((d) => d.exists && d.identityId === ID)).toBe(true)
        expect(await tx((t) => t.listDatasets(ID, { limit: 0 }))).toEqual([])
        expect(await tx((t) => t.listDatasets('nobody'))).toEqual([])
        for (const limit of [1, 2, 5, expected.length, expected.length + 1]) {
          const seen = await pageThrough(
            limit,
            expected.length,
            (afterName: string | undefined) =>
              tx((t) => t.listDatasets(ID, afterName === undefined ? { limit } : { afterName, limit })),
            (last) => last.name,
          )
          expect(seen.map((d) => d.name)).toEqual(expected)
        }
        // A cursor need not be an existing name.
        const afterA = await tx((t) => t.listDatasets(ID, { afterName: 'a' }))
        expect(afterA.map((d) => d.name)).toEqual(expected.filter((n) => compareStrings(n, 'a') > 0))
      })

      it('lists the existing datasets of a pool in (identityId, name) order and pages through them', async () => {
        const places: [string, string][] = [
          [ID, 'b'],
          [ID, 'a'],
          [OTHER_ID, 'a'],
          ['__proto__', 'constructor'],
          ['a', 'b.c'],
          ['a.b', 'c'],
          ['😀', 'a'],
          ['\uffff', 'a'],
          ['B', 'z'],
        ]
        await tx(async (t) => {
          for (const [identityId, n] of places) await t.putDataset(dataset({ identityId, name: n }))
          await t.putDataset(dataset({ name: 'gone', exists: false }))
          await t.putDataset(dataset({ identityId: 'c', identityPoolId: 'pool-2', name: 'ds' }))
        })
        const expected = [...places].sort(
          ([i1, n1], [i2, n2]) => compareStrings(i1, i2) || compareStrings(n1, n2),
        )
        const pairs = (rows: readonly DatasetRow[]) =>
          rows.map((d): [string, string] => [d.identityId, d.name])
        const all = await tx((t) => t.listPoolDatasets(POOL, {}))
        expect(pairs(all)).toEqual(expected)
        expect(all[0]).toEqual(dataset({ identityId: 'B', name: 'z' }))
        expect(await tx((t) => t.listPoolDatasets(POOL, { limit: 0 }))).toEqual([])
        expect(pairs(await tx((t) => t.listPoolDatasets('pool-2', {})))).toEqual([['c', 'ds']])
        expect(await tx((t) => t.listPoolDatasets('none', {}))).toEqual([])
        for (const limit of [1, 2, 4, expected.length, expected.length + 1]) {
          const seen = await pageThrough(
            limit,
            expected.length,
            (after: { identityId: string; name: string } | undefined) =>
              tx((t) => t.listPoolDatasets(POOL, after === undefined ? { limit } : { after, limit })),
            (last) => ({ identityId: last.identityId, name: last.name }),
          )
          expect(pairs(seen)).toEqual(expected)
        }
        // A cursor need not be an existing dataset.
        const rest = await tx((t) => t.listPoolDatasets(POOL, { after: { identityId: 'a', name: 'b' } }))
        expect(pairs(rest)).toEqual(expected.slice(expected.findIndex(([i]) => i === 'a')))
      })

      it('lists the existing datasets merged into a name, in name order', async () => {
        await tx(async (t) => {
          await t.putDataset(dataset({ name: 'game' }))
          await t.putDataset(dataset({ name: 'game.old1', mergedInto: 'game' }))
          await t.putDataset(dataset({ name: 'game.old0', mergedInto: 'game' }))
          await t.putDataset(dataset({ name: 'game.old2', mergedInto: 'game', exists: false }))
          await t.putDataset(dataset({ name: 'other.old3', mergedInto: 'other' }))
          await t.putDataset(dataset({ identityId: OTHER_ID, name: 'x', mergedInto: 'game' }))
        })
        expect(await tx((t) => t.listMergedDatasetNames(ID, 'game'))).toEqual(['game.old0', 'game.old1'])
        expect(await tx((t) => t.listMergedDatasetNames(ID, 'other'))).toEqual(['other.old3'])
        expect(await tx((t) => t.listMergedDatasetNames(ID, 'none'))).toEqual([])
      })

      it('sums usage over the existing datasets of an identity or a pool', async () => {
        const empty = { datasetCount: 0, dataStorage: 0, lastModifiedDate: null }
        expect(await tx((t) => t.identityUsage(ID))).toEqual(empty)
        expect(await tx((t) => t.poolUsage(POOL))).toEqual(empty)
        await tx(async (t) => {
          await t.putDataset(dataset({ name: 'd1', dataStorage: 10, lastModifiedDate: 100 }))
          await t.putDataset(dataset({ name: 'd2', dataStorage: 5, lastModifiedDate: 300 }))
          await t.putDataset(dataset({ name: 'd3', dataStorage: 1000, lastModifiedDate: 900, exists: false }))
          await t.putDataset(
            dataset({ identityId: OTHER_ID, name: 'd1', dataStorage: 7, lastModifiedDate: 200 }),
          )
          await t.putDataset(
            dataset({
              identityId: 'c',
              identityPoolId: 'pool-2',
              name: 'd1',
              dataStorage: 99,
              lastModifiedDate: 999,
            }),
          )
          await t.putDataset(dataset({ identityId: 'gone', name: 'd', dataStorage: 3, exists: false }))
        })
        expect(await tx((t) => t.identityUsage(ID))).toEqual({
          datasetCount: 2,
          dataStorage: 15,
          lastModifiedDate: 300,
        })
        expect(await tx((t) => t.identityUsage(OTHER_ID))).toEqual({
          datasetCount: 1,
          dataStorage: 7,
          lastModifiedDate: 200,
        })
        expect(await tx((t) => t.identityUsage('gone'))).toEqual(empty)
        expect(await tx((t) => t.poolUsage(POOL))).toEqual({
          datasetCount: 3,
          dataStorage: 22,
          lastModifiedDate: 300,
        })
        expect(await tx((t) => t.poolUsage('pool-2'))).toEqual({
          datasetCount: 1,
          dataStorage: 99,
          lastModifiedDate: 999,
        })
        expect(await tx((t) => t.poolUsage('none'))).toEqual(empty)
      })
    })

    describe('records', () => {
      it('round-trips odd keys and values, tombstones and null fields', async () => {
        const values = [null, '', 'plain', '\u0000', '😀 emoji', '__proto__', 'x'.repeat(5000)]
        const rows = ODD.map((key, i) =>
          record(key, {
            value: values[i % values.length] ?? null,
            syncCount: i + 1,
            lastModifiedDate: 3000 + i,
            lastModifiedBy: i % 2 === 0 ? null : `device ${key}`,
            deviceLastModifiedDate: i % 3 === 0 ? null : 4000 + i,
          }),
        )
        await tx((t) => t.putRecords(ID, '__proto__', rows))
        const got = await tx((t) => t.getRecords(ID, '__proto__', ODD))
        expect(byKey(got)).toEqual(byKey(rows))
        expect(await tx((t) => t.listRecords(ID, '__proto__', { afterSyncCount: 0 }))).toEqual(rows)
        const tombstone = got.find((r) => r.key === ODD[0])
        expect(tombstone?.value).toBeNull()
      })

      it('gets only the keys asked for that exist, once each', async () => {
        await tx((t) => t.putRecords(ID, 'ds', [record('a'), record('b', { value: null }), record('c')]))
        const got = await tx((t) => t.getRecords(ID, 'ds', ['b', 'missing', 'a', 'b', 'constructor']))
        expect(byKey(got)).toEqual([record('a'), record('b', { value: null })])
        expect(await tx((t) => t.getRecords(ID, 'ds', []))).toEqual([])
        expect(await tx((t) => t.getRecords(ID, 'missing', ['a']))).toEqual([])
      })

      it('replaces records on put, tombstones included', async () => {
        await tx((t) => t.putRecords(ID, 'ds', [record('a', { value: 'one', deviceLastModifiedDate: 5 })]))
        const tombstone = record('a', {
          value: null,
          syncCount: 2,
          lastModifiedBy: null,
          deviceLastModifiedDate: null,
        })
        await tx((t) => t.putRecords(ID, 'ds', [tombstone]))
        expect(await tx((t) => t.getRecords(ID, 'ds', ['a']))).toEqual([tombstone])
        const revived = record('a', {
          value: '',
          syncCount: 3,
          lastModifiedBy: 'dev',
          deviceLastModifiedDate: 9,
        })
        await tx((t) => t.putRecords(ID, 'ds', [revived]))
        expect(await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0 }))).toEqual([revived])
      })

      it('lists records in (syncCount, key) code point order above afterSyncCount', async () => {
        const rows = [
          record('b', { syncCount: 3 }),
          record('😀', { syncCount: 1 }),
          record('\uffff', { syncCount: 1 }),
          record('a\u0000', { syncCount: 1 }),
          record('a', { syncCount: 1 }),
          record('B', { syncCount: 1, value: null }),
          record('a', { syncCount: 2 }),
        ]
        await tx((t) => t.putRecords(ID, 'ds', rows.slice(0, 6)))
        await tx((t) => t.putRecords(ID, 'other', [rows[6] ?? record('a')]))
        const keys = async (afterSyncCount: number) =>
          (await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount }))).map((r) => `${r.syncCount}:${r.key}`)
        // UTF-16 order would put the emoji's surrogates before U+FFFF; code point order does not.
        expect(await keys(0)).toEqual(['1:B', '1:a', '1:a\u0000', '1:\uffff', '1:😀', '3:b'])
        expect(await keys(1)).toEqual(['3:b'])
        expect(await keys(3)).toEqual([])
        expect(await tx((t) => t.listRecords(ID, 'missing', { afterSyncCount: 0 }))).toEqual([])
      })

      it('pages through records with the after cursor and limit, visiting each exactly once', async () => {
        const rows = Array.from({ length: 40 }, (_, i) =>
          record(`k${(i * 7) % 40}`, { syncCount: (i % 5) + 1, value: i % 4 === 0 ? null : `v${i}` }),
        )
        await tx((t) => t.putRecords(ID, 'ds', rows))
        for (const afterSyncCount of [0, 2, 5]) {
          const expected = sortRecords(rows.filter((r) => r.syncCount > afterSyncCount))
          expect(await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount }))).toEqual(expected)
          for (const limit of [1, 3, 8, 40, 41]) {
            const seen = await pageThrough(
              limit,
              expected.length,
              (after: RecordCursor | undefined) =>
                tx((t) =>
                  t.listRecords(
                    ID,
                    'ds',
                    after === undefined ? { afterSyncCount, limit } : { afterSyncCount, after, limit },
                  ),
                ),
              cursorOf,
            )
            expect(seen).toEqual(expected)
          }
        }
        // A cursor below the floor does not lift it.
        const floor = await tx((t) =>
          t.listRecords(ID, 'ds', { afterSyncCount: 3, after: { syncCount: 1, key: 'z' } }),
        )
        expect(floor).toEqual(sortRecords(rows.filter((r) => r.syncCount > 3)))
        // A cursor need not be an existing record.
        const mid = await tx((t) =>
          t.listRecords(ID, 'ds', { afterSyncCount: 0, after: { syncCount: 2, key: 'k2' } }),
        )
        expect(mid).toEqual(
          sortRecords(rows).filter((r) => r.syncCount > 2 || (r.syncCount === 2 && r.key > 'k2')),
        )
        expect(await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0, limit: 0 }))).toEqual([])
      })

      it('lists a large dataset whole when no limit is given', async () => {
        const rows = Array.from({ length: 1100 }, (_, i) =>
          record(`key-${String(i).padStart(4, '0')}`, { syncCount: 1 }),
        )
        await tx((t) => t.putRecords(ID, 'big', rows))
        expect(await tx((t) => t.listRecords(ID, 'big', { afterSyncCount: 0 }))).toEqual(rows)
      })

      it('deletes all records of one dataset, tombstones included', async () => {
        await tx(async (t) => {
          await t.putRecords(ID, 'ds', [record('a'), record('b', { value: null })])
          await t.putRecords(ID, 'kept', [record('a')])
          await t.putRecords(OTHER_ID, 'ds', [record('a')])
        })
        await tx((t) => t.deleteAllRecords(ID, 'ds'))
        expect(await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0 }))).toEqual([])
        expect(await tx((t) => t.getRecords(ID, 'ds', ['a', 'b']))).toEqual([])
        expect(await tx((t) => t.listRecords(ID, 'kept', { afterSyncCount: 0 }))).toEqual([record('a')])
        expect(await tx((t) => t.listRecords(OTHER_ID, 'ds', { afterSyncCount: 0 }))).toEqual([record('a')])
        await tx((t) => t.deleteAllRecords(ID, 'missing'))
        await tx((t) => t.putRecords(ID, 'ds', [record('c')]))
        expect(await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0 }))).toEqual([record('c')])
      })

      it('moves records to another identity and name, replacing same keys there', async () => {
        const moved = [
          record('a', { value: 'from', syncCount: 4 }),
          record('b', { value: null, syncCount: 5 }),
        ]
        await tx(async (t) => {
          await t.putRecords(OTHER_ID, 'game', moved)
          await t.putRecords(OTHER_ID, 'kept', [record('z')])
          await t.putRecords(ID, 'game.old', [record('a', { value: 'to' }), record('c', { value: 'stays' })])
        })
        await tx((t) =>
          t.moveRecords({ identityId: OTHER_ID, dataset: 'game' }, { identityId: ID, dataset: 'game.old' }),
        )
        expect(await tx((t) => t.listRecords(OTHER_ID, 'game', { afterSyncCount: 0 }))).toEqual([])
        expect(await tx((t) => t.listRecords(OTHER_ID, 'kept', { afterSyncCount: 0 }))).toEqual([record('z')])
        expect(byKey(await tx((t) => t.listRecords(ID, 'game.old', { afterSyncCount: 0 })))).toEqual(
          byKey([...moved, record('c', { value: 'stays' })]),
        )
        // The source is empty afterwards: writing it again starts afresh.
        await tx((t) => t.putRecords(OTHER_ID, 'game', [record('new')]))
        expect(await tx((t) => t.listRecords(OTHER_ID, 'game', { afterSyncCount: 0 }))).toEqual([
          record('new'),
        ])
      })

      it('keeps the records when moving a dataset onto itself, and moves nothing from an empty one', async () => {
        await tx((t) => t.putRecords(ID, 'ds', [record('a')]))
        await tx((t) => t.moveRecords({ identityId: ID, dataset: 'ds' }, { identityId: ID, dataset: 'ds' }))
        expect(await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0 }))).toEqual([record('a')])
        await tx((t) => t.moveRecords({ identityId: ID, dataset: 'none' }, { identityId: ID, dataset: 'ds' }))
        expect(await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0 }))).toEqual([record('a')])
      })

      it('keeps identities and datasets apart, whatever characters their names contain', async () => {
        const pairs: [string, string][] = [
          [ID, 'ds'],
          [ID, 'ds2'],
          [OTHER_ID, 'ds'],
          ['a', 'b.c'],
          ['a.b', 'c'],
          ['a', 'b/c'],
          ['a/b', 'c'],
          ['a', '\u0000c'],
          ['a\u0000', 'c'],
          ['a', '","c'],
          ['a","', 'c'],
          ['__proto__', 'constructor'],
        ]
        await tx(async (t) => {
          for (const [i, [id, ds]] of pairs.entries()) {
            await t.putRecords(id, ds, [record('same', { value: `${i}` }), record(`only ${i}`)])
            await t.putDataset(dataset({ identityId: id, name: ds, syncCount: i }))
          }
        })
        for (const [i, [id, ds]] of pairs.entries()) {
          const rows = await tx((t) => t.listRecords(id, ds, { afterSyncCount: 0 }))
          expect(rows).toEqual(sortRecords([record('same', { value: `${i}` }), record(`only ${i}`)]))
          expect((await tx((t) => t.getDataset(id, ds)))?.syncCount).toBe(i)
        }
        expect((await tx((t) => t.listDatasets('a'))).map((d) => d.name)).toEqual([
          '\u0000c',
          '","c',
          'b.c',
          'b/c',
        ])
        await tx((t) => t.deleteAllRecords('a', 'b.c'))
        expect(await tx((t) => t.listRecords('a.b', 'c', { afterSyncCount: 0 }))).toHaveLength(2)
      })
    })

    describe('devices and subscriptions', () => {
      it('round-trips devices of every platform, by id and by identity, platform and token', async () => {
        const platforms: DevicePlatform[] = ['APNS', 'APNS_SANDBOX', 'GCM', 'ADM', 'WEBPUSH']
        const rows = platforms.map((platform, i) =>
          device(i === 0 ? '__proto__' : `device-${i}`, { platform }),
        )
        await tx(async (t) => {
          for (const row of rows) await t.putDevice(row)
        })
        for (const row of rows) {
          expect(await tx((t) => t.getDevice(row.deviceId))).toEqual(row)
          expect(await tx((t) => t.findDevice(ID, row.platform, row.token))).toEqual(row)
        }
        expect(await tx((t) => t.getDevice('missing'))).toBeUndefined()
        expect(await tx((t) => t.findDevice(OTHER_ID, 'APNS', 'token'))).toBeUndefined()
        expect(await tx((t) => t.findDevice(ID, 'APNS', 'other-token'))).toBeUndefined()
      })

      it('replaces a device, so it is found by its new token only', async () => {
        await tx((t) => t.putDevice(device('d1', { token: 'old' })))
        const replaced = device('d1', { token: 'new', platform: 'GCM', createdAt: 99 })
        await tx((t) => t.putDevice(replaced))
        expect(await tx((t) => t.getDevice('d1'))).toEqual(replaced)
        expect(await tx((t) => t.findDevice(ID, 'GCM', 'new'))).toEqual(replaced)
        expect(await tx((t) => t.findDevice(ID, 'APNS', 'old'))).toBeUndefined()
        // The old token is free again.
        await tx((t) => t.putDevice(device('d2', { token: 'old' })))
        expect((await tx((t) => t.findDevice(ID, 'APNS', 'old')))?.deviceId).toBe('d2')
      })

      it('refuses a second device id for the same identity, platform and token', async () => {
        await tx((t) => t.putDevice(device('d1')))
        await expect(tx((t) => t.putDevice(device('d2')))).rejects.toThrow()
        expect(await tx((t) => t.getDevice('d2'))).toBeUndefined()
        // The same token under another identity or platform is another device.
        await tx((t) => t.putDevice(device('d3', { identityId: OTHER_ID })))
        await tx((t) => t.putDevice(device('d4', { platform: 'GCM' })))
      })

      it('lists subscribed devices in id order, per identity and dataset', async () => {
        await tx(async (t) => {
          for (const id of ['d3', 'd1', '__proto__', 'd2']) await t.putDevice(device(id, { token: id }))
          await t.putSubscription(ID, 'ds', 'd3')
          await t.putSubscription(ID, 'ds', 'd1')
          await t.putSubscription(ID, 'ds', '__proto__')
          await t.putSubscription(ID, 'ds', 'd1')
          await t.putSubscription(ID, 'other', 'd2')
          await t.putSubscription(OTHER_ID, 'ds', 'd2')
        })
        const ids = async (identityId: string, ds: string) =>
          (await tx((t) => t.listSubscribedDevices(identityId, ds))).map((d) => d.deviceId)
        expect(await ids(ID, 'ds')).toEqual(['__proto__', 'd1', 'd3'])
        expect(await tx((t) => t.listSubscribedDevices(ID, 'ds'))).toContainEqual(
          device('d1', { token: 'd1' }),
        )
        expect(await ids(ID, 'other')).toEqual(['d2'])
        expect(await ids(OTHER_ID, 'ds')).toEqual(['d2'])
        expect(await ids(ID, 'none')).toEqual([])
      })

      it('deletes a subscription and says whether there was one', async () => {
        await tx(async (t) => {
          await t.putDevice(device('d1', { token: 't1' }))
          await t.putDevice(device('d2', { token: 't2' }))
          await t.putSubscription(ID, 'ds', 'd1')
          await t.putSubscription(ID, 'ds', 'd2')
          await t.putSubscription(ID, 'other', 'd1')
        })
        expect(await tx((t) => t.deleteSubscription(ID, 'ds', 'd1'))).toBe(true)
        expect(await tx((t) => t.deleteSubscription(ID, 'ds', 'd1'))).toBe(false)
        expect(await tx((t) => t.deleteSubscription(ID, 'none', 'd1'))).toBe(false)
        expect(await tx((t) => t.deleteSubscription(OTHER_ID, 'other', 'd1'))).toBe(false)
        expect((await tx((t) => t.listSubscribedDevices(ID, 'ds'))).map((d) => d.deviceId)).toEqual(['d2'])
        expect((await tx((t) => t.listSubscribedDevices(ID, 'other'))).map((d) => d.deviceId)).toEqual(['d1'])
      })

      it('deletes a device with its subscriptions', async () => {
        await tx(async (t) => {
          await t.putDevice(device('d1', { token: 't1' }))
          await t.putDevice(device('d2', { token: 't2' }))
          await t.putSubscription(ID, 'ds', 'd1')
          await t.putSubscription(ID, 'other', 'd1')
          await t.putSubscription(ID, 'ds', 'd2')
        })
        await tx((t) => t.deleteDevice('d1'))
        await tx((t) => t.deleteDevice('missing'))
        expect(await tx((t) => t.getDevice('d1'))).toBeUndefined()
        expect(await tx((t) => t.findDevice(ID, 'APNS', 't1'))).toBeUndefined()
        expect((await tx((t) => t.listSubscribedDevices(ID, 'ds'))).map((d) => d.deviceId)).toEqual(['d2'])
        // Registering the id again does not bring the old subscriptions back.
        await tx((t) => t.putDevice(device('d1', { token: 't1' })))
        expect((await tx((t) => t.listSubscribedDevices(ID, 'ds'))).map((d) => d.deviceId)).toEqual(['d2'])
        expect(await tx((t) => t.listSubscribedDevices(ID, 'other'))).toEqual([])
        expect(await tx((t) => t.deleteSubscription(ID, 'other', 'd1'))).toBe(false)
      })

      it('refuses a subscription of an unknown device', async () => {
        await expect(tx((t) => t.putSubscription(ID, 'ds', 'missing'))).rejects.toThrow()
        expect(await tx((t) => t.listSubscribedDevices(ID, 'ds'))).toEqual([])
      })
    })

    describe('spent sessions', () => {
      it('remembers spent tokens', async () => {
        expect(await tx((t) => t.isSessionSpent('__proto__'))).toBe(false)
        await tx((t) => t.spendSession('__proto__', 1000))
        expect(await tx((t) => t.isSessionSpent('__proto__'))).toBe(true)
        expect(await tx((t) => t.isSessionSpent('other'))).toBe(false)
        // Spending again is harmless.
        await tx((t) => t.spendSession('__proto__', 1000))
        expect(await tx((t) => t.isSessionSpent('__proto__'))).toBe(true)
      })

      it('prunes the tokens expired before now, and only those', async () => {
        await tx(async (t) => {
          await t.spendSession('a', 100)
          await t.spendSession('b', 1000)
          await t.spendSession('c', 2000)
        })
        expect(await tx((t) => t.pruneSpentSessions(50))).toBe(0)
        // Expiring exactly now is not expired yet.
        expect(await tx((t) => t.pruneSpentSessions(100))).toBe(0)
        expect(await tx((t) => t.isSessionSpent('a'))).toBe(true)
        expect(await tx((t) => t.pruneSpentSessions(101))).toBe(1)
        expect(await tx((t) => t.isSessionSpent('a'))).toBe(false)
        expect(await tx((t) => t.isSessionSpent('b'))).toBe(true)
        expect(await tx((t) => t.pruneSpentSessions(1500))).toBe(1)
        expect(await tx((t) => t.isSessionSpent('b'))).toBe(false)
        expect(await tx((t) => t.isSessionSpent('c'))).toBe(true)
        // A pruning that rolls back keeps them.
        await expect(
          tx(async (t) => {
            await t.pruneSpentSessions(5000)
            throw new Error('rolled back')
          }),
        ).rejects.toThrow('rolled back')
        expect(await tx((t) => t.isSessionSpent('c'))).toBe(true)
      })
    })

    describe('sync session counts', () => {
      it('counts per identity and sums per pool', async () => {
        expect(await tx((t) => t.syncSessionsCount(POOL))).toBe(0)
        await tx(async (t) => {
          await t.countSyncSession(POOL, ID)
          await t.countSyncSession(POOL, ID)
          await t.countSyncSession(POOL, OTHER_ID)
          await t.countSyncSession('__proto__', ID)
        })
        expect(await tx((t) => t.syncSessionsCount(POOL))).toBe(3)
        expect(await tx((t) => t.syncSessionsCount('__proto__'))).toBe(1)
        expect(await tx((t) => t.syncSessionsCount('other'))).toBe(0)
        // A pool's configuration does not reset its count.
        await tx((t) => t.putPool(poolRow(POOL, { events: '{}' })))
        expect(await tx((t) => t.syncSessionsCount(POOL))).toBe(3)
        await expect(
          tx(async (t) => {
            await t.countSyncSession(POOL, ID)
            throw new Error('rolled back')
          }),
        ).rejects.toThrow('rolled back')
        expect(await tx((t) => t.syncSessionsCount(POOL))).toBe(3)
      })

      it('loses no count when transactions of many identities count at once', async () => {
        const identities = Array.from({ length: 12 }, (_, i) => `us-east-1:identity-${i}`)
        await Promise.all(
          identities.flatMap((identityId) =>
            [1, 2, 3].map(() =>
              store.transaction(
                async (t) => {
                  await sleep(0)
                  await t.countSyncSession(POOL, identityId)
                },
                { lock: identityId },
              ),
            ),
          ),
        )
        expect(await tx((t) => t.syncSessionsCount(POOL))).toBe(36)
      })
    })

    describe('pools', () => {
      it('round-trips pools with null and set fields, and replaces them', async () => {
        expect(await tx((t) => t.getPool('missing'))).toBeUndefined()
        const bare = poolRow('__proto__')
        const statuses: PoolRow['bulkPublishStatus'][] = ['IN_PROGRESS', 'FAILED', 'SUCCEEDED']
        const full = statuses.map((status, i) =>
          poolRow(`pool-${i}`, {
            pushSync: '{"ApplicationArns":[],"RoleArn":"arn"}',
            cognitoStreams: '',
            events: '{"SyncTrigger":"arn:lambda"}',
            bulkPublishStatus: status,
            bulkPublishStartTime: 1000,
            bulkPublishCompleteTime: status === 'SUCCEEDED' ? 2000 : null,
            bulkPublishFailureMessage: status === 'FAILED' ? 'stream gone' : null,
          }),
        )
        await tx(async (t) => {
          await t.putPool(bare)
          for (const row of full) await t.putPool(row)
        })
        expect(await tx((t) => t.getPool('__proto__'))).toEqual(bare)
        expect(await tx((t) => t.getPool('__proto__', { forUpdate: true }))).toEqual(bare)
        for (const row of full) expect(await tx((t) => t.getPool(row.identityPoolId))).toEqual(row)
        const replaced = { ...(full[2] ?? bare), identityPoolId: '__proto__' }
        await tx((t) => t.putPool(replaced))
        expect(await tx((t) => t.getPool('__proto__'))).toEqual(replaced)
        await tx((t) => t.putPool(bare))
        expect(await tx((t) => t.getPool('__proto__'))).toEqual(bare)
      })
    })

    describe('outbox', () => {
      it('coalesces rows of one device and dataset to the highest sync count', async () => {
        await tx((t) =>
          t.putOutbox([outbox('d', 'ds', { syncCount: 1 }), outbox('d', 'other', { syncCount: 1 })]),
        )
        await tx((t) => t.putOutbox([outbox('d', 'ds', { syncCount: 3, notBefore: 50, expiresAt: 900 })]))
        // An older change arriving late must not replace the newer pending one.
        await tx((t) => t.putOutbox([outbox('d', 'ds', { syncCount: 2, notBefore: 0 })]))
        expect(await tx((t) => t.countOutbox())).toBe(2)
        expect(await tx((t) => t.dueOutbox(1000, 10))).toEqual([
          outbox('d', 'other', { syncCount: 1 }),
          outbox('d', 'ds', { syncCount: 3, notBefore: 50, expiresAt: 900 }),
        ])
      })

      it('lists due rows in (notBefore, deviceId, datasetName) order, up to the limit', async () => {
        await tx((t) =>
          t.putOutbox([
            outbox('b', 'x', { notBefore: 20 }),
            outbox('a', 'y', { notBefore: 20 }),
            outbox('a', 'x', { notBefore: 20 }),
            outbox('c', 'x', { notBefore: 5 }),
            outbox('😀', '\u0000', { notBefore: 30 }),
            outbox('late', 'x', { notBefore: 31 }),
          ]),
        )
        const keys = (rows: OutboxRow[]) => rows.map((row) => [row.deviceId, row.datasetName])
        expect(keys(await tx((t) => t.dueOutbox(30, 100)))).toEqual([
          ['c', 'x'],
          ['a', 'x'],
          ['a', 'y'],
          ['b', 'x'],
          ['😀', '\u0000'],
        ])
        expect(keys(await tx((t) => t.dueOutbox(30, 2)))).toEqual([
          ['c', 'x'],
          ['a', 'x'],
        ])
        expect(await tx((t) => t.dueOutbox(4, 100))).toEqual([])
        expect(await tx((t) => t.nextOutboxTime(4))).toBe(5)
      })

      it('deletes and reschedules a row only while it holds the given sync count', async () => {
        expect(await tx((t) => t.nextOutboxTime(0))).toBeUndefined()
        await tx((t) => t.putOutbox([outbox('d', 'ds', { syncCount: 4 })]))
        expect(await tx((t) => t.deleteOutbox('d', 'ds', 3))).toBe(false)
        expect(await tx((t) => t.rescheduleOutbox('d', 'ds', 3, 1, 99))).toBe(false)
        expect(await tx((t) => t.rescheduleOutbox('d', 'ds', 4, 2, 99))).toBe(true)
        expect(await tx((t) => t.dueOutbox(99, 10))).toEqual([
          outbox('d', 'ds', { syncCount: 4, attempts: 2, notBefore: 99 }),
        ])
        expect(await tx((t) => t.deleteOutbox('d', 'missing', 4))).toBe(false)
        expect(await tx((t) => t.deleteOutbox('d', 'ds', 4))).toBe(true)
        expect(await tx((t) => t.deleteOutbox('d', 'ds', 4))).toBe(false)
        expect(await tx((t) => t.countOutbox())).toBe(0)
      })

      it('keeps the earlier queuedAt when a newer change replaces a row, and reschedules without touching it', async () => {
        await tx((t) => t.putOutbox([outbox('d', 'ds', { syncCount: 1, queuedAt: 100, notBefore: 100 })]))
        await tx((t) => t.putOutbox([outbox('d', 'ds', { syncCount: 2, queuedAt: 300, notBefore: 300 })]))
        expect(await tx((t) => t.dueOutbox(1000, 10))).toEqual([
          outbox('d', 'ds', { syncCount: 2, queuedAt: 100, notBefore: 300 }),
        ])
        expect(await tx((t) => t.rescheduleOutbox('d', 'ds', 2, 1, 700))).toBe(true)
        expect(await tx((t) => t.dueOutbox(1000, 10))).toEqual([
          outbox('d', 'ds', { syncCount: 2, queuedAt: 100, notBefore: 700, attempts: 1 }),
        ])
        // Once delivered, the next change of the dataset starts a row of its own time.
        expect(await tx((t) => t.deleteOutbox('d', 'ds', 2))).toBe(true)
        await tx((t) => t.putOutbox([outbox('d', 'ds', { syncCount: 3, queuedAt: 900, notBefore: 900 })]))
        expect((await tx((t) => t.dueOutbox(1000, 10)))[0]?.queuedAt).toBe(900)
      })

      it('sums the outbox up: its rows and the oldest queuedAt', async () => {
        expect(await tx((t) => t.outboxSummary())).toEqual({ rows: 0, oldestQueuedAt: undefined })
        await tx((t) =>
          t.putOutbox([
            outbox('a', 'x', { queuedAt: 500 }),
            outbox('b', 'x', { queuedAt: 40 }),
            outbox('c', '\u0000', { queuedAt: 70_000_000_000_000 }),
          ]),
        )
        expect(await tx((t) => t.outboxSummary())).toEqual({ rows: 3, oldestQueuedAt: 40 })
        await tx((t) => t.deleteOutbox('b', 'x', 1))
        expect(await tx((t) => t.outboxSummary())).toEqual({ rows: 2, oldestQueuedAt: 500 })
      })

      it('rolls outbox writes back with their transaction', async () => {
        await tx((t) => t.putOutbox([outbox('d', 'ds', { syncCount: 1 })]))
        await expect(
          tx(async (t) => {
            await t.putOutbox([outbox('d', 'ds', { syncCount: 2 }), outbox('e', 'ds')])
            await t.deleteOutbox('d', 'ds', 2)
            throw new Error('boom')
          }),
        ).rejects.toThrow('boom')
        expect(await tx((t) => t.dueOutbox(1000, 10))).toEqual([outbox('d', 'ds', { syncCount: 1 })])
      })
    })

    describe('rows', () => {
      it('stores and hands out copies with the contract fields only', async () => {
        const row = { ...dataset({ name: 'ds' }), extra: 'not stored' }
        const rec = { ...record('k'), extra: 'not stored' }
        await tx(async (t) => {
          await t.putDataset(row)
          await t.putRecords(ID, 'ds', [rec])
        })
        ;(row as { syncCount: number }).syncCount = 99
        ;(rec as { value: string | null }).value = 'changed'
        const got = await tx((t) => t.getDataset(ID, 'ds'))
        expect(got).toEqual(dataset({ name: 'ds' }))
        ;(got as { syncCount: number }).syncCount = 77
        expect(await tx((t) => t.getDataset(ID, 'ds'))).toEqual(dataset({ name: 'ds' }))
        const [listed] = await tx((t) => t.listRecords(ID, 'ds', { afterSyncCount: 0 }))
        expect(listed).toEqual(record('k'))
        ;(listed as { value: string | null }).value = 'changed'
        expect(await tx((t) => t.getRecords(ID, 'ds', ['k']))).toEqual([record('k')])
      })
    })

    describe('transactions', () => {
      it('resolve with the callback’s value', async () => {
        expect(await store.transaction(async () => 42)).toBe(42)
        expect(await store.transaction(async (t) => t.getSetting('x'), { lock: ID })).toBeUndefined()
      })

      it('roll back everything when the callback rejects, and reject with the same error', async () => {
        await tx(seedEverything)
        const before = await tx(snapshot)
        const error = new Error('boom')
        const failed = tx(async (t) => {
          await changeEverything(t)
          // The changes are visible inside, so the rollback below has something to undo.
          expect(await snapshot(t)).not.toEqual(before)
          throw error
        })
        await expect(failed).rejects.toBe(error)
        expect(await tx(snapshot)).toEqual(before)
      })

      it('roll back when the callback throws synchronously or rejects with a non-Error', async () => {
        const thrown = { reason: 'not an Error' }
        const sync = store.transaction((): Promise<void> => {
          throw thrown
        })
        await expect(sync).rejects.toBe(thrown)
        const late = tx(async (t) => {
          await t.putSetting('s', 'v')
          await sleep(1)
          throw 'a string'
        })
        await expect(late).rejects.toBe('a string')
        expect(await tx((t) => t.getSetting('s'))).toBeUndefined()
        await tx((t) => t.putSetting('s', 'after'))
        expect(await tx((t) => t.getSetting('s'))).toBe('after')
      })

      it('see their own writes', async () => {
        await tx(async (t) => {
          await t.putDataset(dataset({ name: 'ds', dataStorage: 5 }))
          await t.putRecords(ID, 'ds', [record('a')])
          await t.putDevice(device('d1'))
          await t.putSubscription(ID, 'ds', 'd1')
          await t.putIdentity(identity(ID))
          await t.spendSession('tok', 10)
          expect(await t.getDataset(ID, 'ds')).toEqual(dataset({ name: 'ds', dataStorage: 5 }))
          expect((await t.listDatasets(ID)).map((d) => d.name)).toEqual(['ds'])
          expect(await t.identityUsage(ID)).toEqual({
            datasetCount: 1,
            dataStorage: 5,
            lastModifiedDate: 2000,
          })
          expect(await t.listRecords(ID, 'ds', { afterSyncCount: 0 })).toEqual([record('a')])
          expect(await t.listSubscribedDevices(ID, 'ds')).toEqual([device('d1')])
          expect(await t.listPoolIds({})).toEqual([POOL])
          expect(await t.isSessionSpent('tok')).toBe(true)
          await t.deleteAllRecords(ID, 'ds')
          expect(await t.getRecords(ID, 'ds', ['a'])).toEqual([])
        })
      })

      it('run one at a time: two read-increment-write transactions both count', async () => {
        await tx((t) => t.putDataset(dataset({ name: 'ds', syncCount: 5 })))
        await Promise.all([bump(store, 'ds'), bump(store, 'ds')])
        expect((await tx((t) => t.getDataset(ID, 'ds')))?.syncCount).toBe(7)
      })

      it('run one at a time: 30 concurrent increments, some failing, end at the right count', async () => {
        await tx((t) => t.putDataset(dataset({ name: 'ds' })))
        const results = await Promise.allSettled(
          Array.from({ length: 30 }, (_, i) =>
            bump(store, 'ds', i % 4 === 3 ? new Error(`fail ${i}`) : undefined),
          ),
        )
        const failed = results.filter((r) => r.status === 'rejected')
        expect(failed).toHaveLength(7)
        expect(failed.map((r) => (r.reason as Error).message)).toEqual(
          Array.from({ length: 7 }, (_, i) => `fail ${i * 4 + 3}`),
        )
        expect((await tx((t) => t.getDataset(ID, 'ds')))?.syncCount).toBe(23)
      })

      it('run in the order they were started', async () => {
        await tx((t) => t.putSetting('log', ''))
        const append = (letter: string, delay: number) =>
          store.transaction(
            async (t) => {
              const log = await t.getSetting('log')
              await sleep(delay)
              await t.putSetting('log', `${log}${letter}`)
              return letter
            },
            { lock: ID },
          )
        expect(await Promise.all([append('a', 5), append('b', 0), append('c', 2)])).toEqual(['a', 'b', 'c'])
        expect(await tx((t) => t.getSetting('log'))).toBe('abc')
      })

      it('refuse calls on a transaction that has ended', async () => {
        let leaked: StoreTx | undefined
        await store.transaction(async (t) => {
          leaked = t
        })
        if (leaked === undefined) throw new Error('the callback did not run')
        const late = leaked
        await expect(late.putSetting('late', 'write')).rejects.toThrow()
        await expect(late.getSetting('late')).rejects.toThrow()
        // Nor does a late call land in the next transaction.
        await tx(async (t) => {
          await expect(late.putSetting('late', 'write')).rejects.toThrow()
          expect(await t.getSetting('late')).toBeUndefined()
        })
        expect(await tx((t) => t.getSetting('late'))).toBeUndefined()
      })

      it('finish running transactions on close and refuse new ones', async () => {
        let finished = false
        const running = tx(async (t) => {
          await sleep(5)
          await t.putSetting('s', 'v')
          finished = true
          return 'done'
        })
        await store.close()
        expect(finished).toBe(true)
        expect(await running).toBe('done')
        await expect(tx(async () => 1)).rejects.toThrow()
        // Closing twice is harmless (afterEach closes again).
        await store.close()
      })
    })

    describe('against a model', () => {
      // Each run works on identities of its own, so the runs share one store.
      let run = 0

      it('matches a Map model under random writes and failing transactions', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
            run += 1
            const ns = (label: string) => `${run}:${label}`
            const model = new Model()
            for (const s of steps) {
              const ops = s.ops.map((o) => concrete(o, ns))
              const failure = new Error('rolled back')
              const applied = store.transaction(async (t) => {
                for (const o of ops) await applyToStore(t, o)
                if (s.fail) throw failure
              })
              if (s.fail) {
                await expect(applied).rejects.toBe(failure)
              } else {
                await applied
                for (const o of ops) model.apply(o)
              }
              await tx(async (t) => {
                for (const identityId of IDENTITIES.map(ns)) {
                  for (const dataset of DATASETS) {
                    const expected = model.records({ identityId, dataset })
                    expect(await t.listRecords(identityId, dataset, { afterSyncCount: 0 })).toEqual(expected)
                    expect(await t.listRecords(identityId, dataset, { afterSyncCount: s.floor })).toEqual(
                      expected.filter((r) => r.syncCount > s.floor),
                    )
                    const paged = await pageThrough(
                      s.pageSize,
                      expected.length,
                      (after: RecordCursor | undefined) =>
                        t.listRecords(
                          identityId,
                          dataset,
                          after === undefined
                            ? { afterSyncCount: 0, limit: s.pageSize }
                            : { afterSyncCount: 0, after, limit: s.pageSize },
                        ),
                      cursorOf,
                    )
                    expect(paged).toEqual(expected)
                  }
                  expect(await t.listDatasets(identityId)).toEqual(model.datasets(identityId))
                }
                for (const pool of POOLS.map(ns)) {
                  expect(await t.listPoolDatasets(pool, {})).toEqual(model.poolDatasets(pool))
                }
              })
            }
          }),
        )
      })
    })
  })
}

const POOL = 'us-east-1:pool'
const ID = 'us-east-1:identity-a'
const OTHER_ID = 'us-east-1:identity-b'

/** Strings that break stores keyed by plain objects or by naive string handling. */
const ODD = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  '\u0000',
  'a\u0000b',
  '😀',
  '👩‍👩‍👧',
  'ü'.repeat(64),
  '😀'.repeat(32),
  '\uffff',
  'é',
  '',
  ' ',
  "'; DROP TABLE records; --",
  'a.b',
]

const identity = (identityId: string, over: Partial<IdentityRow> = {}): IdentityRow => ({
  identityId,
  identityPoolId: POOL,
  createdAt: 1000,
  mergedInto: null,
  ...over,
})

const dataset = (over: Partial<DatasetRow> & { name: string }): DatasetRow => ({
  identityPoolId: POOL,
  identityId: ID,
  syncCount: 0,
  exists: true,
  deletedAtSyncCount: 0,
  creationDate: 1000,
  lastModifiedDate: 2000,
  lastModifiedBy: null,
  numRecords: 0,
  dataStorage: 0,
  mergedInto: null,
  ...over,
})

const record = (key: string, over: Partial<RecordRow> = {}): RecordRow => ({
  key,
  value: `value of ${key}`,
  syncCount: 1,
  lastModifiedDate: 3000,
  lastModifiedBy: 'device',
  deviceLastModifiedDate: 2900,
  ...over,
})

const outbox = (deviceId: string, datasetName: string, over: Partial<OutboxRow> = {}): OutboxRow => ({
  deviceId,
  identityPoolId: POOL,
  identityId: ID,
  datasetName,
  syncCount: 1,
  attempts: 0,
  notBefore: 10,
  expiresAt: 1000,
  queuedAt: 10,
  ...over,
})

const device = (deviceId: string, over: Partial<DeviceRow> = {}): DeviceRow => ({
  deviceId,
  identityPoolId: POOL,
  identityId: ID,
  platform: 'APNS',
  token: 'token',
  createdAt: 1000,
  ...over,
})

const poolRow = (identityPoolId: string, over: Partial<PoolRow> = {}): PoolRow => ({
  identityPoolId,
  pushSync: null,
  cognitoStreams: null,
  events: null,
  bulkPublishStatus: 'NOT_STARTED',
  bulkPublishStartTime: null,
  bulkPublishCompleteTime: null,
  bulkPublishFailureMessage: null,
  ...over,
})

/** Code point order, computed independently of the stores: UTF-8 bytes compare in code point order. */
const compareStrings = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))
const sortStrings = (values: readonly string[]): string[] => [...values].sort(compareStrings)
const sortRecords = (rows: readonly RecordRow[]): RecordRow[] =>
  [...rows].sort((a, b) => a.syncCount - b.syncCount || compareStrings(a.key, b.key))
const byKey = (rows: readonly RecordRow[]): RecordRow[] =>
  [...rows].sort((a, b) => compareStrings(a.key, b.key))

/** Reads a dataset's sync count, yields, and writes it back plus one; `fail` rejects after writing. */
const bump = (store: SyncStore, name: string, fail?: Error): Promise<void> =>
  store.transaction(
    async (t) => {
      const row = await t.getDataset(ID, name)
      if (row === undefined) throw new Error(`no dataset ${name}`)
      await sleep(1)
      await t.putDataset({ ...row, syncCount: row.syncCount + 1 })
      await sleep(0)
      if (fail !== undefined) throw fail
    },
    { lock: ID },
  )

/** A state touching every table, for the rollback test. */
const seedEverything = async (t: StoreTx): Promise<void> => {
  await t.putSetting('setting', 'before')
  await t.putIdentity(identity(ID))
  await t.putLogin({ identityPoolId: POOL, provider: 'p', subject: 's', identityId: ID })
  await t.putDataset(dataset({ name: 'ds', syncCount: 3, dataStorage: 10 }))
  await t.putDataset(dataset({ name: 'gone', exists: false }))
  await t.putRecords(ID, 'ds', [record('a'), record('b', { value: null, syncCount: 2 })])
  await t.putRecords(ID, 'ds2', [record('c')])
  await t.putDevice(device('d1', { token: 't1' }))
  await t.putDevice(device('d2', { token: 't2' }))
  await t.putSubscription(ID, 'ds', 'd1')
  await t.putSubscription(ID, 'ds', 'd2')
  await t.spendSession('old', 100)
  await t.countSyncSession(POOL, ID)
  await t.putPool(poolRow(POOL))
}

/** Creates, replaces and deletes something in every table. */
const changeEverything = async (t: StoreTx): Promise<void> => {
  await t.putSetting('setting', 'after')
  await t.putSetting('new setting', 'x')
  await t.putIdentity(identity(ID, { mergedInto: OTHER_ID }))
  await t.putIdentity(identity(OTHER_ID, { identityPoolId: 'pool-2' }))
  await t.putLogin({ identityPoolId: POOL, provider: 'p', subject: 's', identityId: OTHER_ID })
  await t.putLogin({ identityPoolId: POOL, provider: 'p', subject: 's2', identityId: ID })
  await t.putDataset(dataset({ name: 'ds', syncCount: 4, dataStorage: 20 }))
  await t.putDataset(dataset({ name: 'gone', exists: true }))
  await t.putDataset(dataset({ name: 'new' }))
  await t.putRecords(ID, 'ds', [
    record('a', { value: 'changed', syncCount: 4 }),
    record('new', { syncCount: 4 }),
  ])
  await t.moveRecords({ identityId: ID, dataset: 'ds2' }, { identityId: OTHER_ID, dataset: 'ds2.moved' })
  await t.deleteAllRecords(ID, 'ds')
  await t.putRecords(ID, 'ds', [record('z')])
  await t.putDevice(device('d1', { token: 'changed' }))
  await t.putDevice(device('d3', { token: 't3' }))
  await t.putSubscription(ID, 'ds', 'd3')
  await t.deleteSubscription(ID, 'ds', 'd1')
  await t.deleteDevice('d2')
  await t.spendSession('new token', 10_000)
  await t.pruneSpentSessions(5000)
  await t.countSyncSession(POOL, OTHER_ID)
  await t.putPool(poolRow(POOL, { events: '{"SyncTrigger":"https://trigger.example/"}' }))
  await t.putPool(poolRow('pool-2'))
}

const snapshot = async (t: StoreTx) => ({
  settings: [await t.getSetting('setting'), await t.getSetting('new setting')],
  identities: [await t.getIdentity(ID), await t.getIdentity(OTHER_ID)],
  logins: [await t.findLogin(POOL, 'p', 's'), await t.findLogin(POOL, 'p', 's2')],
  poolIds: await t.listPoolIds({}),
  datasets: [await t.getDataset(ID, 'ds'), await t.getDataset(ID, 'gone'), await t.getDataset(ID, 'new')],
  listed: await t.listDatasets(ID),
  usage: [await t.identityUsage(ID), await t.poolUsage(POOL)],
  poolDatasets: await t.listPoolDatasets(POOL, {}),
  records: [
    await t.listRecords(ID, 'ds', { afterSyncCount: 0 }),
    await t.listRecords(ID, 'ds2', { afterSyncCount: 0 }),
    await t.listRecords(OTHER_ID, 'ds2.moved', { afterSyncCount: 0 }),
  ],
  devices: [await t.getDevice('d1'), await t.getDevice('d2'), await t.getDevice('d3')],
  found: await t.findDevice(ID, 'APNS', 't1'),
  subscribed: await t.listSubscribedDevices(ID, 'ds'),
  spent: [await t.isSessionSpent('old'), await t.isSessionSpent('new token')],
  pools: [await t.getPool(POOL), await t.getPool('pool-2')],
  sessions: await t.syncSessionsCount(POOL),
})

/**
 * Follows a cursor page by page, checking each page's size. A cursor that does not advance fails
 * after more pages than `total` rows can fill, instead of looping on promises that never let a
 * timeout fire.
 */
const pageThrough = async <T, C>(
  limit: number,
  total: number,
  fetch: (after: C | undefined) => Promise<T[]>,
  cursor: (last: T) => C,
): Promise<T[]> => {
  const seen: T[] = []
  let after: C | undefined
  for (let pages = 0; pages <= total + 1; pages++) {
    const page = await fetch(after)
    expect(page.length).toBeLessThanOrEqual(limit)
    seen.push(...page)
    const last = page[page.length - 1]
    if (page.length < limit || last === undefined) return seen
    after = cursor(last)
  }
  throw new Error(`Paging did not end after ${total + 2} pages of ${limit}`)
}

const cursorOf = (row: RecordRow): RecordCursor => ({ syncCount: row.syncCount, key: row.key })

// The model test: two identities in two pools, three datasets, a handful of keys that sort
// differently by UTF-16 and by code point, or that are special to plain objects.

const IDENTITIES = ['A', 'B'] as const
const POOLS = ['P1', 'P2'] as const
const DATASETS = ['d1', '__proto__', 'd.2'] as const
const KEYS = ['a', 'B', 'a\u0000', '__proto__', 'constructor', '😀', '\uffff', 'é'] as const

interface Place {
  readonly identityId: string
  readonly dataset: string
}

/** An operation on labels; `concrete` turns the labels into a run's own ids. */
type Op =
  | { readonly kind: 'put'; readonly at: Place; readonly rows: readonly RecordRow[] }
  | { readonly kind: 'deleteAll'; readonly at: Place }
  | { readonly kind: 'putDataset'; readonly row: DatasetRow }
  | { readonly kind: 'move'; readonly from: Place; readonly to: Place }

const place: fc.Arbitrary<Place> = fc.record({
  identityId: fc.constantFrom(...IDENTITIES),
  dataset: fc.constantFrom(...DATASETS),
})
const recordArb: fc.Arbitrary<RecordRow> = fc.record({
  key: fc.constantFrom(...KEYS),
  value: fc.option(fc.string({ maxLength: 3 }), { nil: null }),
  syncCount: fc.integer({ min: 1, max: 4 }),
  lastModifiedDate: fc.nat({ max: 10 }),
  lastModifiedBy: fc.option(fc.constantFrom('dev1', 'dev2'), { nil: null }),
  deviceLastModifiedDate: fc.option(fc.nat({ max: 10 }), { nil: null }),
})
const datasetArb: fc.Arbitrary<DatasetRow> = fc.record({
  identityPoolId: fc.constantFrom(...POOLS),
  identityId: fc.constantFrom(...IDENTITIES),
  name: fc.constantFrom(...DATASETS),
  syncCount: fc.nat({ max: 9 }),
  exists: fc.boolean(),
  deletedAtSyncCount: fc.nat({ max: 9 }),
  creationDate: fc.nat({ max: 10 }),
  lastModifiedDate: fc.nat({ max: 10 }),
  lastModifiedBy: fc.option(fc.constant('dev'), { nil: null }),
  numRecords: fc.nat({ max: 9 }),
  dataStorage: fc.nat({ max: 99 }),
  mergedInto: fc.option(fc.constantFrom(...DATASETS), { nil: null }),
})
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('put'),
      at: place,
      rows: fc.array(recordArb, { maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteAll'), at: place }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('putDataset'), row: datasetArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('move'), from: place, to: place }) },
)
const step = fc.record({
  ops: fc.array(op, { minLength: 1, maxLength: 3 }),
  fail: fc.boolean(),
  floor: fc.nat({ max: 4 }),
  pageSize: fc.integer({ min: 1, max: 4 }),
})

const concrete = (o: Op, ns: (label: string) => string): Op => {
  const at = (p: Place): Place => ({ identityId: ns(p.identityId), dataset: p.dataset })
  switch (o.kind) {
    case 'put':
      return { ...o, at: at(o.at) }
    case 'deleteAll':
      return { ...o, at: at(o.at) }
    case 'putDataset':
      return {
        ...o,
        row: { ...o.row, identityId: ns(o.row.identityId), identityPoolId: ns(o.row.identityPoolId) },
      }
    case 'move':
      return { ...o, from: at(o.from), to: at(o.to) }
  }
}

const applyToStore = async (t: StoreTx, o: Op): Promise<void> => {
  switch (o.kind) {
    case 'put':
      return t.putRecords(o.at.identityId, o.at.dataset, o.rows)
    case 'deleteAll':
      return t.deleteAllRecords(o.at.identityId, o.at.dataset)
    case 'putDataset':
      return t.putDataset(o.row)
    case 'move':
      return t.moveRecords(o.from, o.to)
  }
}

/** The contract in a few lines: Maps keyed by JSON tuples, filtered and sorted on read. */
class Model {
  readonly #records = new Map<string, Map<string, RecordRow>>()
  readonly #datasets = new Map<string, DatasetRow>()

  apply(o: Op): void {
    switch (o.kind) {
      case 'put': {
        const rows = this.#recordsOf(o.at)
        for (const row of o.rows) rows.set(row.key, row)
        return
      }
      case 'deleteAll':
        this.#records.delete(JSON.stringify([o.at.identityId, o.at.dataset]))
        return
      case 'putDataset':
        this.#datasets.set(JSON.stringify([o.row.identityId, o.row.name]), o.row)
        return
      case 'move': {
        if (o.from.identityId === o.to.identityId && o.from.dataset === o.to.dataset) return
        const target = this.#recordsOf(o.to)
        for (const row of this.#recordsOf(o.from).values()) target.set(row.key, row)
        this.#records.delete(JSON.stringify([o.from.identityId, o.from.dataset]))
        return
      }
    }
  }

  records(at: Place): RecordRow[] {
    return sortRecords([...(this.#records.get(JSON.stringify([at.identityId, at.dataset]))?.values() ?? [])])
  }

  datasets(identityId: string): DatasetRow[] {
    return [...this.#datasets.values()]
      .filter((row) => row.identityId === identityId && row.exists)
      .sort((a, b) => compareStrings(a.name, b.name))
  }

  poolDatasets(identityPoolId: string): DatasetRow[] {
    return [...this.#datasets.values()]
      .filter((row) => row.identityPoolId === identityPoolId && row.exists)
      .sort((a, b) => compareStrings(a.identityId, b.identityId) || compareStrings(a.name, b.name))
  }

  #recordsOf(at: Place): Map<string, RecordRow> {
    const k = JSON.stringify([at.identityId, at.dataset])
    let rows = this.#records.get(k)
    if (rows === undefined) {
      rows = new Map()
      this.#records.set(k, rows)
    }
    return rows
  }
}
