import { type ConflictResolver, type Resolution, resolveConflict } from '../../core/conflict.js'
import { type Limits, resolveLimits } from '../../core/limits.js'
import { DELETE_PENDING, type PullResult, type SyncRecord } from '../../core/model.js'
import { type Conflict, planPull } from '../../core/pull.js'
import { applyPushResult, lastSyncCountAfterPushConflict, planPush } from '../../core/push.js'
import { decideParsedPush, pushedChangesToApply } from '../../core/push-decision.js'
import { parsePushPayload } from '../../core/push-payload.js'
import {
  createDatasetMeta,
  type DatasetUsage,
  datasetUsage,
  planLocalDelete,
  planLocalWrite,
} from '../../core/records.js'
import {
  defaultRemoteDeletionChoice,
  isRemoteDeletion,
  planRemoteDeletion,
} from '../../core/remote-dataset.js'
import { type InFlightSync, SimulatedDevice } from './device.js'
import { Journal, type SyncProblem } from './journal.js'
import {
  type DatasetAddress,
  encodeForChannel,
  type PushChannel,
  pushOfDeletion,
  pushOfUpdate,
} from './notifications.js'
import { ServerModel, type UpdateAnswer } from './server-model.js'
import { type DeliveryMode, deviceName, type SimulationStep, type SyncFault } from './steps.js'
import { showEntry, showKey, showValue, showView } from './text.js'
import { Trace } from './trace.js'

/** The identity, pool and dataset every simulation syncs. */
export const SIMULATED_DATASET: DatasetAddress = Object.freeze({
  identityPoolId: 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00',
  identityId: 'us-east-1:00000000-0000-4000-8000-000000000001',
  datasetName: 'model',
})

export interface SimulationOptions {
  /** How many devices; at least 1. */
  readonly devices: number
  /** Decides every conflict on every device, as a manager's `conflictResolver` does. */
  readonly resolver: ConflictResolver
  /** Cognito's limits unless changed, on the devices and the server alike. */
  readonly limits?: Partial<Limits>
  /** Passes a sync makes before it gives up, after the first; the engine's default is 3. */
  readonly maxRetries?: number
  /** How pushes reach each device; `json` (the change rides along) for those not given. */
  readonly channels?: readonly PushChannel[]
  /** Each device's clock offset in milliseconds; 0 for those not given. */
  readonly clockSkews?: readonly number[]
}

/** How one step of a sync ended: still in flight, done, or failed (the app's `synchronize()` rejects). */
type PhaseResult = 'running' | 'done' | 'failed'

/** When the network fails during a sync: at the pull, the push, or the push's answer. */
type NetworkFault = (phase: 'pull' | 'send' | 'answer', answer?: UpdateAnswer) => boolean

const NO_FAULT: NetworkFault = () => false
const SHOWN_ENTRIES = 3

/**
 * Devices of one identity and a server, all holding one dataset, run step by step on the pure core:
 * every decision a device makes is the core's (`planLocalWrite`, `planPull`, `resolveConflict`,
 * `planPush`, `applyPushResult`, `lastSyncCountAfterPushConflict`, `isRemoteDeletion`,
 * `planRemoteDeletion`, `decideParsedPush`, `pushedChangesToApply`...), put together as the engine's
 * synchronize puts them together. There is no network, no clock and no randomness: the same steps
 * always give the same run, and the {@link Trace} tells it.
 *
 * What it runs is recorded in its {@link Journal} for checks to judge; it asserts nothing itself.
 */
export class Simulation {
  readonly server: ServerModel
  readonly devices: readonly SimulatedDevice[]
  readonly journal = new Journal()
  readonly trace = new Trace()
  readonly limits: Limits
  private readonly resolver: ConflictResolver
  private readonly maxRetries: number
  private steps = 0
  private tick = 0
  private nested = false
  private grouped = false
  /** What the last pull said, so that a sync that then has nothing to push reads as one phrase. */
  private lastPull: { readonly device: SimulatedDevice; readonly said: string } | undefined

  constructor(options: SimulationOptions) {
    if (!Number.isSafeInteger(options.devices) || options.devices < 1) {
      throw new RangeError(`devices must be a positive integer, got ${options.devices}`)
    }
    this.limits = resolveLimits(options.limits)
    this.server = new ServerModel(this.limits)
    this.resolver = options.resolver
    this.maxRetries = options.maxRetries ?? 3
    this.devices = Array.from(
      { length: options.devices },
      (_, index) =>
        new SimulatedDevice(index, options.channels?.[index] ?? 'json', options.clockSkews?.[index] ?? 0),
    )
  }

