/**
 * The transport conformance suite: every `Transport` runs it against a real server, so the engine can
 * rely on Cognito Sync's behaviour (sync counts, session tokens, paging, tombstones, deletions) and on
 * the same failure kinds whatever the wire. Adapter authors call {@link runTransportConformance} from
 * a vitest file.
 *
 * The suite writes only to identities it asks the fixture for, one or two new ones per test, so it can
 * share a server with other tests.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  RecordsPage,
  Transport,
  TransportFailure,
  TransportFailureKind,
} from '../contracts/transport.js'
import type { RecordPatch, RemoteRecord } from '../core/model.js'
import type { Result } from '../core/result.js'

export interface TransportFixture {
  /** Shown in the suite's title, such as `'cognito'` or `'http'`. */
  readonly name: string
  /** Starts a server (or connects to one). Called once, before the suite. */
  setup(): Promise<TransportFixtureServer>
  /** Stops what `setup` started. Called once, after the suite. */
  teardown(): Promise<void>
}

export interface TransportFixtureServer {
  /** A new identity of the pool, with credentials of its own. Every call gives another identity. */
  connect(): Promise<TransportFixtureDevice>
}

export interface TransportFixtureDevice {
  /** A transport acting as the device's identity, with that identity's credentials. */
  readonly transport: Transport
  /**
   * A transport with this device's credentials that claims to act as `identityId` (another
   * identity's): the server must refuse it.
   */
  actingAs(identityId: string): Transport
  /** A transport with this device's credentials, aimed at an address where no server listens. */
  unreachable(): Transport
}

/** An instant with milliseconds, to see that transports keep them across the wire's epoch seconds. */
const DEVICE_TIME = 1_700_000_000_123
const DAY = 24 * 60 * 60 * 1000

