import type {
  DatasetRow,
  DevicePlatform,
  DeviceRow,
  IdentityRow,
  ListDatasetsQuery,
  ListRecordsQuery,
  LoginRow,
  NewStreamOutboxRow,
  OutboxRow,
  OutboxSummary,
  PoolRow,
  PushEndpointRow,
  RecordRow,
  StoreReadiness,
  StoreTx,
  StreamOutboxRow,
  SyncStore,
  UsageRow,
} from './contract.js'
import {
  CLOSED,
  lastPerKey,
  newestPerPush,
  pageSize,
  serialTransactions,
  TransactionScope,
} from './shared.js'

/**
 * The in-memory store, for tests and throwaway servers. Every key is user data (dataset names,
 * record keys, ids), so the state lives in Maps only: a plain object would turn `__proto__` or
 * `constructor` into its prototype's members.
 *
 * Transactions run one at a time, in the order they were started. Each keeps an undo log of the
 * map writes it made and replays it backwards when the callback rejects, so a failed transaction
 * costs what it wrote instead of a copy of the whole state.
 *
 * Strings order by code point, which is the UTF-8 byte order SQLite's BINARY collation (and
 * PostgreSQL's "C" collation) uses, so every store pages through the same sequence.
 */
export function createMemoryStore(): SyncStore {
  const state: State = {
    settings: new Map(),
    identities: new Map(),
    logins: new Map(),
    datasets: new Map(),
    records: new Map(),
    devices: new Map(),
    subscriptions: new Map(),
    spentSessions: new Map(),
    pools: new Map(),
    sessionCounts: new Map(),
    outbox: new Map(),
    pushEndpoints: new Map(),
    streamOutbox: new Map(),
    streamIds: { next: 1 },
  }
  const queue = serialTransactions(async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    const journal = new Journal()
    const tx = new MemoryTx(state, journal)
    try {
      return await fn(tx)
    } catch (error) {
      tx.end()
      journal.rollback()
      throw error
    } finally {
      tx.end()
    }
  })

  return {
    kind: 'memory',
    // One transaction at a time serialises every identity, which is what `lock` asks for.
    transaction: queue.transaction,
    close: queue.close,
    async readiness(): Promise<StoreReadiness> {
      return queue.closed ? CLOSED : { ready: true }
    },
  }
}

interface State {
  readonly settings: Map<string, string>
  readonly identities: Map<string, IdentityRow>
  /** By `key([identityPoolId, provider, subject])`. */
  readonly logins: Map<string, LoginRow>
  /** identityId → dataset name → row. */
  readonly datasets: Map<string, Map<string, DatasetRow>>
  /** `key([identityId, dataset])` → record key → row. */
  readonly records: Map<string, Map<string, RecordRow>>
  readonly devices: Map<string, DeviceRow>
  /** `key([identityId, dataset])` → the subscribed device ids. */
  readonly subscriptions: Map<string, Map<string, true>>
  /** Token id → expiry. */
  readonly spentSessions: Map<string, number>
  readonly pools: Map<string, PoolRow>
  /** identityPoolId → identityId → accepted UpdateRecords. */
  readonly sessionCounts: Map<string, Map<string, number>>
  /** `key([deviceId, datasetName])` → the pending push. */
  readonly outbox: Map<string, OutboxRow>
  /** deviceId → the device's SNS endpoint. */
  readonly pushEndpoints: Map<string, PushEndpointRow>
  /** id → the stream record, in id order (Maps keep insertion order). */
  readonly streamOutbox: Map<number, StreamOutboxRow>
  /** The next stream record's id; ids are never reused, not even after a rollback. */
  readonly streamIds: { next: number }
}

/** A composite map key; JSON keeps it unambiguous whatever characters the parts contain. */
const key = (parts: readonly string[]): string => JSON.stringify(parts)

class Journal {
  readonly #undo: (() => void)[] = []

  set<K, V>(map: Map<K, V>, k: K, value: V): void {
    if (map.has(k)) {
      const old = map.get(k) as V
      this.#undo.push(() => map.set(k, old))
    } else {
      this.#undo.push(() => map.delete(k))
    }
    map.set(k, value)
  }