  /** Runs every step in order. */
  runAll(steps: readonly SimulationStep[]): this {
    for (const step of steps) this.run(step)
    return this
  }

  /** Runs one step; a step naming a device the simulation does not have is refused. */
  run(step: SimulationStep): void {
    this.steps++
    this.tick++
    const label = `${String(this.steps).padStart(2)}. `
    switch (step.kind) {
      case 'write': {
        const device = this.device(step.device)
        const what =
          step.value === null
            ? `${device.name} removes ${showKey(step.key)}`
            : `${device.name} writes ${showEntry(step.key, step.value)}`
        this.begin(label, what, false)
        this.write(device, step.key, step.value)
        return
      }
      case 'sync': {
        const devices = [...new Set(step.devices)].map((index) => this.device(index))
        const fault = step.fault === 'none' ? '' : ` (${step.fault.replaceAll('-', ' ')})`
        const names = devices.map((device) => device.name).join(', ')
        this.begin(label, `${names} sync${devices.length === 1 ? 's' : ''}${fault}`, devices.length > 1)
        this.syncTogether(devices, syncFault(step.fault))
        return
      }
      case 'advance': {
        const device = this.device(step.device)
        this.begin(label, `${device.name}${step.offline ? ' (offline)' : ''}`, false)
        this.finishFlight(device, this.advance(device, step.offline ? () => true : NO_FAULT))
        return
      }
      case 'deliver': {
        const device = this.device(step.device)
        this.begin(label, device.name, false)
        this.deliver(device, step.pick, step.mode)
        return
      }
      case 'restart': {
        const device = this.device(step.device)
        this.begin(label, `${device.name} restarts`, false)
        this.restart(device)
        return
      }
      case 'delete': {
        const device = this.device(step.device)
        this.begin(label, `${device.name} deletes the dataset`, false)
        this.deleteLocally(device)
        return
      }
    }
  }

  /**
   * A quiet round: pushes in flight are dropped, then the devices synchronize one at a time in
   * `order` (every device, in index order, when omitted), round after round, until none has
   * anything to push or pull, `devices + 2` rounds have passed, or `stop` (asked after each sync)
   * says so. Syncs that find nothing to do are left out of the trace.
   */
  settle(
    order: readonly number[] = this.devices.map((device) => device.index),
    stop: () => boolean = () => false,
  ): void {
    const devices = order.map((index) => this.device(index))
    this.tick++
    const header = `quiet round, in order ${devices.map((device) => device.name).join(', ')}`
    this.begin('', header, true)
    const headerLine = this.trace.lines.length - 1
    const label = this.steps
    this.steps = 0
    for (const device of this.devices) device.inbox.length = 0
    rounds: for (let round = 0; round < this.devices.length + 2 && !this.isQuiet(); round++) {
      for (const device of devices) {
        this.trace.beginGroup(`${device.name} syncs`)
        this.grouped = true
        this.syncTogether([device], NO_FAULT)
        this.grouped = false
        this.trace.endGroup((parts) => !(parts.length === 1 && parts[0]?.startsWith(UP_TO_DATE)))
        if (stop()) break rounds
      }
    }
    this.steps = label
    const ending = this.ending()
    if (this.trace.lines.length - 1 === headerLine && ending.startsWith(AGREE)) {
      // Nothing happened: one line says so.
      this.trace.lines[headerLine] = `quiet round: nothing to do; ${ending.slice('end: '.length)}`
      this.trace.close()
      return
    }
    this.trace.line(ending)
  }

  /** Every device is done syncing, has nothing to push, and holds the server's latest count. */
  isQuiet(): boolean {
    return this.devices.every(
      (device) =>
        device.flight === undefined &&
        device.dirtyKeys().length === 0 &&
        (device.meta === undefined ? !this.server.exists : device.meta.lastSyncCount === this.server.count),
    )
  }

  /** One line with what the server and each device hold. */
  ending(): string {
    const server = showView(this.server.liveView())
    const views = this.devices.map((device) => showView(device.liveView()))
    if (views.every((view) => view === server)) return `${AGREE} ${server}`
    return `end: server ${server}; ${this.devices.map((device, index) => `${device.name} ${views[index]}`).join('; ')}`
  }

