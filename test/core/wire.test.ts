import fc from 'fast-check'
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { TransportFailure } from '../../src/contracts/transport.js'
import {
  type ProtocolFailure,
  readDate,
  readDescribeDatasetAnswer,
  readEpochSeconds,
  readListDatasetsAnswer,
  readListRecordsAnswer,
  readRegisterDeviceAnswer,
  readUpdateRecordsAnswer,
  type TimestampReader,
} from '../../src/core/index.js'
import type { RemoteRecord } from '../../src/core/model.js'

const refused = (message: string) => ({ ok: false, failure: { kind: 'protocol', message } })

/** A record as it travels in JSON, times in epoch seconds. */
const jsonRecord = (fields: Record<string, unknown> = {}) => ({
  Key: 'k',
  Value: 'v',
  SyncCount: 3,
  LastModifiedDate: 1_700_000_000.5,
  LastModifiedBy: 'us-east-1:writer',
  DeviceLastModifiedDate: 1.001,
  ...fields,
})

/** A dataset as it travels in JSON, times in epoch seconds. */
const jsonDataset = (fields: Record<string, unknown> = {}) => ({
  DatasetName: 'settings',
  CreationDate: 1_600_000_000,
  LastModifiedDate: 1_700_000_000.25,
  LastModifiedBy: 'us-east-1:writer',
  DataStorage: 12,
  NumRecords: 2,
  ...fields,
})

const page = (fields: Record<string, unknown>) => ({ DatasetSyncCount: 4, SyncSessionToken: 't', ...fields })

describe('the wire types', () => {
  // Checked by the type checker (`npm run typecheck` compiles the tests): the core spells the
  // protocol failure out because it cannot import the port.
  it('has the port’s protocol failure, spelled out in the core', () => {
    expectTypeOf<ProtocolFailure>().toEqualTypeOf<Extract<TransportFailure, { kind: 'protocol' }>>()
  })
})

describe('readEpochSeconds', () => {
  it.each([
    [0, 0],
    [1.001, 1001],
    [1_700_000_000.5, 1_700_000_000_500],
    // Sub-millisecond digits round to the nearest millisecond.
    [1.0004, 1000],
    [1.0005, 1001],
  ])('reads %s seconds as %s ms', (seconds, ms) => {
    expect(readEpochSeconds(seconds, 'T')).toEqual({ ok: true, value: ms })
  })

  it('reads back every millisecond time written as epoch seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(readEpochSeconds(ms / 1000, 'T')).toEqual({ ok: true, value: ms })
      }),
    )
  })

  it.each<[unknown, string]>([
    ['1700000000', '"1700000000"'],
    [null, 'null'],
    [undefined, 'undefined'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [true, 'true'],
    [{ seconds: 1 }, '{"seconds":1}'],
    [[1], '[1]'],
  ])('refuses %s', (value, shown) => {
    expect(readEpochSeconds(value, 'T')).toEqual(refused(`T is not a timestamp: ${shown}`))
  })
})

describe('readDate', () => {
  it('reads a Date as its epoch milliseconds', () => {
    expect(readDate(new Date(1_700_000_000_500), 'T')).toEqual({ ok: true, value: 1_700_000_000_500 })
    expect(readDate(new Date(0), 'T')).toEqual({ ok: true, value: 0 })
  })

  it.each<[unknown, string]>([
    [new Date(Number.NaN), 'Invalid Date'],
    [1_700_000_000, '1700000000'],
    ['2023-11-14T22:13:20Z', '"2023-11-14T22:13:20Z"'],
    [null, 'null'],
    [undefined, 'undefined'],
  ])('refuses %s', (value, shown) => {
    expect(readDate(value, 'T')).toEqual(refused(`T is not a date: ${shown}`))
  })
})

