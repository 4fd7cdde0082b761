import { DEFAULT_LIMITS, type Limits } from '../../core/limits.js'
import type { PullResult, RecordPatch, RemoteRecord } from '../../core/model.js'
import { utf8ByteLength, validateKey, validateValue } from '../../core/validate.js'
import { showKey } from './text.js'

/** What UpdateRecords answered: the stored records, or why nothing was stored. */
export type UpdateAnswer =
  | { readonly ok: true; readonly records: readonly RemoteRecord[] }
  | {
      readonly ok: false
      /** `conflict` is Cognito's 409; `limit` and `invalid` are refusals no retry can fix. */
      readonly kind: 'conflict' | 'limit' | 'invalid'
      readonly message: string
    }

/**
 * A Cognito Sync server holding one dataset of one identity, reduced to the rules pushsync-server
 * follows: one counter that rises by one per accepted UpdateRecords (and per DeleteDataset, which
 * never resets it), per-record sync counts checked on every patch, tombstones, all or nothing, and
 * the record and byte quotas refusing only growth.
 *
 * It keeps every version of every record, so checks can ask what the server held at any count.
 */
export class ServerModel {
  /** The dataset's sync count. */
  count = 0
  /** Whether the dataset exists (it does from its first accepted write until a delete). */
  exists = false
  /** ListRecords calls received. */
  listCalls = 0
  /** UpdateRecords calls received, accepted or not. */
  updateCalls = 0
  /** key → sync count → value written at that count (`null`: removed). */
  readonly history = new Map<string, Map<number, string | null>>()
  /** The counts at which the dataset was deleted: every record it held went then. */
  readonly deletions: number[] = []
  private readonly records = new Map<string, RemoteRecord>()
  private readonly limits: Limits
  private deletedAt = 0
  private time = 1_000_000

  constructor(limits: Limits = DEFAULT_LIMITS) {
    this.limits = limits
  }

  /**
   * ListRecords: the records changed after `lastSyncCount`, or, when the dataset was deleted since,
   * every live record of its new incarnation with `datasetDeletedAfterRequestedSyncCount`.
   */
  listRecords(lastSyncCount: number): PullResult {
    this.listCalls++
    const deletedAfter = lastSyncCount > 0 && this.deletedAt > lastSyncCount
    const records = this.exists
      ? [...this.records.values()].filter((record) => record.syncCount > lastSyncCount)
      : []
    return {
      records,
      datasetSyncCount: this.count,
      datasetExists: this.exists,
      datasetDeletedAfterRequestedSyncCount: deletedAfter,
      mergedDatasetNames: [],
    }
  }

  /** UpdateRecords from `writer`: every patch must be based on its record's current count. */
  updateRecords(patches: readonly RecordPatch[], writer: string): UpdateAnswer {
    this.updateCalls++
    for (const patch of patches) {
      const key = validateKey(patch.key, this.limits)
      if (!key.ok) return { ok: false, kind: 'invalid', message: key.failure.message }
      if (patch.value !== null) {
        const value = validateValue(patch.value, this.limits)
        if (!value.ok) return { ok: false, kind: 'invalid', message: value.failure.message }
      }
    }
    for (const patch of patches) {
      const current = this.records.get(patch.key)?.syncCount ?? 0
      if (current !== patch.syncCount) {
        return {
          ok: false,
          kind: 'conflict',
          message: `Current SyncCount for: ${showKey(patch.key)} is: ${current} not: ${patch.syncCount}`,
        }
      }
    }
    const refusal = this.quotaRefusal(patches)
    if (refusal !== undefined) return { ok: false, kind: 'limit', message: refusal }

    this.count++
    this.exists = true
    this.time += 1000
    const written = patches.map((patch): RemoteRecord => {
      const record: RemoteRecord = {
        key: patch.key,
        value: patch.op === 'remove' ? null : patch.value,
        syncCount: this.count,
        lastModifiedDate: this.time,
        lastModifiedBy: writer,
        deviceLastModifiedDate: patch.deviceLastModifiedDate,
      }
      this.records.set(patch.key, record)
      this.versionsOf(patch.key).set(this.count, record.value)
      return record
    })
    return { ok: true, records: written }
  }

  /**
   * Another device of the identity writes one record, based on the server's current row, so it is
   * always accepted (unless a quota refuses it): a way to put the server in a given state.
   */
  remoteWrite(
    key: string,
    value: string | null,
    deviceTime: number,
    writer = 'another device',
  ): UpdateAnswer {
    const syncCount = this.records.get(key)?.syncCount ?? 0
    const op = value === null ? 'remove' : 'replace'
    return this.updateRecords([{ op, key, value, syncCount, deviceLastModifiedDate: deviceTime }], writer)
  }

  /** DeleteDataset: false when there is no dataset to delete (Cognito's ResourceNotFound). */
  deleteDataset(): boolean {
    if (!this.exists) return false
    this.count++
    this.deletedAt = this.count
    this.deletions.push(this.count)
    this.time += 1000
    for (const key of this.records.keys()) this.versionsOf(key).set(this.count, null)
    this.records.clear()
    this.exists = false
    return true
  }

  /** The server's current record of `key`, tombstones included. */
  record(key: string): RemoteRecord | undefined {
    return this.records.get(key)
  }

  /** Live records as a plain map, for comparing with a device. */
  liveView(): Map<string, string> {
    const view = new Map<string, string>()
    for (const record of this.records.values()) if (record.value !== null) view.set(record.key, record.value)
    return view
  }

  /** The newest version of `key` with a sync count at most `count`. */
  versionAtOrBefore(key: string, count: number): number | undefined {
    let best: number | undefined
    for (const syncCount of this.history.get(key)?.keys() ?? []) {
      if (syncCount <= count && (best === undefined || syncCount > best)) best = syncCount
    }
    return best
  }

  private versionsOf(key: string): Map<number, string | null> {
    let versions = this.history.get(key)
    if (versions === undefined) {
      versions = new Map()
      this.history.set(key, versions)
    }
    return versions
  }

  /** Why the quotas refuse the patches, if they do: only growth past a limit is refused. */
  private quotaRefusal(patches: readonly RecordPatch[]): string | undefined {
    let liveBefore = 0
    let bytesBefore = 0
    for (const record of this.records.values()) {
      if (record.value === null) continue
      liveBefore++
      bytesBefore += utf8ByteLength(record.key) + utf8ByteLength(record.value)
    }
    let live = liveBefore
    let bytes = bytesBefore
    for (const patch of patches) {
      const before = this.records.get(patch.key)
      if (before !== undefined && before.value !== null) {
        live--
        bytes -= utf8ByteLength(before.key) + utf8ByteLength(before.value)
      }
      if (patch.value !== null) {
        live++
        bytes += utf8ByteLength(patch.key) + utf8ByteLength(patch.value)
      }
    }
    const { maxRecordsPerDataset, maxDatasetBytes } = this.limits
    if (live > maxRecordsPerDataset && live > liveBefore) {
      return `LimitExceededException: the dataset would hold ${live} records; the limit is ${maxRecordsPerDataset}`
    }
    if (bytes > maxDatasetBytes && bytes > bytesBefore) {
      return `LimitExceededException: the dataset would hold ${bytes} bytes; the limit is ${maxDatasetBytes}`
    }
    return undefined
  }
}