  private device(index: number): SimulatedDevice {
    const device = this.devices[index]
    if (device === undefined) throw new RangeError(`there is no device ${deviceName(index)}`)
    return device
  }

  private begin(label: string, text: string, nested: boolean): void {
    this.nested = nested
    this.trace.step(label, text, nested)
  }

  /** Says what `device` did; under a step of several devices, with its name. */
  private tell(device: SimulatedDevice, text: string): void {
    this.trace.say(this.named(device, text))
  }

  private named(device: SimulatedDevice, text: string): string {
    return this.nested && !this.grouped ? `${device.name} ${text}` : text
  }

  private now(device: SimulatedDevice): number {
    return 1_000_000 + this.tick * 10 + device.clockSkew
  }

  private context(device: SimulatedDevice) {
    return { now: this.now(device), limits: this.limits }
  }

  // Local steps: the app's writes, deletes and restarts.

  private write(device: SimulatedDevice, key: string, value: string | null): void {
    const { identityId, datasetName } = SIMULATED_DATASET
    // Writing to a dataset the device does not hold opens it, as `openOrCreateDataset` does.
    if (device.meta === undefined) {
      const created = createDatasetMeta(identityId, datasetName, [], this.context(device))
      if (!created.ok) throw new Error(created.failure.message)
      device.meta = created.value
    }
    const plan = planLocalWrite(device.meta, device.rows(), [{ key, value }], this.context(device))
    if (!plan.ok) {
      this.tell(device, `refused: ${plan.failure.message}`)
      return
    }
    if (plan.value.records.length === 0) {
      this.tell(device, 'no change')
      return
    }
    device.store(plan.value.records)
    device.meta = plan.value.meta
    this.journal.writes.push({
      seq: this.journal.next(),
      step: this.steps,
      device: device.index,
      key,
      value,
      serverVersion: this.server.versionAtOrBefore(key, this.server.count),
    })
  }

  private deleteLocally(device: SimulatedDevice): void {
    if (device.meta === undefined) {
      this.tell(device, 'it holds none')
      return
    }
    const plan = planLocalDelete(device.meta, device.rows(), this.now(device))
    device.meta = plan.meta
    for (const key of plan.deleteKeys) device.records.delete(key)
    this.journal.settled.push({
      seq: this.journal.next(),
      step: this.steps,
      device: device.index,
      key: undefined,
      reason: 'dataset-deleted-locally',
    })
  }

  private restart(device: SimulatedDevice): void {
    const flight = device.flight
    if (flight?.phase === 'sent' && flight.answer.ok) {
      for (const patch of flight.plan.patches) device.unacknowledged.add(patch.key)
      this.tell(device, 'its push was stored, but the answer never arrives')
    } else if (flight !== undefined) {
      this.tell(device, 'the sync in flight is cut off')
    }
    device.flight = undefined
    device.followUp = false
  }

  // Pushes: what the server tells the other devices, and what they do with it.

  private notifyOthers(
    writer: SimulatedDevice,
    makePush: () => Parameters<typeof encodeForChannel>[0],
  ): void {
    const update = makePush()
    for (const device of this.devices) {
      if (device === writer) continue
      device.inbox.push({ syncCount: update.syncCount, payload: encodeForChannel(update, device.channel) })
    }
  }

