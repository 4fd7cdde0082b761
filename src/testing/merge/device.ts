import type { DatasetMeta, SyncRecord } from '../../core/model.js'
import type { PushPlan } from '../../core/push.js'
import type { PushChannel } from './notifications.js'
import type { UpdateAnswer } from './server-model.js'
import { deviceName } from './steps.js'

/**
 * A sync of one device between its steps: it has pulled (and stored the pull with the resolved
 * conflicts), or it has sent its push and the server's answer is on its way. `attempt` counts the
 * passes the sync has made, as the engine's retry loop does; `seen` is the dataset count its
 * last pull reported.
 */
export type InFlightSync =
  | { readonly phase: 'pulled'; readonly attempt: number; readonly seen: number }
  | {
      readonly phase: 'sent'
      readonly attempt: number
      readonly seen: number
      readonly plan: PushPlan
      readonly answer: UpdateAnswer
    }

/** A push waiting for a device: the payload its channel carries and the sync count it names. */
export interface WaitingPush {
  readonly syncCount: number
  readonly payload: unknown
}

/**
 * One device holding (or not) the simulation's dataset: what its storage holds, the sync it has in
 * flight, the pushes waiting for it. Every change to it is made by the simulation through the core.
 */
export class SimulatedDevice {
  readonly index: number
  readonly name: string
  /** How pushes reach it. */
  readonly channel: PushChannel
  /** How far its clock is off, in milliseconds: device times decide `lastWriterWins`. */
  readonly clockSkew: number
  /** Undefined while the device holds no copy of the dataset. */
  meta: DatasetMeta | undefined
  readonly records = new Map<string, SyncRecord>()
  flight: InFlightSync | undefined
  /** A push came while a sync ran: the engine runs one more sync after it, and so does the model. */
  followUp = false
  readonly inbox: WaitingPush[] = []
  /** Keys whose push the server stored without the device hearing of it. */
  readonly unacknowledged = new Set<string>()

  constructor(index: number, channel: PushChannel, clockSkew: number) {
    this.index = index
    this.name = deviceName(index)
    this.channel = channel
    this.clockSkew = clockSkew
  }

  /** Every row the device's storage holds, tombstones included. */
  rows(): SyncRecord[] {
    return [...this.records.values()]
  }

  /** Stores rows, each replacing the row of its key. */
  store(rows: readonly SyncRecord[]): void {
    for (const row of rows) this.records.set(row.key, row)
  }

  /** The live records, as the app's `getAll()` sees them. */
  liveView(): Map<string, string> {
    const view = new Map<string, string>()
    for (const record of this.records.values()) if (record.value !== null) view.set(record.key, record.value)
    return view
  }

  /** The keys of the rows holding a change the server has not acknowledged. */
  dirtyKeys(): string[] {
    return this.rows()
      .filter((record) => record.dirty)
      .map((record) => record.key)
  }
}
