import type { PullResult, RecordPatch, RemoteRecord } from '../../../src/core/index.js'

/**
 * A Cognito Sync server for one dataset, reduced to its rules: one counter that rises by one per
 * accepted UpdateRecords, per-record sync counts checked on every patch, tombstones, all or nothing.
 * It keeps every version of every record so tests can ask what the server held at any count.
 */
export class ServerModel {
  count = 0
  private readonly records = new Map<string, RemoteRecord>()
  /** key → sync count → value written at that count. */
  readonly history = new Map<string, Map<number, string | null>>()
  updateCalls = 0
  private time = 1_000_000

  listRecords(lastSyncCount: number): PullResult {
    const records = [...this.records.values()].filter((record) => record.syncCount > lastSyncCount)
    return {
      records,
      datasetSyncCount: this.count,
      datasetExists: this.count > 0,
      datasetDeletedAfterRequestedSyncCount: false,
      mergedDatasetNames: [],
    }
  }

  updateRecords(
    patches: readonly RecordPatch[],
    writer: string,
  ): { ok: true; records: RemoteRecord[] } | { ok: false; key: string; current: number } {
    this.updateCalls++
    for (const patch of patches) {
      const current = this.records.get(patch.key)?.syncCount ?? 0
      if (current !== patch.syncCount) return { ok: false, key: patch.key, current }
    }
    this.count++
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
      const versions = this.history.get(patch.key) ?? new Map<number, string | null>()
      versions.set(this.count, record.value)
      this.history.set(patch.key, versions)
      return record
    })
    return { ok: true, records: written }
  }

  /** Another device of the identity writes one record, based on the server's current row. */
  remoteWrite(key: string, value: string | null, deviceTime: number): void {
    const syncCount = this.records.get(key)?.syncCount ?? 0
    const result = this.updateRecords(
      [
        {
          op: value === null ? 'remove' : 'replace',
          key,
          value,
          syncCount,
          deviceLastModifiedDate: deviceTime,
        },
      ],
      'other-device',
    )
    if (!result.ok) throw new Error('a write based on the current row cannot conflict')
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
}