  private deliver(device: SimulatedDevice, pick: number, mode: DeliveryMode): void {
    if (device.inbox.length === 0) {
      this.tell(device, 'no push is waiting')
      return
    }
    const index = pick % device.inbox.length
    const waiting = device.inbox[index] as (typeof device.inbox)[number]
    if (mode !== 'duplicate') device.inbox.splice(index, 1)
    if (mode === 'drop') {
      this.tell(device, `the push of #${waiting.syncCount} is lost`)
      return
    }
    const parsed = parsePushPayload(waiting.payload, this.limits)
    if (!parsed.ok) {
      this.tell(device, `the push of #${waiting.syncCount} is refused: ${parsed.failure.message}`)
      return
    }
    const update = parsed.value
    const heard = `the push of #${update.syncCount} (${device.channel}) arrives${mode === 'duplicate' ? ' and will come again' : ''}`
    const decision = decideParsedPush(
      {
        ...SIMULATED_DATASET,
        lastSyncCount: device.meta?.lastSyncCount ?? 0,
        held: device.meta !== undefined,
        syncing: device.flight !== undefined,
      },
      update,
    )
    if (decision.action === 'ignore') {
      this.tell(device, `${heard}, ignored (${decision.reason})`)
      return
    }
    if (decision.action === 'coalesce') {
      device.followUp = true
      this.tell(device, `${heard} mid-sync: one more sync follows`)
      return
    }
    const meta = device.meta
    if (meta !== undefined) {
      const changes = pushedChangesToApply(
        { lastSyncCount: meta.lastSyncCount, hasLocalChanges: device.dirtyKeys().length > 0 },
        update,
      )
      if (changes !== undefined) {
        const pull: PullResult = {
          records: changes.records,
          datasetSyncCount: changes.after + 1,
          datasetExists: true,
          datasetDeletedAfterRequestedSyncCount: false,
          mergedDatasetNames: [],
        }
        const plan = planPull(device.rows(), pull, changes.after)
        // Without local changes nothing conflicts; should something, the ordinary sync decides.
        if (plan.conflicts.length === 0) {
          device.store(plan.apply)
          device.meta = { ...meta, lastSyncCount: plan.lastSyncCount }
          this.tell(device, `${heard}, applied: ${showRows(plan.apply)}`)
          return
        }
      }
    }
    this.tell(device, `${heard}, so it syncs`)
    this.syncTogether([device], NO_FAULT)
  }

  // Syncs: a pull and its decisions, a push, its answer; each a step of its own.

  /**
   * Runs the syncs of `devices` to their end, one step of each in turn, so that a pull of one
   * falls between the pull and the push of another. A device with a sync in flight goes on with it.
   */
  private syncTogether(devices: readonly SimulatedDevice[], fault: NetworkFault): void {
    let running = [...devices]
    while (running.length > 0) {
      const next: SimulatedDevice[] = []
      for (const device of running) {
        this.tick++
        const result = this.advance(device, fault)
        if (result === 'running') next.push(device)
        else this.finishFlight(device, result)
      }
      running = next
    }
  }

  /** After a sync ends, the follow-up a push asked for while it ran. */
  private finishFlight(device: SimulatedDevice, result: PhaseResult): void {
    if (result === 'running' || !device.followUp) return
    device.followUp = false
    this.tell(device, 'follows up')
    this.syncTogether([device], NO_FAULT)
  }

  /** One step of the device's sync: start it (pull and decide), send the push, or take the answer. */
  private advance(device: SimulatedDevice, fault: NetworkFault): PhaseResult {
    const flight = device.flight
    if (flight === undefined) {
      if (fault('pull')) {
        this.tell(device, 'is offline: the pull fails')
        return 'failed'
      }
      return this.pull(device, 0)
    }
    if (flight.phase === 'pulled') return this.send(device, flight, fault('send'))
    return this.hearAnswer(device, flight, fault('answer', flight.answer))
  }

  /**
   * The start of a pass: a pending local delete goes to the server, then the pull; a deletion on
   * the server is followed; the conflicts are decided and everything is stored with the new
   * `lastSyncCount`. Nothing is stored when a resolution fails.
   */
  private pull(device: SimulatedDevice, firstAttempt: number): PhaseResult {
    device.flight = undefined
    let prefetched: PullResult | undefined
    for (let attempt = firstAttempt; ; attempt++) {
      if (attempt > this.maxRetries) {
        this.tell(device, `gives up after ${this.maxRetries} retries`)
        return 'failed'
      }
      if (device.meta === undefined) {
        // A device without the dataset takes it up only if the server has it (as after a push),
        // and that first pull is the pass's pull.
        prefetched = this.server.listRecords(0)
        if (!prefetched.datasetExists) {
          this.tell(device, `${UP_TO_DATE}: no dataset on the device or the server`)
          return 'done'
        }
        const created = createDatasetMeta(
          SIMULATED_DATASET.identityId,
          SIMULATED_DATASET.datasetName,
          [],
          this.context(device),
        )
        if (!created.ok) throw new Error(created.failure.message)
        device.meta = created.value
      }
      if (device.meta.lastSyncCount === DELETE_PENDING) {
        if (this.server.deleteDataset())
          this.notifyOthers(device, () => pushOfDeletion(SIMULATED_DATASET, this.server.count))
        if (device.records.size === 0) {
          device.meta = undefined
          this.tell(device, `deletes the dataset on the server (#${this.server.count})`)
          return 'done'
        }
        // The app wrote after deleting: those records start a new incarnation.
        device.meta = { ...device.meta, lastSyncCount: 0 }
        this.tell(
          device,
          `deletes the dataset on the server (#${this.server.count}); its later writes start anew`,
        )
      }
      const lastSyncCount = device.meta.lastSyncCount
      const pull =
        prefetched !== undefined && lastSyncCount === 0 ? prefetched : this.server.listRecords(lastSyncCount)
      prefetched = undefined
      if (isRemoteDeletion(lastSyncCount, pull, lastSyncCount === 0 ? device.rows() : undefined)) {
        if (this.followRemoteDeletion(device, pull)) return 'done'
        continue
      }
      const stored = this.decideAndStore(device, pull, lastSyncCount)
      if (!stored) return 'failed'
      device.flight = { phase: 'pulled', attempt, seen: pull.datasetSyncCount }
      return 'running'
    }
  }