/** Registers the suite's tests with vitest; call it at the top level of a test file. */
export function runTransportConformance(fixture: TransportFixture): void {
  describe(`transport conformance (${fixture.name})`, () => {
    let server: TransportFixtureServer

    beforeAll(async () => {
      server = await fixture.setup()
    })

    afterAll(async () => {
      await fixture.teardown()
    })

    const connect = async () => (await server.connect()).transport

    it('names itself transport:<implementation> and tells its identity', async () => {
      const transport = await connect()
      expect(transport.name).toMatch(/^transport:\S+$/)
      expect(transport.identityPoolId).toMatch(/^[\w-]+:[0-9a-f-]+$/)
      expect(transport.identityId).toMatch(/^[\w-]+:[0-9a-f-]+$/)
    })

    describe('listRecords', () => {
      it('lists a dataset that does not exist as empty, with a session token', async () => {
        const transport = await connect()
        const page = value(await transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 }))
        expect(page).toEqual({
          records: [],
          nextToken: null,
          datasetSyncCount: 0,
          datasetExists: false,
          datasetDeletedAfterRequestedSyncCount: false,
          mergedDatasetNames: [],
          lastModifiedBy: null,
          syncSessionToken: expect.any(String),
        })
        expect(page.syncSessionToken).not.toBe('')
      })

      it('lists only the records changed after lastSyncCount, tombstones included', async () => {
        const transport = await connect()
        await push(transport, 'settings', [replace('a', '1'), replace('b', '1')]) // count 1
        await push(transport, 'settings', [replace('c', '2')]) // count 2
        await push(transport, 'settings', [replace('a', '3', 1), remove('b', 1)]) // count 3

        const all = await pullAll(transport, 'settings', 0)
        expect(all.datasetSyncCount).toBe(3)
        expect(all.datasetExists).toBe(true)
        expect(summary(all.records)).toEqual([
          ['a', '3', 3],
          ['b', null, 3],
          ['c', '2', 2],
        ])
        expect(summary((await pullAll(transport, 'settings', 1)).records)).toEqual([
          ['a', '3', 3],
          ['b', null, 3],
          ['c', '2', 2],
        ])
        expect(summary((await pullAll(transport, 'settings', 2)).records)).toEqual([
          ['a', '3', 3],
          ['b', null, 3],
        ])
        const upToDate = await pullAll(transport, 'settings', 3)
        expect(upToDate.records).toEqual([])
        expect(upToDate.datasetSyncCount).toBe(3)
      })

      it('pages with maxResults and nextToken, keeping one session token across the pages', async () => {
        const transport = await connect()
        const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`)
        await push(
          transport,
          'many',
          keys.map((key) => replace(key, `v-${key}`)),
        )

        const pages: RecordsPage[] = []
        let nextToken: string | undefined
        let sessionToken: string | undefined
        do {
          const page = value(
            await transport.listRecords({
              datasetName: 'many',
              lastSyncCount: 0,
              maxResults: 10,
              ...(nextToken === undefined ? {} : { nextToken }),
              ...(sessionToken === undefined ? {} : { syncSessionToken: sessionToken }),
            }),
          )
          pages.push(page)
          sessionToken ??= page.syncSessionToken
          nextToken = page.nextToken ?? undefined
          expect(pages.length, 'the pages never end').toBeLessThan(10)
        } while (nextToken !== undefined)

        expect(pages.map((page) => page.records.length)).toEqual([10, 10, 5])
        expect(pages.map((page) => page.nextToken === null)).toEqual([false, false, true])
        expect(pages.map((page) => page.syncSessionToken)).toEqual([sessionToken, sessionToken, sessionToken])
        expect(pages.every((page) => page.datasetSyncCount === 1)).toBe(true)
        const listed = pages.flatMap((page) => page.records.map((record) => record.key))
        expect([...listed].sort()).toEqual(keys)

        // The session of the pages is the session of the push that follows them.
        const written = await transport.updateRecords({
          datasetName: 'many',
          syncSessionToken: sessionToken as string,
          patches: [replace('k00', 'changed', 1)],
        })
        expect(summary(value(written).records)).toEqual([['k00', 'changed', 2]])
      })

      it('refuses a bad dataset name as invalid', async () => {
        const transport = await connect()
        expect(kindOf(await transport.listRecords({ datasetName: 'bad name!', lastSyncCount: 0 }))).toBe(
          'invalid',
        )
      })
    })

    describe('updateRecords', () => {
      it('gives the first write sync count 1 and answers with the records as stored', async () => {
        const transport = await connect()
        const before = Date.now()
        const records = await push(transport, 'settings', [
          replace('theme', 'dark'),
          replace('font', 'serif'),
        ])
        expect(summary(records)).toEqual([
          ['font', 'serif', 1],
          ['theme', 'dark', 1],
        ])
        for (const record of records) {
          expect(record.lastModifiedBy).toEqual(expect.any(String))
          // Milliseconds, not the wire's seconds: close to this machine's clock.
          expect(Number.isInteger(record.lastModifiedDate)).toBe(true)
          expect(Math.abs(record.lastModifiedDate - before)).toBeLessThan(DAY)
        }
        const pulled = value(await transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 }))
        expect(pulled.datasetSyncCount).toBe(1)
        expect(summary(pulled.records)).toEqual(summary(records))
        expect(pulled.lastModifiedBy === null || typeof pulled.lastModifiedBy === 'string').toBe(true)
      })

      it('keeps the device time of a write to the millisecond', async () => {
        const transport = await connect()
        const [written] = await push(transport, 'settings', [replace('theme', 'dark')])
        expect(Math.abs((written?.deviceLastModifiedDate ?? 0) - DEVICE_TIME)).toBeLessThanOrEqual(1)
        const [pulled] = (await pullAll(transport, 'settings', 0)).records
        expect(Math.abs((pulled?.deviceLastModifiedDate ?? 0) - DEVICE_TIME)).toBeLessThanOrEqual(1)
        expect(pulled?.lastModifiedDate).toBe(written?.lastModifiedDate)
      })

      it('keeps empty strings as values and answers removals with tombstones', async () => {
        const transport = await connect()
        await push(transport, 'settings', [replace('empty', ''), replace('gone', 'soon')])
        const removed = await push(transport, 'settings', [remove('gone', 1)])
        expect(summary(removed)).toEqual([['gone', null, 2]])
        expect(summary((await pullAll(transport, 'settings', 0)).records)).toEqual([
          ['empty', '', 1],
          ['gone', null, 2],
        ])
      })

      it('carries keys, values and dataset names that need escaping', async () => {
        const transport = await connect()
        const dataset = 'dotted.name:with-colon_1'
        const entries: Array<[string, string]> = [
          ['a/b?c=d&e#f', 'slash'],
          ['%41 +plus', '"quoted" \\ back\nline'],
          ['__proto__', '{"json":true}'],
          ['constructor', 'ünïcødé 🙂'],
        ]
        await push(
          transport,
          dataset,
          entries.map(([key, text]) => replace(key, text)),
        )
        const pulled = await pullAll(transport, dataset, 0)
        expect(pulled.records.map((record) => [record.key, record.value]).sort()).toEqual([...entries].sort())
        expect(value(await transport.describeDataset(dataset)).name).toBe(dataset)
      })

      it('refuses a stale sync count with conflict and applies nothing', async () => {
        const transport = await connect()
        await push(transport, 'settings', [replace('theme', 'dark')])
        const page = value(await transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 }))
        const stale = await transport.updateRecords({
          datasetName: 'settings',
          syncSessionToken: page.syncSessionToken,
          patches: [replace('new', 'x'), replace('theme', 'light', 0)],
        })
        expect(kindOf(stale)).toBe('conflict')
        const after = await pullAll(transport, 'settings', 0)
        expect(after.datasetSyncCount).toBe(1)
        expect(summary(after.records)).toEqual([['theme', 'dark', 1]])
      })

      it('refuses a spent session token as invalid', async () => {
        const transport = await connect()
        const page = value(await transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 }))
        const token = page.syncSessionToken
        value(
          await transport.updateRecords({
            datasetName: 'settings',
            syncSessionToken: token,
            patches: [replace('a', '1')],
          }),
        )
        const again = await transport.updateRecords({
          datasetName: 'settings',
          syncSessionToken: token,
          patches: [replace('b', '1')],
        })
        expect(kindOf(again)).toBe('invalid')
        const pullWithSpent = await transport.listRecords({
          datasetName: 'settings',
          lastSyncCount: 0,
          syncSessionToken: token,
        })
        expect(kindOf(pullWithSpent)).toBe('invalid')
        expect(summary((await pullAll(transport, 'settings', 0)).records)).toEqual([['a', '1', 1]])
      })

      it('accepts the device id of a registered device', async () => {
        const transport = await connect()
        const deviceId = value(await transport.registerDevice('GCM', 'device-id-token'))
        const page = value(await transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 }))
        const written = await transport.updateRecords({
          datasetName: 'settings',
          syncSessionToken: page.syncSessionToken,
          deviceId,
          patches: [replace('a', '1')],
        })
        expect(summary(value(written).records)).toEqual([['a', '1', 1]])
      })

      it('refuses a write over a quota as limit', async () => {
        const transport = await connect()
        // Cognito's quota of 20 datasets per identity.
        for (let i = 0; i < 20; i++) await push(transport, `ds${i}`, [replace('k', 'v')])
        const page = value(await transport.listRecords({ datasetName: 'one-too-many', lastSyncCount: 0 }))
        const refused = await transport.updateRecords({
          datasetName: 'one-too-many',
          syncSessionToken: page.syncSessionToken,
          patches: [replace('k', 'v')],
        })
        expect(kindOf(refused)).toBe('limit')
      })
    })

    describe('datasets', () => {
      it('describes a dataset in milliseconds and UTF-8 bytes', async () => {
        const transport = await connect()
        const before = Date.now()
        await push(transport, 'settings', [replace('theme', 'dark'), replace('ü', 'é')])
        const dataset = value(await transport.describeDataset('settings'))
        expect(dataset).toMatchObject({ name: 'settings', numRecords: 2, dataStorage: 9 + 4 })
        expect(dataset.lastModifiedBy).toEqual(expect.any(String))
        expect(Math.abs(dataset.creationDate - before)).toBeLessThan(DAY)
        expect(dataset.lastModifiedDate).toBeGreaterThanOrEqual(dataset.creationDate)
      })

      it('answers notFound for describing or deleting a dataset that does not exist', async () => {
        const transport = await connect()
        expect(kindOf(await transport.describeDataset('nothing'))).toBe('notFound')
        expect(kindOf(await transport.deleteDataset({ datasetName: 'nothing' }))).toBe('notFound')
      })

      it('deletes a dataset and tells a device that synced before the deletion', async () => {
        const transport = await connect()
        await push(transport, 'settings', [replace('theme', 'dark')])
        value(await transport.deleteDataset({ datasetName: 'settings' }))
        expect(kindOf(await transport.describeDataset('settings'))).toBe('notFound')
        const stale = value(await transport.listRecords({ datasetName: 'settings', lastSyncCount: 1 }))
        expect(stale).toMatchObject({
          datasetExists: false,
          datasetDeletedAfterRequestedSyncCount: true,
          records: [],
        })
        expect(value(await transport.listDatasets()).map((dataset) => dataset.name)).toEqual([])
      })

      it('lists every dataset of the identity and only its own', async () => {
        const transport = await connect()
        const other = await connect()
        expect(value(await transport.listDatasets())).toEqual([])
        await push(transport, 'beta', [replace('k', 'v')])
        await push(transport, 'alpha', [replace('k', 'v'), replace('l', 'w')])
        await push(other, 'gamma', [replace('k', 'v')])
        const datasets = value(await transport.listDatasets())
        expect(datasets.map((dataset) => [dataset.name, dataset.numRecords]).sort()).toEqual([
          ['alpha', 2],
          ['beta', 1],
        ])
      })
    })

    describe('devices and subscriptions', () => {
      it('registers a device: the same token gets the same id, another token another id', async () => {
        const transport = await connect()
        const first = value(await transport.registerDevice('GCM', 'token-1'))
        expect(first).not.toBe('')
        expect(value(await transport.registerDevice('GCM', 'token-1'))).toBe(first)
        expect(value(await transport.registerDevice('GCM', 'token-2'))).not.toBe(first)
      })

      it('subscribes and unsubscribes a device; an unknown dataset or device is notFound', async () => {
        const transport = await connect()
        const deviceId = value(await transport.registerDevice('APNS', 'apns-token'))
        expect(kindOf(await transport.subscribe('settings', deviceId))).toBe('notFound')
        await push(transport, 'settings', [replace('k', 'v')])
        value(await transport.subscribe('settings', deviceId))
        value(await transport.unsubscribe('settings', deviceId))
        expect(kindOf(await transport.subscribe('settings', 'no-such-device'))).toBe('notFound')
      })
    })

    describe('failures', () => {
      it("refuses another identity's data with auth", async () => {
        const mallory = await server.connect()
        const alice = await connect()
        await push(alice, 'secrets', [replace('pin', '1234')])
        const intruder = mallory.actingAs(alice.identityId)
        expect(intruder.identityId).toBe(alice.identityId)
        const results = await Promise.all([
          intruder.listRecords({ datasetName: 'secrets', lastSyncCount: 0 }),
          intruder.listDatasets(),
          intruder.describeDataset('secrets'),
          intruder.deleteDataset({ datasetName: 'secrets' }),
        ])
        expect(results.map(kindOf)).toEqual(['auth', 'auth', 'auth', 'auth'])
        expect(summary((await pullAll(alice, 'secrets', 0)).records)).toEqual([['pin', '1234', 1]])
      })

      it('reports every operation against an unreachable server as offline', async () => {
        const device = await server.connect()
        const down = device.unreachable()
        const results = await Promise.all(everyOperation(down))
        for (const result of results)
          expect(result).toMatchObject({ ok: false, failure: { kind: 'offline' } })
      })

      it('reports an aborted call as offline, with the reason as cause, and sends nothing', async () => {
        // `offline` says the request may or may not have been applied, which is what an abort leaves
        // the caller with; the cause tells the caller it was its own abort.
        const transport = await connect()
        const reason = new Error('the user left the page')
        const controller = new AbortController()
        controller.abort(reason)
        const results = await Promise.all(everyOperation(transport, controller.signal))
        for (const result of results) {
          expect(result).toMatchObject({ ok: false, failure: { kind: 'offline', cause: reason } })
        }
        expect(value(await transport.listDatasets())).toEqual([])
      })

      it('reports a call aborted while it runs as offline', async () => {
        const transport = await connect()
        const controller = new AbortController()
        const running = transport.listRecords(
          { datasetName: 'settings', lastSyncCount: 0 },
          controller.signal,
        )
        const reason = new Error('cancelled')
        controller.abort(reason)
        expect(await running).toMatchObject({ ok: false, failure: { kind: 'offline', cause: reason } })
      })
    })
  })
}

/** One call of each operation; with a signal, each gets it. */
function everyOperation(
  transport: Transport,
  signal?: AbortSignal,
): Array<Promise<Result<unknown, TransportFailure>>> {
  return [
    transport.listRecords({ datasetName: 'settings', lastSyncCount: 0 }, signal),
    transport.updateRecords(
      { datasetName: 'settings', syncSessionToken: 'token', patches: [replace('k', 'v')] },
      signal,
    ),
    transport.listDatasets(signal),
    transport.describeDataset('settings', signal),
    transport.deleteDataset({ datasetName: 'settings' }, signal),
    transport.registerDevice('GCM', 'token', signal),
    transport.subscribe('settings', 'device', signal),
    transport.unsubscribe('settings', 'device', signal),
  ]
}

function replace(key: string, text: string, syncCount = 0): RecordPatch {
  return { op: 'replace', key, value: text, syncCount, deviceLastModifiedDate: DEVICE_TIME }
}

function remove(key: string, syncCount: number): RecordPatch {
  return { op: 'remove', key, value: null, syncCount, deviceLastModifiedDate: DEVICE_TIME }
}

/** The value of a success; a failure fails the test with its kind and message. */
function value<T>(result: Result<T, TransportFailure>): T {
  if (!result.ok) {
    throw new Error(`expected success, got ${result.failure.kind}: ${result.failure.message}`)
  }
  return result.value
}

/** The failure kind of a result, or `'ok'`, so a wrong outcome shows in the assertion. */
function kindOf(result: Result<unknown, TransportFailure>): TransportFailureKind | 'ok' {
  return result.ok ? 'ok' : result.failure.kind
}

/** `[key, value, syncCount]` of each record, by key. */
function summary(records: readonly RemoteRecord[]): Array<[string, string | null, number]> {
  return records
    .map((record): [string, string | null, number] => [record.key, record.value, record.syncCount])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** Pulls then pushes, as a sync does; resolves to the records the server answered with. */
async function push(
  transport: Transport,
  datasetName: string,
  patches: RecordPatch[],
): Promise<RemoteRecord[]> {
  const page = value(await transport.listRecords({ datasetName, lastSyncCount: 0 }))
  return value(
    await transport.updateRecords({ datasetName, syncSessionToken: page.syncSessionToken, patches }),
  ).records
}

/** Every page of a ListRecords pass, with the records of all pages. */
async function pullAll(
  transport: Transport,
  datasetName: string,
  lastSyncCount: number,
): Promise<RecordsPage> {
  const first = value(await transport.listRecords({ datasetName, lastSyncCount }))
  const records = [...first.records]
  let nextToken = first.nextToken
  while (nextToken !== null) {
    const page = value(
      await transport.listRecords({
        datasetName,
        lastSyncCount,
        nextToken,
        syncSessionToken: first.syncSessionToken,
      }),
    )
    records.push(...page.records)
    nextToken = page.nextToken
  }
  return { ...first, records, nextToken: null }
}
