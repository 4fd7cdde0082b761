import {
  type DatasetRow,
  type DevicePlatform,
  type DeviceRow,
  type ForUpdate,
  type IdentityRow,
  type ListDatasetsQuery,
  type ListRecordsQuery,
  type LoginRow,
  type NewStreamOutboxRow,
  OUTBOX_CLAIM_RECHECK_MS,
  type OutboxRow,
  type OutboxSummary,
  type PoolRow,
  type PushEndpointRow,
  type RecordRow,
  type StoreTx,
  type StreamOutboxRow,
  type UsageRow,
} from '../contract.js'
import { lastPerKey, newestPerPush, pageSize, TransactionScope } from '../shared.js'
import type { SqlConnection } from './dialect.js'
import {
  type DatasetSql,
  type DeviceSql,
  datasetParams,
  deviceParams,
  type IdentitySql,
  identityParams,
  int,
  intOrNull,
  type LoginSql,
  loginParams,
  type OutboxSql,
  outboxParams,
  type PoolSql,
  type PushEndpointSql,
  poolParams,
  pushEndpointParams,
  type RecordSql,
  recordParams,
  type StreamOutboxSql,
  streamOutboxParams,
  toDataset,
  toDevice,
  toIdentity,
  toLogin,
  toOutbox,
  toPool,
  toPushEndpoint,
  toRecord,
  toStreamOutbox,
  toUsage,
  type UsageSql,
} from './rows.js'

const EXISTS = 1

/**
 * The store's transaction, once for both SQL dialects: each method is a statement (or two) of
 * statements.ts and a row mapping of rows.ts, run on the transaction's connection. A call after the
 * transaction ended is refused before it reaches the connection.
 */
export class SqlTx implements StoreTx {
  readonly #connection: SqlConnection
  readonly #scope = new TransactionScope()

  constructor(connection: SqlConnection) {
    this.#connection = connection
  }

  end(): void {
    this.#scope.end()
  }