  /** Keeps or drops the local copy of a dataset deleted on the server; true when nothing is left. */
  private followRemoteDeletion(device: SimulatedDevice, pull: PullResult): boolean {
    const rows = device.rows()
    const choice = defaultRemoteDeletionChoice(rows)
    const plan = planRemoteDeletion(rows, choice, pull)
    for (const key of plan.deleteKeys) {
      device.records.delete(key)
      this.journal.settled.push({
        seq: this.journal.next(),
        step: this.steps,
        device: device.index,
        key,
        reason: 'dataset-deleted-on-server',
      })
    }
    device.store(plan.records)
    if (plan.dropDataset) {
      device.meta = undefined
      this.tell(device, 'finds the dataset deleted on the server and drops its copy')
      return true
    }
    if (device.meta !== undefined) device.meta = { ...device.meta, lastSyncCount: plan.lastSyncCount }
    this.tell(
      device,
      choice === 'keep'
        ? 'finds the dataset deleted on the server and keeps its records to re-create it'
        : 'finds the dataset deleted and re-created on the server, drops its records and starts over',
    )
    return false
  }

  /** Plans the pull, hands each conflict to the resolver and stores it all; false when a resolution fails. */
  private decideAndStore(device: SimulatedDevice, pull: PullResult, lastSyncCount: number): boolean {
    const plan = planPull(device.rows(), pull, lastSyncCount)
    const resolved: SyncRecord[] = []
    const said: string[] = []
    for (const conflict of plan.conflicts) {
      const decided = this.decide(device, conflict)
      said.push(decided.said)
      if (decided.stored === undefined) {
        this.tell(
          device,
          `pulls #${lastSyncCount}→#${pull.datasetSyncCount}; ${said.join('; ')}; the sync fails`,
        )
        return false
      }
      resolved.push(decided.stored)
    }
    if (plan.conflicts.length > 0) this.checkQuota(device, plan.apply, plan.conflicts, resolved)
    device.store(plan.apply)
    device.store(resolved)
    if (device.meta !== undefined) device.meta = { ...device.meta, lastSyncCount: plan.lastSyncCount }
    const applied = plan.apply.length === 0 ? '' : ` ${showRows(plan.apply)}`
    const pulled = `pulls #${lastSyncCount}→#${pull.datasetSyncCount}${applied}`
    const text = [pulled, ...said].join('; ')
    this.tell(device, text)
    this.lastPull = { device, said: text }
    return true
  }

  /** Asks the resolver about one conflict, as the engine does, and turns its answer into the row to store. */
  private decide(
    device: SimulatedDevice,
    conflict: Conflict,
  ): { readonly said: string; readonly stored: SyncRecord | undefined } {
    const about = `conflict on ${showKey(conflict.key)}: local ${showValue(conflict.local.value)}, remote ${showValue(conflict.remote.value)}`
    const entry = { seq: this.journal.next(), step: this.steps, device: device.index }
    const problem = (kind: SyncProblem['kind'], message: string) => {
      this.journal.conflicts.push({ ...entry, conflict, outcome: { ok: false, problem: message } })
      this.journal.problems.push({ ...entry, kind, byResolver: true, message })
      return { said: `${about} → ${message}`, stored: undefined }
    }
    let resolution: unknown
    try {
      // Frozen, so a resolver that changes its input fails here rather than corrupt the device.
      resolution = this.resolver(frozenConflict(conflict))
    } catch (error) {
      return problem('resolver-threw', `the resolver threw ${describeError(error)}`)
    }
    if (!isResolution(resolution)) {
      return problem(
        'not-a-resolution',
        `the resolver returned ${describeUnknown(resolution)}, not { kind: 'remote' | 'local' | 'value' }`,
      )
    }
    const stored = resolveConflict(conflict, resolution, this.context(device))
    if (!stored.ok) {
      return problem(
        'invalid-resolution',
        `the resolver returned a value the device refuses: ${stored.failure.message}`,
      )
    }
    this.journal.conflicts.push({
      ...entry,
      conflict,
      outcome: { ok: true, resolution, stored: stored.value },
    })
    return { said: `${about} → ${showResolution(resolution)}`, stored: stored.value }
  }