describe('readListRecordsAnswer', () => {
  it('reads a full page, times in milliseconds', () => {
    const answer = page({
      Records: [jsonRecord()],
      NextToken: 'next',
      DatasetExists: true,
      DatasetDeletedAfterRequestedSyncCount: true,
      MergedDatasetNames: ['settings.us-east-1:other'],
      LastModifiedBy: 'us-east-1:writer',
    })
    expect(readListRecordsAnswer(answer, readEpochSeconds)).toEqual({
      ok: true,
      value: {
        records: [
          {
            key: 'k',
            value: 'v',
            syncCount: 3,
            lastModifiedDate: 1_700_000_000_500,
            lastModifiedBy: 'us-east-1:writer',
            deviceLastModifiedDate: 1001,
          },
        ],
        nextToken: 'next',
        datasetSyncCount: 4,
        datasetExists: true,
        datasetDeletedAfterRequestedSyncCount: true,
        mergedDatasetNames: ['settings.us-east-1:other'],
        lastModifiedBy: 'us-east-1:writer',
        syncSessionToken: 't',
      },
    })
  })

  it('reads absent members as null, empty and false, as AWS leaves them out', () => {
    for (const absent of [undefined, null]) {
      const answer = {
        DatasetSyncCount: 0,
        SyncSessionToken: 't',
        Records: absent,
        NextToken: absent,
        DatasetExists: absent,
        DatasetDeletedAfterRequestedSyncCount: absent,
        MergedDatasetNames: absent,
        LastModifiedBy: absent,
      }
      expect(readListRecordsAnswer(answer, readEpochSeconds)).toEqual({
        ok: true,
        value: {
          records: [],
          nextToken: null,
          datasetSyncCount: 0,
          datasetExists: false,
          datasetDeletedAfterRequestedSyncCount: false,
          mergedDatasetNames: [],
          lastModifiedBy: null,
          syncSessionToken: 't',
        },
      })
    }
  })

  it('reads a record without a value as a tombstone, and an empty string as a value', () => {
    const answer = page({
      Records: [
        jsonRecord({ Key: 'gone', Value: undefined }),
        jsonRecord({ Key: 'nulled', Value: null }),
        jsonRecord({ Key: 'empty', Value: '' }),
      ],
    })
    const result = readListRecordsAnswer(answer, readEpochSeconds)
    expect(result.ok && result.value.records.map((r) => [r.key, r.value])).toEqual([
      ['gone', null],
      ['nulled', null],
      ['empty', ''],
    ])
  })

  it('reads a record without a device time as null', () => {
    const answer = page({
      Records: [
        jsonRecord({ Key: 'a', DeviceLastModifiedDate: undefined }),
        jsonRecord({ Key: 'b', DeviceLastModifiedDate: null }),
      ],
    })
    const result = readListRecordsAnswer(answer, readEpochSeconds)
    expect(result.ok && result.value.records.map((r) => r.deviceLastModifiedDate)).toEqual([null, null])
  })

  it('reads the SDK’s Date objects with readDate', () => {
    const answer = page({
      Records: [
        jsonRecord({
          LastModifiedDate: new Date(1_700_000_000_500),
          DeviceLastModifiedDate: new Date(1001),
        }),
      ],
    })
    const result = readListRecordsAnswer(answer, readDate)
    expect(result.ok && result.value.records[0]).toMatchObject({
      lastModifiedDate: 1_700_000_000_500,
      deviceLastModifiedDate: 1001,
    })
    expect(readListRecordsAnswer(answer, readEpochSeconds)).toEqual(
      refused('record "k" LastModifiedDate is not a timestamp: 2023-11-14T22:13:20.500Z'),
    )
  })

  it('reads back any record written as the wire spells it', () => {
    const record = fc.record({
      key: fc.string({ minLength: 1 }),
      value: fc.option(fc.string(), { nil: null }),
      syncCount: fc.nat(),
      lastModifiedDate: fc.nat({ max: 253_402_300_799_999 }),
      lastModifiedBy: fc.option(fc.string(), { nil: null }),
      deviceLastModifiedDate: fc.option(fc.nat({ max: 253_402_300_799_999 }), { nil: null }),
    })
    fc.assert(
      fc.property(fc.array(record, { maxLength: 5 }), (records: RemoteRecord[]) => {
        const json = records.map((r) => ({
          Key: r.key,
          ...(r.value === null ? {} : { Value: r.value }),
          SyncCount: r.syncCount,
          LastModifiedDate: r.lastModifiedDate / 1000,
          ...(r.lastModifiedBy === null ? {} : { LastModifiedBy: r.lastModifiedBy }),
          ...(r.deviceLastModifiedDate === null
            ? {}
            : { DeviceLastModifiedDate: r.deviceLastModifiedDate / 1000 }),
        }))
        const result = readListRecordsAnswer(page({ Records: json }), readEpochSeconds)
        expect(result.ok && result.value.records).toEqual(records)
      }),
    )
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['no session token', { SyncSessionToken: undefined }, 'ListRecords returned no SyncSessionToken'],
    ['an empty session token', { SyncSessionToken: '' }, 'ListRecords returned no SyncSessionToken'],
    ['a session token that is no string', { SyncSessionToken: 5 }, 'SyncSessionToken is not a string'],
    ['no DatasetSyncCount', { DatasetSyncCount: undefined }, 'DatasetSyncCount is not a count: undefined'],
    ['a DatasetSyncCount as a string', { DatasetSyncCount: '3' }, 'DatasetSyncCount is not a count: "3"'],
    ['a negative DatasetSyncCount', { DatasetSyncCount: -1 }, 'DatasetSyncCount is not a count: -1'],
    ['a fractional DatasetSyncCount', { DatasetSyncCount: 1.5 }, 'DatasetSyncCount is not a count: 1.5'],
    [
      'an unsafe DatasetSyncCount',
      { DatasetSyncCount: 2 ** 53 },
      'DatasetSyncCount is not a count: 9007199254740992',
    ],
    ['a NextToken that is no string', { NextToken: 7 }, 'NextToken is not a string'],
    ['a DatasetExists that is no boolean', { DatasetExists: 'yes' }, 'DatasetExists is not a boolean'],
    [
      'a DatasetDeletedAfterRequestedSyncCount that is no boolean',
      { DatasetDeletedAfterRequestedSyncCount: 1 },
      'DatasetDeletedAfterRequestedSyncCount is not a boolean',
    ],
    ['MergedDatasetNames that is no list', { MergedDatasetNames: 'a' }, 'MergedDatasetNames is not a list'],
    [
      'a merged name that is no string',
      { MergedDatasetNames: ['a', 1] },
      'MergedDatasetNames holds a non-string',
    ],
    ['a LastModifiedBy that is no string', { LastModifiedBy: {} }, 'LastModifiedBy is not a string'],
    ['Records that is no list', { Records: { k: 1 } }, 'Records is not a list'],
    ['a record that is no object', { Records: ['k'] }, 'a record is not an object'],
    ['a record that is a list', { Records: [[]] }, 'a record is not an object'],
    ['a null record', { Records: [null] }, 'a record is not an object'],
    ['a record without a Key', { Records: [jsonRecord({ Key: undefined })] }, 'a record has no Key'],
    ['a record whose Key is no string', { Records: [jsonRecord({ Key: 1 })] }, 'a record has no Key'],
    [
      'a record whose Value is no string',
      { Records: [jsonRecord({ Value: 1 })] },
      'record "k" Value is not a string',
    ],
    [
      'a record without a sync count',
      { Records: [jsonRecord({ SyncCount: undefined })] },
      'record "k" SyncCount is not a count: undefined',
    ],
    [
      'a record with a negative sync count',
      { Records: [jsonRecord({ SyncCount: -1 })] },
      'record "k" SyncCount is not a count: -1',
    ],
    [
      'a record without a LastModifiedDate',
      { Records: [jsonRecord({ LastModifiedDate: undefined })] },
      'record "k" LastModifiedDate is not a timestamp: undefined',
    ],
    [
      'a record whose LastModifiedDate is a string',
      { Records: [jsonRecord({ LastModifiedDate: '1' })] },
      'record "k" LastModifiedDate is not a timestamp: "1"',
    ],
    [
      'a record whose LastModifiedBy is no string',
      { Records: [jsonRecord({ LastModifiedBy: false })] },
      'record "k" LastModifiedBy is not a string',
    ],
    [
      'a record whose DeviceLastModifiedDate is no number',
      { Records: [jsonRecord({ DeviceLastModifiedDate: 'x' })] },
      'record "k" DeviceLastModifiedDate is not a timestamp: "x"',
    ],
    [
      'the second record malformed',
      { Records: [jsonRecord(), jsonRecord({ Key: 'a"b', SyncCount: null })] },
      'record "a\\"b" SyncCount is not a count: null',
    ],
  ])('refuses %s', (_, fields, message) => {
    expect(readListRecordsAnswer(page(fields), readEpochSeconds)).toEqual(refused(message))
  })

  it('refuses an answer that is no object', () => {
    for (const answer of [null, undefined, 'page', [], 1]) {
      expect(readListRecordsAnswer(answer, readEpochSeconds)).toEqual(
        refused('the ListRecords answer is not an object'),
      )
    }
  })

  it('names the member in a refusal of the timestamp reader', () => {
    const answer = page({ Records: [jsonRecord({ DeviceLastModifiedDate: 5 })] })
    expect(readListRecordsAnswer(answer, readDate)).toEqual(
      refused('record "k" LastModifiedDate is not a date: 1700000000.5'),
    )
  })

  it('lets a bug in a timestamp reader through instead of calling it a protocol failure', () => {
    const broken: TimestampReader = () => {
      throw new TypeError('bug')
    }
    expect(() => readListRecordsAnswer(page({ Records: [jsonRecord()] }), broken)).toThrow('bug')
  })
})