  delete<K, V>(map: Map<K, V>, k: K): boolean {
    if (!map.has(k)) return false
    const old = map.get(k) as V
    this.#undo.push(() => map.set(k, old))
    map.delete(k)
    return true
  }

  /** The map under `k`, created (and journalled) when missing. */
  inner<K, K2, V>(map: Map<K, Map<K2, V>>, k: K): Map<K2, V> {
    let found = map.get(k)
    if (found === undefined) {
      found = new Map()
      this.set(map, k, found)
    }
    return found
  }

  rollback(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]?.()
    this.#undo.length = 0
  }
}

class MemoryTx implements StoreTx {
  readonly #s: State
  readonly #j: Journal
  readonly #scope = new TransactionScope()

  constructor(state: State, journal: Journal) {
    this.#s = state
    this.#j = journal
  }

  end(): void {
    this.#scope.end()
  }

  #check(): void {
    this.#scope.check()
  }

  async getSetting(name: string): Promise<string | undefined> {
    this.#check()
    return this.#s.settings.get(name)
  }

  async putSetting(name: string, value: string): Promise<void> {
    this.#check()
    this.#j.set(this.#s.settings, name, value)
  }

  async getIdentity(identityId: string): Promise<IdentityRow | undefined> {
    this.#check()
    const row = this.#s.identities.get(identityId)
    return row && copyIdentity(row)
  }

  async putIdentity(row: IdentityRow): Promise<void> {
    this.#check()
    this.#j.set(this.#s.identities, row.identityId, copyIdentity(row))
  }

  async findLogin(identityPoolId: string, provider: string, subject: string): Promise<LoginRow | undefined> {
    this.#check()
    const row = this.#s.logins.get(key([identityPoolId, provider, subject]))
    return row && copyLogin(row)
  }

  async putLogin(row: LoginRow): Promise<void> {
    this.#check()
    this.#j.set(this.#s.logins, key([row.identityPoolId, row.provider, row.subject]), copyLogin(row))
  }

  async poolHasIdentities(identityPoolId: string): Promise<boolean> {
    this.#check()
    for (const identity of this.#s.identities.values()) {
      if (identity.identityPoolId === identityPoolId) return true
    }
    return false
  }

  async listPoolIds(query: { readonly afterPoolId?: string; readonly limit?: number }): Promise<string[]> {
    this.#check()
    const ids = new Set<string>()
    for (const identity of this.#s.identities.values()) ids.add(identity.identityPoolId)
    const after = query.afterPoolId
    return [...ids]
      .filter((id) => after === undefined || compareCodePoints(id, after) > 0)
      .sort(compareCodePoints)
      .slice(0, pageSize(query.limit))
  }

  async getDataset(identityId: string, name: string): Promise<DatasetRow | undefined> {
    this.#check()
    const row = this.#s.datasets.get(identityId)?.get(name)
    return row && copyDataset(row)
  }

  async listDatasets(identityId: string, query: ListDatasetsQuery = {}): Promise<DatasetRow[]> {
    this.#check()
    const after = query.afterName
    return this.#existingDatasets(identityId)
      .filter((row) => after === undefined || compareCodePoints(row.name, after) > 0)
      .sort((a, b) => compareCodePoints(a.name, b.name))
      .slice(0, pageSize(query.limit))
      .map(copyDataset)
  }

  async putDataset(row: DatasetRow): Promise<void> {
    this.#check()
    this.#j.set(this.#j.inner(this.#s.datasets, row.identityId), row.name, copyDataset(row))
  }

  async listPoolDatasets(
    identityPoolId: string,
    query: {
      readonly after?: { readonly identityId: string; readonly name: string }
      readonly limit?: number
    },
  ): Promise<DatasetRow[]> {
    this.#check()
    const { after } = query
    const rows: DatasetRow[] = []
    for (const datasets of this.#s.datasets.values()) {
      for (const row of datasets.values()) {
        if (
          row.exists &&
          row.identityPoolId === identityPoolId &&
          (after === undefined || compareDatasets(row, after) > 0)
        ) {
          rows.push(row)
        }
      }
    }
    return rows.sort(compareDatasets).slice(0, pageSize(query.limit)).map(copyDataset)
  }

  async listMergedDatasetNames(identityId: string, name: string): Promise<string[]> {
    this.#check()
    return this.#existingDatasets(identityId)
      .filter((row) => row.mergedInto === name)
      .map((row) => row.name)
      .sort(compareCodePoints)
  }

  async identityUsage(identityId: string): Promise<UsageRow> {
    this.#check()
    return usage(this.#existingDatasets(identityId))
  }

  async poolUsage(identityPoolId: string): Promise<UsageRow> {
    this.#check()
    const rows: DatasetRow[] = []
    for (const datasets of this.#s.datasets.values()) {
      for (const row of datasets.values()) {
        if (row.exists && row.identityPoolId === identityPoolId) rows.push(row)
      }
    }
    return usage(rows)
  }

  async getRecords(identityId: string, dataset: string, keys: readonly string[]): Promise<RecordRow[]> {
    this.#check()
    const records = this.#s.records.get(key([identityId, dataset]))
    const rows: RecordRow[] = []
    if (records === undefined) return rows
    for (const k of new Set(keys)) {
      const row = records.get(k)
      if (row !== undefined) rows.push(copyRecord(row))
    }
    return rows
  }

  async listRecords(identityId: string, dataset: string, query: ListRecordsQuery): Promise<RecordRow[]> {
    this.#check()
    const records = this.#s.records.get(key([identityId, dataset]))
    if (records === undefined) return []
    const { afterSyncCount, after } = query
    return [...records.values()]
      .filter(
        (row) => row.syncCount > afterSyncCount && (after === undefined || compareRecords(row, after) > 0),
      )
      .sort(compareRecords)
      .slice(0, pageSize(query.limit))
      .map(copyRecord)
  }

  async putRecords(identityId: string, dataset: string, rows: readonly RecordRow[]): Promise<void> {
    this.#check()
    if (rows.length === 0) return
    const records = this.#j.inner(this.#s.records, key([identityId, dataset]))
    for (const row of lastPerKey(rows)) this.#j.set(records, row.key, copyRecord(row))
  }

  async deleteAllRecords(identityId: string, dataset: string): Promise<void> {
    this.#check()
    this.#j.delete(this.#s.records, key([identityId, dataset]))
  }

  async moveRecords(
    from: { identityId: string; dataset: string },
    to: { identityId: string; dataset: string },
  ): Promise<void> {
    this.#check()
    const fromKey = key([from.identityId, from.dataset])
    const toKey = key([to.identityId, to.dataset])
    // Moving a dataset onto itself must keep its records, not delete them after copying.
    if (fromKey === toKey) return
    const records = this.#s.records.get(fromKey)
    if (records === undefined) return
    // A moved record replaces a target record of the same key, as a SQL upsert would.
    const target = this.#j.inner(this.#s.records, toKey)
    for (const row of records.values()) this.#j.set(target, row.key, row)
    this.#j.delete(this.#s.records, fromKey)
  }

  async getDevice(deviceId: string): Promise<DeviceRow | undefined> {
    this.#check()
    const row = this.#s.devices.get(deviceId)
    return row && copyDevice(row)
  }

  async findDevice(
    identityId: string,
    platform: DevicePlatform,
    token: string,
  ): Promise<DeviceRow | undefined> {
    this.#check()
    const row = this.#findDevice(identityId, platform, token)
    return row && copyDevice(row)
  }

  async putDevice(row: DeviceRow): Promise<void> {
    this.#check()
    // The SQL stores keep (identity, platform, token) unique; a second device id for the same
    // token is a caller bug (RegisterDevice looks the token up first), so it fails here as there.
    const other = this.#findDevice(row.identityId, row.platform, row.token)
    if (other !== undefined && other.deviceId !== row.deviceId) {
      throw new Error(`Device ${other.deviceId} already has this identity, platform and token`)
    }
    this.#j.set(this.#s.devices, row.deviceId, copyDevice(row))
  }

  async deleteDevice(deviceId: string): Promise<void> {
    this.#check()
    if (!this.#j.delete(this.#s.devices, deviceId)) return
    for (const devices of this.#s.subscriptions.values()) this.#j.delete(devices, deviceId)
    this.#j.delete(this.#s.pushEndpoints, deviceId)
  }

  async putSubscription(identityId: string, dataset: string, deviceId: string): Promise<void> {
    this.#check()
    // Mirrors the SQL stores' foreign key: a subscription names a registered device.
    if (!this.#s.devices.has(deviceId)) throw new Error(`Unknown device ${deviceId}`)
    const devices = this.#j.inner(this.#s.subscriptions, key([identityId, dataset]))
    if (!devices.has(deviceId)) this.#j.set(devices, deviceId, true)
  }

  async deleteSubscription(identityId: string, dataset: string, deviceId: string): Promise<boolean> {
    this.#check()
    const devices = this.#s.subscriptions.get(key([identityId, dataset]))
    return devices !== undefined && this.#j.delete(devices, deviceId)
  }

  async listSubscribedDevices(identityId: string, dataset: string): Promise<DeviceRow[]> {
    this.#check()
    const rows: DeviceRow[] = []
    for (const deviceId of this.#s.subscriptions.get(key([identityId, dataset]))?.keys() ?? []) {
      const row = this.#s.devices.get(deviceId)
      if (row !== undefined) rows.push(copyDevice(row))
    }
    return rows.sort((a, b) => compareCodePoints(a.deviceId, b.deviceId))
  }

  async isSessionSpent(tokenId: string): Promise<boolean> {
    this.#check()
    return this.#s.spentSessions.has(tokenId)
  }

  async spendSession(tokenId: string, expiresAt: number): Promise<void> {
    this.#check()
    this.#j.set(this.#s.spentSessions, tokenId, expiresAt)
  }

  async pruneSpentSessions(now: number): Promise<number> {
    this.#check()
    let dropped = 0
    for (const [id, expiry] of this.#s.spentSessions) {
      if (expiry < now && this.#j.delete(this.#s.spentSessions, id)) dropped++
    }
    return dropped
  }

  async getPool(identityPoolId: string): Promise<PoolRow | undefined> {
    this.#check()
    const row = this.#s.pools.get(identityPoolId)
    return row && copyPool(row)
  }

  async putPool(row: PoolRow): Promise<void> {
    this.#check()
    this.#j.set(this.#s.pools, row.identityPoolId, copyPool(row))
  }

  async countSyncSession(identityPoolId: string, identityId: string): Promise<void> {
    this.#check()
    const counts = this.#j.inner(this.#s.sessionCounts, identityPoolId)
    this.#j.set(counts, identityId, (counts.get(identityId) ?? 0) + 1)
  }

  async syncSessionsCount(identityPoolId: string): Promise<number> {
    this.#check()
    let total = 0
    for (const count of this.#s.sessionCounts.get(identityPoolId)?.values() ?? []) total += count
    return total
  }

  async putOutbox(rows: readonly OutboxRow[]): Promise<void> {
    this.#check()
    for (const row of newestPerPush(rows)) {
      const k = key([row.deviceId, row.datasetName])
      const pending = this.#s.outbox.get(k)
      if (pending === undefined) this.#j.set(this.#s.outbox, k, copyOutbox(row))
      else if (row.syncCount > pending.syncCount)
        this.#j.set(this.#s.outbox, k, {
          ...copyOutbox(row),
          queuedAt: Math.min(pending.queuedAt, row.queuedAt),
        })
    }
  }

  async dueOutbox(now: number, limit: number): Promise<OutboxRow[]> {
    this.#check()
    return [...this.#s.outbox.values()]
      .filter((row) => row.notBefore <= now)
      .sort(
        (a, b) =>
          a.notBefore - b.notBefore ||
          compareCodePoints(a.deviceId, b.deviceId) ||
          compareCodePoints(a.datasetName, b.datasetName),
      )
      .slice(0, pageSize(limit))
      .map(copyOutbox)
  }

  // One process: no other holds rows.
  async nextOutboxTime(): Promise<number | undefined> {
    this.#check()
    let next: number | undefined
    for (const row of this.#s.outbox.values()) {
      if (next === undefined || row.notBefore < next) next = row.notBefore
    }
    return next
  }

  async deleteOutbox(deviceId: string, datasetName: string, syncCount: number): Promise<boolean> {
    this.#check()
    const k = key([deviceId, datasetName])
    if (this.#s.outbox.get(k)?.syncCount !== syncCount) return false
    return this.#j.delete(this.#s.outbox, k)
  }

  async rescheduleOutbox(
    deviceId: string,
    datasetName: string,
    syncCount: number,
    attempts: number,
    notBefore: number,
  ): Promise<boolean> {
    this.#check()
    const k = key([deviceId, datasetName])
    const row = this.#s.outbox.get(k)
    if (row?.syncCount !== syncCount) return false
    this.#j.set(this.#s.outbox, k, { ...copyOutbox(row), attempts, notBefore })
    return true
  }

  async countOutbox(): Promise<number> {
    this.#check()
    return this.#s.outbox.size
  }

  async outboxSummary(): Promise<OutboxSummary> {
    this.#check()
    let oldestQueuedAt: number | undefined
    for (const row of this.#s.outbox.values()) {
      if (oldestQueuedAt === undefined || row.queuedAt < oldestQueuedAt) oldestQueuedAt = row.queuedAt
    }
    return { rows: this.#s.outbox.size, oldestQueuedAt }
  }

  async getPushEndpoint(deviceId: string): Promise<PushEndpointRow | undefined> {
    this.#check()
    const row = this.#s.pushEndpoints.get(deviceId)
    return row && { ...row }
  }

  async putPushEndpoint(row: PushEndpointRow): Promise<void> {
    this.#check()
    // Mirrors the SQL stores' foreign key: an endpoint belongs to a registered device.
    if (!this.#s.devices.has(row.deviceId)) throw new Error(`Unknown device ${row.deviceId}`)
    this.#j.set(this.#s.pushEndpoints, row.deviceId, { ...row })
  }

  async deletePushEndpoint(deviceId: string, endpointArn: string): Promise<boolean> {
    this.#check()
    if (this.#s.pushEndpoints.get(deviceId)?.endpointArn !== endpointArn) return false
    return this.#j.delete(this.#s.pushEndpoints, deviceId)
  }

  async putStreamOutbox(rows: readonly NewStreamOutboxRow[]): Promise<void> {
    this.#check()
    for (const row of rows) {
      const id = this.#s.streamIds.next++
      this.#j.set(this.#s.streamOutbox, id, { ...row, id })
    }
  }

  async dueStreamOutbox(now: number, limit: number): Promise<StreamOutboxRow[]> {
    this.#check()
    return this.#streamHeads()
      .filter((row) => row.notBefore <= now)
      .slice(0, pageSize(limit))
  }

  async nextStreamOutboxTime(): Promise<number | undefined> {
    this.#check()
    let next: number | undefined
    for (const row of this.#streamHeads())
      if (next === undefined || row.notBefore < next) next = row.notBefore
    return next
  }

  async deleteStreamOutbox(id: number): Promise<boolean> {
    this.#check()
    return this.#j.delete(this.#s.streamOutbox, id)
  }

  async rescheduleStreamOutbox(id: number, attempts: number, notBefore: number): Promise<boolean> {
    this.#check()
    const row = this.#s.streamOutbox.get(id)
    if (row === undefined) return false
    this.#j.set(this.#s.streamOutbox, id, { ...row, attempts, notBefore })
    return true
  }

  async countStreamOutbox(): Promise<number> {
    this.#check()
    return this.#s.streamOutbox.size
  }

  /** Each identity's oldest stream record, in id order. */
  #streamHeads(): StreamOutboxRow[] {
    const heads = new Map<string, StreamOutboxRow>()
    for (const row of this.#s.streamOutbox.values()) {
      const head = heads.get(row.identityId)
      if (head === undefined || row.id < head.id) heads.set(row.identityId, row)
    }
    return [...heads.values()].sort((a, b) => a.id - b.id).map((row) => ({ ...row }))
  }

  #existingDatasets(identityId: string): DatasetRow[] {
    return [...(this.#s.datasets.get(identityId)?.values() ?? [])].filter((row) => row.exists)
  }

  #findDevice(identityId: string, platform: DevicePlatform, token: string): DeviceRow | undefined {
    for (const row of this.#s.devices.values()) {
      if (row.identityId === identityId && row.platform === platform && row.token === token) return row
    }
    return undefined
  }
}

const usage = (rows: readonly DatasetRow[]): UsageRow => {
  let dataStorage = 0
  let lastModifiedDate: number | null = null
  for (const row of rows) {
    dataStorage += row.dataStorage
    if (lastModifiedDate === null || row.lastModifiedDate > lastModifiedDate)
      lastModifiedDate = row.lastModifiedDate
  }
  return { datasetCount: rows.length, dataStorage, lastModifiedDate }
}

/**
 * Code point order. UTF-16 code units sort the surrogates of U+10000 and above before U+E000-U+FFFF;
 * lifting them over that range restores code point order (which is UTF-8 byte order).
 */
const compareCodePoints = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? lift(x) - lift(y) : x - y
  }
  return a.length - b.length
}

const lift = (unit: number): number => (unit >= 0xe000 ? unit - 0x800 : unit + 0x2000)

const compareRecords = (
  a: { readonly syncCount: number; readonly key: string },
  b: { readonly syncCount: number; readonly key: string },
): number => a.syncCount - b.syncCount || compareCodePoints(a.key, b.key)

const compareDatasets = (
  a: { readonly identityId: string; readonly name: string },
  b: { readonly identityId: string; readonly name: string },
): number => compareCodePoints(a.identityId, b.identityId) || compareCodePoints(a.name, b.name)

// The copies name every field so that nothing but the contract's fields is stored or handed out,
// as the SQL stores' columns guarantee.

const copyIdentity = (r: IdentityRow): IdentityRow => ({
  identityId: r.identityId,
  identityPoolId: r.identityPoolId,
  createdAt: r.createdAt,
  mergedInto: r.mergedInto,
})

const copyLogin = (r: LoginRow): LoginRow => ({
  identityPoolId: r.identityPoolId,
  provider: r.provider,
  subject: r.subject,
  identityId: r.identityId,
})

const copyDataset = (r: DatasetRow): DatasetRow => ({
  identityPoolId: r.identityPoolId,
  identityId: r.identityId,
  name: r.name,
  syncCount: r.syncCount,
  exists: r.exists,
  deletedAtSyncCount: r.deletedAtSyncCount,
  creationDate: r.creationDate,
  lastModifiedDate: r.lastModifiedDate,
  lastModifiedBy: r.lastModifiedBy,
  numRecords: r.numRecords,
  dataStorage: r.dataStorage,
  mergedInto: r.mergedInto,
})

const copyRecord = (r: RecordRow): RecordRow => ({
  key: r.key,
  value: r.value,
  syncCount: r.syncCount,
  lastModifiedDate: r.lastModifiedDate,
  lastModifiedBy: r.lastModifiedBy,
  deviceLastModifiedDate: r.deviceLastModifiedDate,
})

const copyDevice = (r: DeviceRow): DeviceRow => ({
  deviceId: r.deviceId,
  identityPoolId: r.identityPoolId,
  identityId: r.identityId,
  platform: r.platform,
  token: r.token,
  createdAt: r.createdAt,
})

const copyPool = (r: PoolRow): PoolRow => ({
  identityPoolId: r.identityPoolId,
  pushSync: r.pushSync,
  cognitoStreams: r.cognitoStreams,
  events: r.events,
  bulkPublishStatus: r.bulkPublishStatus,
  bulkPublishStartTime: r.bulkPublishStartTime,
  bulkPublishCompleteTime: r.bulkPublishCompleteTime,
  bulkPublishFailureMessage: r.bulkPublishFailureMessage,
})

const copyOutbox = (r: OutboxRow): OutboxRow => ({
  deviceId: r.deviceId,
  identityPoolId: r.identityPoolId,
  identityId: r.identityId,
  datasetName: r.datasetName,
  syncCount: r.syncCount,
  attempts: r.attempts,
  notBefore: r.notBefore,
  expiresAt: r.expiresAt,
  queuedAt: r.queuedAt,
})