  /**
   * A resolution the device stores but the server will refuse: one that makes the dataset grow past
   * a quota the server's copy (what the remote side of each conflict would have left) kept to.
   * The engine stores it; every later push of the dataset is refused.
   */
  private checkQuota(
    device: SimulatedDevice,
    apply: readonly SyncRecord[],
    conflicts: readonly Conflict[],
    resolved: readonly SyncRecord[],
  ): void {
    const usageWith = (rows: readonly SyncRecord[]): DatasetUsage => {
      const after = new Map(device.records)
      for (const row of [...apply, ...rows]) after.set(row.key, row)
      return datasetUsage(after.values())
    }
    const remote = usageWith(
      conflicts.map((conflict) => ({ ...conflict.local, value: conflict.remote.value, dirty: false })),
    )
    const mine = usageWith(resolved)
    const { maxDatasetBytes, maxRecordsPerDataset } = this.limits
    let message: string | undefined
    if (mine.bytes > maxDatasetBytes && mine.bytes > remote.bytes) {
      message = `the resolutions make the dataset hold ${mine.bytes} bytes of keys and values; the limit is ${maxDatasetBytes}`
    } else if (mine.liveRecords > maxRecordsPerDataset && mine.liveRecords > remote.liveRecords) {
      message = `the resolutions make the dataset hold ${mine.liveRecords} records; the limit is ${maxRecordsPerDataset}`
    }
    if (message === undefined) return
    this.journal.problems.push({
      seq: this.journal.next(),
      step: this.steps,
      device: device.index,
      kind: 'over-quota',
      byResolver: true,
      message,
    })
    this.tell(device, message)
  }

  /** Sends the dirty records; the server stores them (and tells the other devices) or refuses. */
  private send(device: SimulatedDevice, flight: InFlightSync, offline: boolean): PhaseResult {
    const plan = planPush(device.rows())
    if (plan.patches.length === 0) {
      device.flight = undefined
      this.sayNothingToPush(device)
      return 'done'
    }
    const sent = plan.patches.map((patch) => showEntry(patch.key, patch.value)).join(', ')
    if (offline) {
      device.flight = undefined
      this.tell(device, `is offline: ${sent} is not sent`)
      return 'failed'
    }
    const answer = this.server.updateRecords(plan.patches, device.name)
    device.flight = { phase: 'sent', attempt: flight.attempt, seen: flight.seen, plan, answer }
    if (answer.ok) {
      this.notifyOthers(device, () => pushOfUpdate(SIMULATED_DATASET, answer.records))
      this.tell(device, `sends ${sent} → stored at #${this.server.count}`)
    } else if (answer.kind === 'conflict') {
      this.tell(device, `sends ${sent} → 409 (${answer.message})`)
    } else {
      this.journal.problems.push({
        seq: this.journal.next(),
        step: this.steps,
        device: device.index,
        kind: 'refused',
        byResolver: plan.patches.some((patch) => this.madeByResolver(device, patch.key, patch.value)),
        message: `the server refused the push of ${sent}: ${answer.message}`,
      })
      this.tell(device, `sends ${sent} → refused: ${answer.message}`)
    }
    return 'running'
  }

  /** Whether the device's value of `key` is one its resolver made up (not either side's). */
  private madeByResolver(device: SimulatedDevice, key: string, value: string | null): boolean {
    for (let i = this.journal.conflicts.length - 1; i >= 0; i--) {
      const decision = this.journal.conflicts[i]
      if (decision === undefined || decision.device !== device.index || decision.conflict.key !== key)
        continue
      if (!decision.outcome.ok) return false
      return decision.outcome.resolution.kind === 'value' && decision.outcome.stored.value === value
    }
    return false
  }