describe('readUpdateRecordsAnswer', () => {
  it('reads the stored records, times in milliseconds', () => {
    const answer = { Records: [jsonRecord(), jsonRecord({ Key: 'gone', Value: undefined })] }
    const result = readUpdateRecordsAnswer(answer, readEpochSeconds)
    expect(result.ok && result.value.map((r) => [r.key, r.value, r.lastModifiedDate])).toEqual([
      ['k', 'v', 1_700_000_000_500],
      ['gone', null, 1_700_000_000_500],
    ])
  })

  it('reads absent Records as none', () => {
    expect(readUpdateRecordsAnswer({}, readEpochSeconds)).toEqual({ ok: true, value: [] })
  })

  it.each<[string, unknown, string]>([
    ['an answer that is no object', 'ok', 'the UpdateRecords answer is not an object'],
    ['Records that is no list', { Records: 1 }, 'Records is not a list'],
    [
      'a malformed record',
      { Records: [jsonRecord({ SyncCount: 'x' })] },
      'record "k" SyncCount is not a count: "x"',
    ],
  ])('refuses %s', (_, answer, message) => {
    expect(readUpdateRecordsAnswer(answer, readEpochSeconds)).toEqual(refused(message))
  })
})

describe('readListDatasetsAnswer', () => {
  it('reads the datasets and the next token, times in milliseconds', () => {
    expect(readListDatasetsAnswer({ Datasets: [jsonDataset()], NextToken: 'n' }, readEpochSeconds)).toEqual({
      ok: true,
      value: {
        datasets: [
          {
            name: 'settings',
            creationDate: 1_600_000_000_000,
            lastModifiedDate: 1_700_000_000_250,
            lastModifiedBy: 'us-east-1:writer',
            dataStorage: 12,
            numRecords: 2,
          },
        ],
        nextToken: 'n',
        tokens: ['n'],
      },
    })
  })

  it('reads an empty answer as the last page of none, and a missing LastModifiedBy as null', () => {
    expect(readListDatasetsAnswer({}, readEpochSeconds)).toEqual({
      ok: true,
      value: { datasets: [], nextToken: null, tokens: [] },
    })
    const result = readListDatasetsAnswer(
      { Datasets: [jsonDataset({ LastModifiedBy: null })] },
      readEpochSeconds,
    )
    expect(result.ok && result.value.datasets[0]?.lastModifiedBy).toBeNull()
  })

  it('adds each page to the pages before it, in order, until a page has no NextToken', () => {
    const first = readListDatasetsAnswer(
      { Datasets: [jsonDataset({ DatasetName: 'a' })], NextToken: 'page 2' },
      readEpochSeconds,
    )
    if (!first.ok) throw new Error(first.failure.message)
    const second = readListDatasetsAnswer(
      {
        Datasets: [jsonDataset({ DatasetName: 'b' }), jsonDataset({ DatasetName: 'c' })],
        NextToken: 'page 3',
      },
      readEpochSeconds,
      first.value,
    )
    if (!second.ok) throw new Error(second.failure.message)
    const last = readListDatasetsAnswer({ Datasets: [] }, readEpochSeconds, second.value)
    expect(last.ok && last.value.datasets.map((d) => d.name)).toEqual(['a', 'b', 'c'])
    expect(last.ok && last.value.nextToken).toBeNull()
    expect(last.ok && last.value.tokens).toEqual(['page 2', 'page 3'])
    // The listing handed in stays as it was.
    expect(first.value).toMatchObject({ nextToken: 'page 2', tokens: ['page 2'] })
    expect(first.value.datasets.map((d) => d.name)).toEqual(['a'])
  })

  it('refuses a NextToken handed out before, which would page forever', () => {
    const first = readListDatasetsAnswer({ NextToken: 'same' }, readEpochSeconds)
    if (!first.ok) throw new Error(first.failure.message)
    expect(readListDatasetsAnswer({ NextToken: 'same' }, readEpochSeconds, first.value)).toEqual(
      refused('ListDatasets returned the same NextToken twice'),
    )
    const second = readListDatasetsAnswer({ NextToken: 'other' }, readEpochSeconds, first.value)
    if (!second.ok) throw new Error(second.failure.message)
    expect(readListDatasetsAnswer({ NextToken: 'same' }, readEpochSeconds, second.value)).toEqual(
      refused('ListDatasets returned the same NextToken twice'),
    )
  })

  it.each<[string, unknown, string]>([
    ['an answer that is no object', [], 'the ListDatasets answer is not an object'],
    ['Datasets that is no list', { Datasets: {} }, 'Datasets is not a list'],
    ['a NextToken that is no string', { NextToken: 1 }, 'NextToken is not a string'],
    ['a dataset that is no object', { Datasets: [5] }, 'a dataset is not an object'],
    ['a null dataset', { Datasets: [null] }, 'a dataset is not an object'],
    [
      'a dataset without a name',
      { Datasets: [jsonDataset({ DatasetName: undefined })] },
      'a dataset has no DatasetName',
    ],
    [
      'a dataset without a CreationDate',
      { Datasets: [jsonDataset({ CreationDate: undefined })] },
      'dataset "settings" CreationDate is not a timestamp: undefined',
    ],
    [
      'a dataset whose LastModifiedDate is a string',
      { Datasets: [jsonDataset({ LastModifiedDate: 'now' })] },
      'dataset "settings" LastModifiedDate is not a timestamp: "now"',
    ],
    [
      'a dataset whose LastModifiedBy is no string',
      { Datasets: [jsonDataset({ LastModifiedBy: 1 })] },
      'dataset "settings" LastModifiedBy is not a string',
    ],
    [
      'a dataset with a negative DataStorage',
      { Datasets: [jsonDataset({ DataStorage: -5 })] },
      'dataset "settings" DataStorage is not a count: -5',
    ],
    [
      'a dataset without NumRecords',
      { Datasets: [jsonDataset({ NumRecords: undefined })] },
      'dataset "settings" NumRecords is not a count: undefined',
    ],
  ])('refuses %s', (_, answer, message) => {
    expect(readListDatasetsAnswer(answer, readEpochSeconds)).toEqual(refused(message))
  })
})