  /** The connection, while the transaction is open. */
  get #c(): SqlConnection {
    this.#scope.check()
    return this.#connection
  }

  async getSetting(name: string, options: ForUpdate = {}): Promise<string | undefined> {
    if (options.forUpdate === true) await this.#c.lock('setting', name)
    return (await this.#c.get<{ value: string }>('getSetting', [name]))?.value
  }

  async putSetting(name: string, value: string): Promise<void> {
    await this.#c.run('putSetting', [name, value])
  }

  async getIdentity(identityId: string): Promise<IdentityRow | undefined> {
    const row = await this.#c.get<IdentitySql>('getIdentity', [identityId])
    return row && toIdentity(row)
  }

  async putIdentity(row: IdentityRow): Promise<void> {
    await this.#c.run('putIdentity', identityParams(row))
  }

  async findLogin(identityPoolId: string, provider: string, subject: string): Promise<LoginRow | undefined> {
    const row = await this.#c.get<LoginSql>('findLogin', [identityPoolId, provider, subject])
    return row && toLogin(row)
  }

  async putLogin(row: LoginRow): Promise<void> {
    await this.#c.run('putLogin', loginParams(row))
  }

  async poolHasIdentities(identityPoolId: string): Promise<boolean> {
    return (await this.#c.get('poolHasIdentities', [identityPoolId])) !== undefined
  }

  async listPoolIds(query: { readonly afterPoolId?: string; readonly limit?: number }): Promise<string[]> {
    const limit = pageSize(query.limit)
    const rows =
      query.afterPoolId === undefined
        ? await this.#c.all<{ identity_pool_id: string }>('listPoolIds', [limit])
        : await this.#c.all<{ identity_pool_id: string }>('listPoolIdsAfter', [query.afterPoolId, limit])
    return rows.map((row) => row.identity_pool_id)
  }

  async getDataset(identityId: string, name: string): Promise<DatasetRow | undefined> {
    const row = await this.#c.get<DatasetSql>('getDataset', [identityId, name])
    return row && toDataset(row)
  }

  async listDatasets(identityId: string, query: ListDatasetsQuery = {}): Promise<DatasetRow[]> {
    const limit = pageSize(query.limit)
    const rows =
      query.afterName === undefined
        ? await this.#c.all<DatasetSql>('listDatasets', [identityId, EXISTS, limit])
        : await this.#c.all<DatasetSql>('listDatasetsAfter', [identityId, EXISTS, query.afterName, limit])
    return rows.map(toDataset)
  }

  async putDataset(row: DatasetRow): Promise<void> {
    await this.#c.run('putDataset', datasetParams(row))
  }

  async listPoolDatasets(
    identityPoolId: string,
    query: {
      readonly after?: { readonly identityId: string; readonly name: string }
      readonly limit?: number
    },
  ): Promise<DatasetRow[]> {
    const { after } = query
    const limit = pageSize(query.limit)
    const rows =
      after === undefined
        ? await this.#c.all<DatasetSql>('listPoolDatasets', [identityPoolId, EXISTS, limit])
        : await this.#c.all<DatasetSql>('listPoolDatasetsAfter', [
            identityPoolId,
            EXISTS,
            after.identityId,
            after.name,
            limit,
          ])
    return rows.map(toDataset)
  }

  async listMergedDatasetNames(identityId: string, name: string): Promise<string[]> {
    const rows = await this.#c.all<{ name: string }>('listMergedDatasetNames', [identityId, EXISTS, name])
    return rows.map((row) => row.name)
  }

  async identityUsage(identityId: string): Promise<UsageRow> {
    return toUsage(await this.#c.get<UsageSql>('identityUsage', [identityId, EXISTS]))
  }

  async poolUsage(identityPoolId: string): Promise<UsageRow> {
    return toUsage(await this.#c.get<UsageSql>('poolUsage', [identityPoolId, EXISTS]))
  }

  async getRecords(identityId: string, dataset: string, keys: readonly string[]): Promise<RecordRow[]> {
    const connection = this.#c
    if (keys.length === 0) return []
    const rows = await connection.allOf<RecordSql>('getRecords', [identityId, dataset], [...new Set(keys)])
    return rows.map(toRecord)
  }

  async listRecords(identityId: string, dataset: string, query: ListRecordsQuery): Promise<RecordRow[]> {
    const { afterSyncCount, after } = query
    const limit = pageSize(query.limit)
    // Every row past a cursor at or above the floor is above the floor; a cursor below the floor
    // excludes nothing the floor keeps.
    const rows =
      after !== undefined && after.syncCount >= afterSyncCount
        ? await this.#c.all<RecordSql>('listRecordsAfter', [
            identityId,
            dataset,
            after.syncCount,
            after.key,
            limit,
          ])
        : await this.#c.all<RecordSql>('listRecords', [identityId, dataset, afterSyncCount, limit])
    return rows.map(toRecord)
  }

  async putRecords(identityId: string, dataset: string, rows: readonly RecordRow[]): Promise<void> {
    const connection = this.#c
    if (rows.length === 0) return
    await connection.runBatch(
      'putRecords',
      lastPerKey(rows).map((row) => recordParams(identityId, dataset, row)),
    )
  }

  async deleteAllRecords(identityId: string, dataset: string): Promise<void> {
    await this.#c.run('deleteAllRecords', [identityId, dataset])
  }

  async moveRecords(
    from: { identityId: string; dataset: string },
    to: { identityId: string; dataset: string },
  ): Promise<void> {
    const connection = this.#c
    // Copy-then-delete would delete everything when moving a dataset onto itself.
    if (from.identityId === to.identityId && from.dataset === to.dataset) return
    await connection.run('copyRecords', [to.identityId, to.dataset, from.identityId, from.dataset])
    await connection.run('deleteAllRecords', [from.identityId, from.dataset])
  }

  async getDevice(deviceId: string): Promise<DeviceRow | undefined> {
    const row = await this.#c.get<DeviceSql>('getDevice', [deviceId])
    return row && toDevice(row)
  }

  async findDevice(
    identityId: string,
    platform: DevicePlatform,
    token: string,
  ): Promise<DeviceRow | undefined> {
    const row = await this.#c.get<DeviceSql>('findDevice', [identityId, platform, token])
    return row && toDevice(row)
  }

  async putDevice(row: DeviceRow): Promise<void> {
    await this.#c.run('putDevice', deviceParams(row))
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.#c.run('deleteDevice', [deviceId])
  }

  async putSubscription(identityId: string, dataset: string, deviceId: string): Promise<void> {
    await this.#c.run('putSubscription', [identityId, dataset, deviceId])
  }

  async deleteSubscription(identityId: string, dataset: string, deviceId: string): Promise<boolean> {
    return (await this.#c.run('deleteSubscription', [identityId, dataset, deviceId])) > 0
  }

  async listSubscribedDevices(identityId: string, dataset: string): Promise<DeviceRow[]> {
    return (await this.#c.all<DeviceSql>('listSubscribedDevices', [identityId, dataset])).map(toDevice)
  }

  async isSessionSpent(tokenId: string): Promise<boolean> {
    return (await this.#c.get('isSessionSpent', [tokenId])) !== undefined
  }

  async spendSession(tokenId: string, expiresAt: number): Promise<void> {
    await this.#c.run('spendSession', [tokenId, expiresAt])
  }

  async pruneSpentSessions(now: number): Promise<number> {
    return this.#c.run('pruneSpentSessions', [now])
  }

  async getPool(identityPoolId: string, options: ForUpdate = {}): Promise<PoolRow | undefined> {
    if (options.forUpdate === true) await this.#c.lock('pool', identityPoolId)
    const row = await this.#c.get<PoolSql>('getPool', [identityPoolId])
    return row && toPool(row)
  }

  async putPool(row: PoolRow): Promise<void> {
    await this.#c.run('putPool', poolParams(row))
  }

  async countSyncSession(identityPoolId: string, identityId: string): Promise<void> {
    await this.#c.run('countSyncSession', [identityPoolId, identityId])
  }

  async syncSessionsCount(identityPoolId: string): Promise<number> {
    const row = await this.#c.get<{ sessions: number | string }>('syncSessionsCount', [
      identityPoolId,
      identityPoolId,
    ])
    return row === undefined ? 0 : int(row.sessions)
  }

  async putOutbox(rows: readonly OutboxRow[]): Promise<void> {
    const connection = this.#c
    if (rows.length === 0) return
    await connection.runBatch('putOutbox', newestPerPush(rows).map(outboxParams))
  }

  async dueOutbox(now: number, limit: number): Promise<OutboxRow[]> {
    const connection = this.#c
    const holder = connection.claimHolder
    if (holder === undefined) {
      return (await connection.all<OutboxSql>('dueOutbox', [now, pageSize(limit)])).map(toOutbox)
    }
    // Without a holder this process could not keep what it claims: it takes nothing for now.
    const me = holder()
    if (me === undefined) return []
    const rows = await connection.all<OutboxSql>('claimDueOutbox', [now, me, pageSize(limit), me])
    return rows.map(toOutbox)
  }

  async nextOutboxTime(now: number): Promise<number | undefined> {
    const connection = this.#c
    const holder = connection.claimHolder
    if (holder === undefined) {
      const row = await connection.get<{ next: number | string | null }>('nextOutboxTime', [])
      return row?.next == null ? undefined : int(row.next)
    }
    const me = holder()
    if (me === undefined) {
      const count = await this.countOutbox()
      return count === 0 ? undefined : now + OUTBOX_CLAIM_RECHECK_MS
    }
    const row = await connection.get<{ next: number | string | null; held: number | string }>(
      'nextClaimableOutboxTime',
      [me, me],
    )
    const next = intOrNull(row?.next ?? null)
    if (row === undefined || int(row.held) === 0) return next ?? undefined
    return Math.min(next ?? Number.POSITIVE_INFINITY, now + OUTBOX_CLAIM_RECHECK_MS)
  }

  async deleteOutbox(deviceId: string, datasetName: string, syncCount: number): Promise<boolean> {
    return (await this.#c.run('deleteOutbox', [deviceId, datasetName, syncCount])) > 0
  }

  async rescheduleOutbox(
    deviceId: string,
    datasetName: string,
    syncCount: number,
    attempts: number,
    notBefore: number,
  ): Promise<boolean> {
    const changed = await this.#c.run('rescheduleOutbox', [
      attempts,
      notBefore,
      deviceId,
      datasetName,
      syncCount,
    ])
    return changed > 0
  }

  async countOutbox(): Promise<number> {
    const row = await this.#c.get<{ count: number | string }>('countOutbox', [])
    return row === undefined ? 0 : int(row.count)
  }

  async outboxSummary(): Promise<OutboxSummary> {
    const row = await this.#c.get<{ rows: number | string; oldest: number | string | null }>(
      'outboxSummary',
      [],
    )
    return {
      rows: row === undefined ? 0 : int(row.rows),
      oldestQueuedAt: row?.oldest == null ? undefined : int(row.oldest),
    }
  }

  async getPushEndpoint(deviceId: string): Promise<PushEndpointRow | undefined> {
    const row = await this.#c.get<PushEndpointSql>('getPushEndpoint', [deviceId])
    return row && toPushEndpoint(row)
  }

  async putPushEndpoint(row: PushEndpointRow): Promise<void> {
    await this.#c.run('putPushEndpoint', pushEndpointParams(row))
  }

  async deletePushEndpoint(deviceId: string, endpointArn: string): Promise<boolean> {
    return (await this.#c.run('deletePushEndpoint', [deviceId, endpointArn])) > 0
  }

  async putStreamOutbox(rows: readonly NewStreamOutboxRow[]): Promise<void> {
    const connection = this.#c
    if (rows.length === 0) return
    await connection.runBatch('putStreamOutbox', rows.map(streamOutboxParams))
  }

  async dueStreamOutbox(now: number, limit: number): Promise<StreamOutboxRow[]> {
    const connection = this.#c
    const holder = connection.claimHolder
    if (holder === undefined) {
      const rows = await connection.all<StreamOutboxSql>('dueStreamOutbox', [now, pageSize(limit)])
      return rows.map(toStreamOutbox)
    }
    const me = holder()
    if (me === undefined) return []
    const rows = await connection.all<StreamOutboxSql>('claimDueStreamOutbox', [now, me, pageSize(limit), me])
    return rows.map(toStreamOutbox)
  }

  async nextStreamOutboxTime(now: number): Promise<number | undefined> {
    const connection = this.#c
    const holder = connection.claimHolder
    if (holder === undefined) {
      const row = await connection.get<{ next: number | string | null }>('nextStreamOutboxTime', [])
      return row?.next == null ? undefined : int(row.next)
    }
    const me = holder()
    if (me === undefined) {
      const count = await this.countStreamOutbox()
      return count === 0 ? undefined : now + OUTBOX_CLAIM_RECHECK_MS
    }
    const row = await connection.get<{ next: number | string | null; held: number | string }>(
      'nextClaimableStreamOutboxTime',
      [me, me],
    )
    const next = intOrNull(row?.next ?? null)
    if (row === undefined || int(row.held) === 0) return next ?? undefined
    return Math.min(next ?? Number.POSITIVE_INFINITY, now + OUTBOX_CLAIM_RECHECK_MS)
  }

  async deleteStreamOutbox(id: number): Promise<boolean> {
    return (await this.#c.run('deleteStreamOutbox', [id])) > 0
  }

  async rescheduleStreamOutbox(id: number, attempts: number, notBefore: number): Promise<boolean> {
    return (await this.#c.run('rescheduleStreamOutbox', [attempts, notBefore, id])) > 0
  }

  async countStreamOutbox(): Promise<number> {
    const row = await this.#c.get<{ count: number | string }>('countStreamOutbox', [])
    return row === undefined ? 0 : int(row.count)
  }
}