  /** The server's answer reaches the device (or is lost): store it, retry after a 409, or fail. */
  private hearAnswer(
    device: SimulatedDevice,
    flight: Extract<InFlightSync, { phase: 'sent' }>,
    lost: boolean,
  ): PhaseResult {
    const { answer, plan } = flight
    device.flight = undefined
    if (lost) {
      if (answer.ok) for (const patch of plan.patches) device.unacknowledged.add(patch.key)
      this.tell(device, 'does not hear the answer (offline)')
      return 'failed'
    }
    const meta = device.meta
    if (meta === undefined) return 'failed'
    if (!answer.ok) {
      if (answer.kind !== 'conflict') {
        this.tell(device, 'hears the refusal: the sync fails')
        return 'failed'
      }
      const lowered = lastSyncCountAfterPushConflict(meta.lastSyncCount, plan.patches)
      device.meta = { ...meta, lastSyncCount: lowered }
      this.tell(device, `hears 409, pulls again from #${lowered}`)
      return this.pull(device, flight.attempt + 1)
    }
    // As the engine does: a delete made while the push was under way is not overwritten by its
    // answer; the delete goes out next.
    if (meta.lastSyncCount === DELETE_PENDING) {
      this.tell(device, 'was deleted meanwhile: sends the delete next')
      return this.pull(device, flight.attempt + 1)
    }
    const result = applyPushResult({
      snapshot: plan.snapshot,
      current: device.rows(),
      returned: answer.records,
      seenDatasetSyncCount: flight.seen,
      lastSyncCount: meta.lastSyncCount,
    })
    device.store(result.records)
    device.meta = { ...meta, lastSyncCount: result.lastSyncCount }
    this.tell(device, `acknowledged; lastSyncCount ${result.lastSyncCount}`)
    return 'done'
  }

  /** "pulls #3→#3" then "nothing to push" reads "up to date at #3". */
  private sayNothingToPush(device: SimulatedDevice): void {
    const pulled = this.lastPull?.device === device ? this.lastPull.said : undefined
    this.lastPull = undefined
    if (pulled !== undefined) {
      const count = /^pulls #(\d+)→#\1$/.exec(pulled)?.[1]
      const replacement = count === undefined ? `${pulled}, nothing to push` : `${UP_TO_DATE} at #${count}`
      if (this.trace.amend(this.named(device, pulled), this.named(device, replacement))) return
    }
    this.tell(device, 'has nothing to push')
  }
}

const UP_TO_DATE = 'up to date'
const AGREE = 'end: the server and every device hold'

function syncFault(fault: SyncFault): NetworkFault {
  switch (fault) {
    case 'none':
      return NO_FAULT
    case 'offline-before-pull':
      return (phase) => phase === 'pull'
    case 'offline-before-push':
      return (phase) => phase === 'send'
    // As the engine's transport loses it: only an answer that says the push was stored.
    case 'lost-ack':
      return (phase, answer) => phase === 'answer' && answer?.ok === true
  }
}

function showRows(rows: readonly SyncRecord[]): string {
  const shown = rows.slice(0, SHOWN_ENTRIES).map((row) => showEntry(row.key, row.value))
  const more = rows.length > SHOWN_ENTRIES ? ` +${rows.length - SHOWN_ENTRIES} more` : ''
  return `[${shown.join(', ')}${more}]`
}

function showResolution(resolution: Resolution): string {
  return resolution.kind === 'value' ? `value ${showValue(resolution.value)}` : resolution.kind
}

function isResolution(value: unknown): value is Resolution {
  if (typeof value !== 'object' || value === null) return false
  const kind = (value as { kind?: unknown }).kind
  if (kind === 'remote' || kind === 'local') return true
  if (kind !== 'value') return false
  const resolved = (value as { value?: unknown }).value
  return resolved === null || typeof resolved === 'string'
}

function frozenConflict(conflict: Conflict): Conflict {
  return Object.freeze({
    key: conflict.key,
    local: Object.freeze({ ...conflict.local }),
    remote: Object.freeze({ ...conflict.remote }),
  })
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return describeUnknown(error)
}

function describeUnknown(value: unknown): string {
  if (typeof value === 'string') return showValue(value)
  if (value === null || value === undefined || typeof value !== 'object') return String(value)
  if (typeof (value as { then?: unknown }).then === 'function') return 'a promise'
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return 'an object'
  }
}