describe('readDescribeDatasetAnswer', () => {
  it('reads the Dataset, with either timestamp reader', () => {
    expect(readDescribeDatasetAnswer({ Dataset: jsonDataset() }, readEpochSeconds)).toMatchObject({
      ok: true,
      value: { name: 'settings', creationDate: 1_600_000_000_000 },
    })
    const sdkDataset = jsonDataset({ CreationDate: new Date(5), LastModifiedDate: new Date(6) })
    expect(readDescribeDatasetAnswer({ Dataset: sdkDataset }, readDate)).toMatchObject({
      ok: true,
      value: { creationDate: 5, lastModifiedDate: 6 },
    })
  })

  it.each<[string, unknown, string]>([
    ['an answer that is no object', null, 'the DescribeDataset answer is not an object'],
    ['no Dataset', {}, 'DescribeDataset returned no Dataset'],
    ['a null Dataset', { Dataset: null }, 'DescribeDataset returned no Dataset'],
    ['a Dataset that is no object', { Dataset: 'settings' }, 'a dataset is not an object'],
    [
      'a malformed Dataset',
      { Dataset: jsonDataset({ NumRecords: 0.5 }) },
      'dataset "settings" NumRecords is not a count: 0.5',
    ],
  ])('refuses %s', (_, answer, message) => {
    expect(readDescribeDatasetAnswer(answer, readEpochSeconds)).toEqual(refused(message))
  })
})

describe('readRegisterDeviceAnswer', () => {
  it('reads the device id', () => {
    expect(readRegisterDeviceAnswer({ DeviceId: 'device-1' })).toEqual({ ok: true, value: 'device-1' })
  })

  it.each<[string, unknown, string]>([
    ['an answer that is no object', 'device-1', 'the RegisterDevice answer is not an object'],
    ['no DeviceId', {}, 'RegisterDevice returned no DeviceId'],
    ['an empty DeviceId', { DeviceId: '' }, 'RegisterDevice returned no DeviceId'],
    ['a DeviceId that is no string', { DeviceId: 1 }, 'DeviceId is not a string'],
  ])('refuses %s', (_, answer, message) => {
    expect(readRegisterDeviceAnswer(answer)).toEqual(refused(message))
  })
})
