import {
  applyPushResult,
  type Conflict,
  type ConflictResolver,
  type DatasetMeta,
  DEFAULT_LIMITS,
  lastSyncCountAfterPushConflict,
  planLocalWrite,
  planPull,
  planPush,
  resolveConflict,
  type SyncRecord,
} from '../../../src/core/index.js'
import type { ServerModel } from './server-model.js'

export const MAX_RETRIES = 3

/** Things that go wrong during one synchronize, each at most once. */
export interface SyncFaults {
  /** The network is down: the pull fails. */
  readonly offline?: boolean
  /** Another device writes between this device's pull and its push. */
  readonly remoteWriteBeforePush?: { readonly key: string; readonly value: string | null }
  /** Another device writes before every push: the retries run out. */
  readonly remoteWriteBeforeEveryPush?: boolean
  /** The app writes locally while the push is in flight. */
  readonly localWriteDuringPush?: { readonly key: string; readonly value: string | null }
  /** The server commits the push, but its answer never arrives. */
  readonly lostAck?: boolean
}

export type SyncOutcome = 'ok' | 'offline' | 'retries-exhausted'

/** A local write the storage accepted, and what became of it. */
export interface WriteLogEntry {
  readonly key: string
  readonly value: string | null
}

/**
 * One device holding one dataset, running the client algorithm of the spec (§5.2) with the core's
 * decisions, the way the engine does: every storage step here is one transaction there.
 */
export class DeviceModel {
  meta: DatasetMeta = {
    identityId: 'us-east-1:00000000-0000-0000-0000-000000000001',
    name: 'settings',
    lastSyncCount: 0,
    creationDate: 0,
    lastModifiedDate: 0,
    lastModifiedBy: null,
    lastSyncDate: 0,
  }
  readonly records = new Map<string, SyncRecord>()
  readonly writes: WriteLogEntry[] = []
  /** Local values a conflict resolution discarded. */
  readonly discarded: WriteLogEntry[] = []
  conflictsSeen = 0
  /** Keys whose push the server committed without the device hearing of it. */
  readonly unacknowledged = new Set<string>()
  clock = 0

  private readonly resolver: ConflictResolver

  constructor(resolver: ConflictResolver) {
    this.resolver = resolver
  }

  write(key: string, value: string | null): void {
    this.clock += 7
    const plan = planLocalWrite(this.meta, [...this.records.values()], [{ key, value }], {
      now: this.clock,
      limits: DEFAULT_LIMITS,
    })
    if (!plan.ok) throw new Error(plan.failure.message)
    for (const record of plan.value.records) this.records.set(record.key, record)
    this.meta = plan.value.meta
    if (plan.value.records.length > 0) this.writes.push({ key, value })
  }

  synchronize(server: ServerModel, faults: SyncFaults = {}): SyncOutcome {
    if (faults.offline) return 'offline'
    let remoteWrite = faults.remoteWriteBeforePush
    let localWrite = faults.localWriteDuringPush
    for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
      const pull = server.listRecords(this.meta.lastSyncCount)
      const plan = planPull([...this.records.values()], pull, this.meta.lastSyncCount)
      for (const record of plan.apply) this.records.set(record.key, record)
      for (const conflict of plan.conflicts) this.resolve(conflict)
      this.meta = { ...this.meta, lastSyncCount: plan.lastSyncCount }

      const push = planPush([...this.records.values()])
      if (push.patches.length === 0) {
        // The app's write lands while the sync finishes; it waits for the next one.
        if (localWrite !== undefined) this.write(localWrite.key, localWrite.value)
        return 'ok'
      }
      if (remoteWrite !== undefined || faults.remoteWriteBeforeEveryPush) {
        const { key, value } = remoteWrite ?? { key: push.patches[0]?.key ?? 'k', value: `other-${attempt}` }
        server.remoteWrite(key, value, this.clock + 1)
        remoteWrite = undefined
      }
      const answer = server.updateRecords(push.patches, 'this-device')
      if (!answer.ok) {
        this.meta = {
          ...this.meta,
          lastSyncCount: lastSyncCountAfterPushConflict(this.meta.lastSyncCount, push.patches),
        }
        continue
      }
      if (faults.lostAck) {
        for (const patch of push.patches) this.unacknowledged.add(patch.key)
        return 'offline'
      }
      if (localWrite !== undefined) {
        this.write(localWrite.key, localWrite.value)
        localWrite = undefined
      }
      const result = applyPushResult({
        snapshot: push.snapshot,
        current: [...this.records.values()],
        returned: answer.records,
        seenDatasetSyncCount: pull.datasetSyncCount,
        lastSyncCount: this.meta.lastSyncCount,
      })
      for (const record of result.records) this.records.set(record.key, record)
      this.meta = { ...this.meta, lastSyncCount: result.lastSyncCount }
      return 'ok'
    }
    return 'retries-exhausted'
  }

  private resolve(conflict: Conflict): void {
    this.conflictsSeen++
    // A device does not conflict with its own acknowledged writes: the only way its own write comes
    // back as the remote side is a push whose answer was lost.
    if (conflict.remote.lastModifiedBy === 'this-device' && !this.unacknowledged.has(conflict.key)) {
      throw new Error(`false conflict on ${JSON.stringify(conflict.key)} with the device's own write`)
    }
    const resolution = this.resolver(conflict)
    const resolved = resolveConflict(conflict, resolution, { now: this.clock, limits: DEFAULT_LIMITS })
    if (!resolved.ok) throw new Error(resolved.failure.message)
    if (resolved.value.value !== conflict.local.value) {
      this.discarded.push({ key: conflict.key, value: conflict.local.value })
    }
    this.records.set(conflict.key, resolved.value)
  }

  liveView(): Map<string, string> {
    const view = new Map<string, string>()
    for (const record of this.records.values()) if (record.value !== null) view.set(record.key, record.value)
    return view
  }

  dirtyKeys(): string[] {
    return [...this.records.values()].filter((record) => record.dirty).map((record) => record.key)
  }
}
