import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import type { Result } from '../../src/core/index.js'
import type {
  Conflict,
  Dataset,
  PushSink,
  PushSource,
  RecordPatch,
  StorageAdapter,
  SyncConflict,
  SyncManager,
  SyncManagerOptions,
  TransportFailure,
  UpdateRecordsAnswer,
} from '../../src/index.js'
import { isSyncError, lastWriterWins } from '../../src/index.js'
import {
  describeStep,
  deviceName,
  encodeForChannel,
  PUSH_CHANNELS,
  type PushChannel,
  pushOfUpdate,
  type SimulationStep,
  type SyncFault,
  simulationSteps,
  Trace,
} from '../../src/testing/merge/index.js'
import { interceptTransport, offline, POOL, startServer, type TestServer } from './harness.js'

/**
 * Two or three devices of one identity against the real server, driven by the steps of the
 * multi-device simulator (`pushsync/testing/merge`) and told in its trace format: random writes and
 * removes; syncs of several devices at once; syncs taken one step at a time (the pull, then the
 * push, then its answer), other devices' steps in between; transport failures before a request
 * reaches the server and after it committed (the answer lost); the pushes the server's writes
 * cause, delivered late, twice, out of order or never, whose syncs run in the background while the
 * steps go on; devices closed in the middle of a sync and started again on the same storage.
 * Conflicts are decided by the manager's handlers (a resolver or an `onConflict`), never by a call's
 * options, so the syncs a push starts use them too; every device has listeners that throw. After a
 * final quiet round every device must equal the server, and every write the app made must have
 * reached the server or been handed to a conflict handler.
 */

type Handler = 'resolver' | 'onConflict'

const key = fc.constantFrom('a', 'b', 'c', '__proto__')
const value = fc.oneof(fc.constantFrom('x', 'y', ''), fc.string({ maxLength: 3 }))
const steps = (devices: number) =>
  // Runs of about eight steps, a few more pushes and fewer single steps than the simulator's
  // defaults: each step here is real requests. Dataset deletions are left out, as the simulator
  // leaves them out by default (see DEFAULT_STEP_WEIGHTS).
  simulationSteps({
    devices,
    keys: key,
    values: value,
    maxSteps: 15,
    size: 'medium',
    weights: { write: 4, advance: 2, deliver: 3 },
  })

/**
 * One storage that outlives the managers on it, as a device's database outlives the app: each
 * manager gets a handle that its `close()` closes, and a handle used after that is counted.
 */
function durableStorage() {
  const inner = createMemoryStorage()
  const late = { writes: 0 }
  const handle = (): StorageAdapter => {
    let closed = false
    return {
      name: inner.name,
      read: (fn) => inner.read(fn),
      write: (fn) => {
        if (closed) late.writes++
        return inner.write(fn)
      },
      close: async () => {
        closed = true
      },
    }
  }
  return { handle, late }
}

/**
 * A live push channel that relays what the deliver steps hand it: the device's sink, kept in
 * `sinks[index]` while the channel runs.
 */
function relay(sinks: Array<PushSink | undefined>, index: number): PushSource {
  return {
    name: 'push:relay',
    start(sink) {
      sinks[index] = sink
      sink.onConnected?.()
      return () => {
        if (sinks[index] === sink) sinks[index] = undefined
      }
    },
  }
}

/** Waits until no sync runs or waits on the device, in the app's calls or in its background queue. */
async function settled(device: SyncManager, ds: Dataset): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const { background } = device.getStatus()
    if (background.running === 0 && background.waiting === 0 && !ds.getStatus().syncing) return
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  throw new Error('the device did not settle')
}

type Phase = 'idle' | 'request' | 'answer'

/**
 * Holds a device's UpdateRecords where the simulator's `advance` steps stop a sync: before the
 * request leaves, and after the server answered, until the next step lets it go on (or fail).
 */
class PhaseGate {
  /** Set while a sync that an `advance` step started runs: its requests wait at the gate. */
  armed = false
  phase: Phase = 'idle'
  /** The sync an `advance` step started. */
  running: Promise<string> | undefined
  private go: ((outcome: 'on' | 'fail') => void) | undefined
  private readonly listeners = new Set<() => void>()

  /**
   * Runs one UpdateRecords through the gate: held before it leaves and after the answer when the
   * gate was armed as it came (a request already on its way is not stopped halfway), and not after
   * the answer once the gate is disarmed.
   */
  async pass(
    proceed: () => Promise<Result<unknown, TransportFailure>>,
  ): Promise<Result<unknown, TransportFailure>> {
    const held = this.armed
    if (held && (await this.wait('request')) === 'fail') return offline()
    const result = await proceed()
    if (held && this.armed && (await this.wait('answer')) === 'fail') return offline()
    return result
  }

  /** Lets the held request or answer go on, or fail as if the network were down. */
  release(outcome: 'on' | 'fail'): void {
    const go = this.go
    this.go = undefined
    this.setPhase('idle')
    go?.(outcome)
  }

  /** Where the gate is now (a method, so that a check after an await reads it again). */
  where(): Phase {
    return this.phase
  }

  /** Resolves once the gate holds a request or an answer. */
  holding(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.phase === 'idle') return
        this.listeners.delete(check)
        resolve()
      }
      this.listeners.add(check)
      check()
    })
  }

  private wait(phase: Phase): Promise<'on' | 'fail'> {
    return new Promise((resolve) => {
      this.go = resolve
      this.setPhase(phase)
    })
  }

  private setPhase(phase: Phase): void {
    this.phase = phase
    for (const listener of [...this.listeners]) listener()
  }
}

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

describe('engine model: devices of one identity against the real server', () => {
  it('converges after a quiet round and loses no write', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 3 }).chain((devices) =>
          fc.tuple(
            fc.constant(devices),
            fc.array(fc.constantFrom<Handler>('resolver', 'onConflict'), {
              minLength: devices,
              maxLength: devices,
            }),
            // A device with a live push channel sends its writes without a pull when it knows of
            // nothing newer (one round trip), while the others' writes race with it.
            fc.array(fc.constantFrom(true, true, false), { minLength: devices, maxLength: devices }),
            fc.array(fc.constantFrom(...PUSH_CHANNELS), { minLength: devices, maxLength: devices }),
            steps(devices),
          ),
        ),
        async ([deviceCount, handlers, live, channels, run]) => {
          const trace = new Trace()
          try {
            await runModel(trace, deviceCount, handlers, live, channels, run)
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error)
            throw new Error(`${message}\n${trace}`, { cause: error })
          }
        },
      ),
    )
  })
})

/** Runs that the random ones reach only now and then, in the simulator's step format. */
const SCENARIOS: ReadonlyArray<{
  readonly name: string
  readonly live?: readonly boolean[]
  readonly channels: readonly PushChannel[]
  readonly steps: readonly SimulationStep[]
}> = [
  {
    // d1 is at #0 when the push of #2 arrives first: its change follows #1, which d1 lacks.
    name: 'a push that skips a change is not applied as it is: the device syncs',
    live: [false, true],
    channels: ['json', 'json'],
    steps: [
      { kind: 'write', device: 0, key: 'a', value: 'x' },
      { kind: 'sync', devices: [0], fault: 'none' },
      { kind: 'write', device: 0, key: 'b', value: 'y' },
      { kind: 'sync', devices: [0], fault: 'none' },
      { kind: 'deliver', device: 1, pick: 1, mode: 'deliver' },
    ],
  },
  {
    // The same pushes twice and in reverse: the later one first, then both again.
    name: 'pushes that come late and twice',
    channels: ['json', 'sse'],
    steps: [
      { kind: 'write', device: 0, key: 'a', value: 'x' },
      { kind: 'sync', devices: [0], fault: 'none' },
      { kind: 'write', device: 0, key: 'b', value: 'y' },
      { kind: 'sync', devices: [0], fault: 'none' },
      { kind: 'deliver', device: 1, pick: 1, mode: 'duplicate' },
      { kind: 'deliver', device: 1, pick: 0, mode: 'duplicate' },
      { kind: 'deliver', device: 1, pick: 0, mode: 'deliver' },
      { kind: 'deliver', device: 1, pick: 0, mode: 'deliver' },
    ],
  },
  {
    // d0 pulls, d1 writes and syncs, d0 pushes (409), hears it, pulls again and decides, pushes.
    name: 'a sync held between its pull and its push meets another device’s write',
    channels: ['sse', 'apns'],
    steps: [
      { kind: 'write', device: 0, key: 'a', value: 'x' },
      { kind: 'write', device: 1, key: 'a', value: 'y' },
      { kind: 'advance', device: 0, offline: false },
      { kind: 'sync', devices: [1], fault: 'none' },
      { kind: 'advance', device: 0, offline: false },
      { kind: 'advance', device: 0, offline: false },
      { kind: 'advance', device: 0, offline: false },
      { kind: 'advance', device: 0, offline: false },
      { kind: 'deliver', device: 1, pick: 0, mode: 'deliver' },
    ],
  },
  {
    // The server stores d0's push; the answer never arrives, and d0 restarts.
    name: 'a push whose answer is lost, then a restart',
    channels: ['flat-strings', 'json'],
    steps: [
      { kind: 'write', device: 0, key: '__proto__', value: 'x' },
      { kind: 'advance', device: 0, offline: false },
      { kind: 'advance', device: 0, offline: false },
      { kind: 'restart', device: 0 },
      { kind: 'write', device: 1, key: '__proto__', value: null },
      { kind: 'sync', devices: [0, 1], fault: 'lost-ack' },
    ],
  },
]

describe('engine model: scenarios', () => {
  it.each(SCENARIOS)('$name', async ({ live, channels, steps: run }) => {
    const trace = new Trace()
    await runModel(trace, 2, ['resolver', 'onConflict'], live ?? [true, false], channels, run).catch(
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error)
        throw new Error(`${message}\n${trace}`, { cause: error })
      },
    )
  })
})

async function runModel(
  trace: Trace,
  deviceCount: number,
  handlers: readonly Handler[],
  live: readonly boolean[],
  channels: readonly PushChannel[],
  run: readonly SimulationStep[],
): Promise<void> {
  const identity = await server.newIdentity()
  const address = { identityPoolId: POOL, identityId: identity.identityId, datasetName: 'model' }
  const accepted = new Set<string>()
  const handedToResolver = new Set<string>()
  const faults: SyncFault[] = Array.from({ length: deviceCount }, () => 'none')
  const gates = Array.from({ length: deviceCount }, () => new PhaseGate())
  const inboxes: unknown[][] = Array.from({ length: deviceCount }, () => [])
  const sinks: Array<PushSink | undefined> = Array.from({ length: deviceCount }, () => undefined)
  const note = (k: string, v: string | null) => `${k}=${v === null ? '∅' : JSON.stringify(v)}`
  const storages = Array.from({ length: deviceCount }, () => durableStorage())

  const startDevice = (index: number): SyncManager => {
    const gate = gates[index] as PhaseGate
    const transport = interceptTransport(server.transport(identity), async (call) => {
      const fault = faults[index]
      if (call.method === 'listRecords' && fault === 'offline-before-pull') return offline()
      if (call.method === 'updateRecords' && fault === 'offline-before-push') return offline()
      const proceed = async () => {
        const result = await call.proceed()
        if (call.method === 'updateRecords' && result.ok) {
          const { records } = result.value as UpdateRecordsAnswer
          for (const record of records) accepted.add(note(record.key, record.value))
          const sent = (call.args[0] as { patches: RecordPatch[] }).patches
          for (const patch of sent) accepted.add(note(patch.key, patch.value))
          // The server tells the other devices, each on its own channel.
          if (records.length > 0) {
            const update = pushOfUpdate(address, records)
            inboxes.forEach((inbox, other) => {
              if (other !== index) inbox.push(encodeForChannel(update, channels[other] ?? 'json'))
            })
          }
          if (fault === 'lost-ack') return offline()
        }
        return result
      }
      return call.method === 'updateRecords' ? gate.pass(proceed) : proceed()
    })
    const decide = (conflict: Conflict) => {
      handedToResolver.add(note(conflict.key, conflict.local.value))
      return lastWriterWins(conflict)
    }
    const onConflict = (conflicts: readonly SyncConflict[]) => {
      for (const conflict of conflicts) {
        const resolution = decide(conflict)
        if (resolution.kind === 'local') conflict.resolveWithLocal()
        else if (resolution.kind === 'remote') conflict.resolveWithRemote()
        else conflict.resolveWithValue(resolution.value)
      }
    }
    const options: Partial<SyncManagerOptions> =
      handlers[index] === 'onConflict' ? { onConflict } : { conflictResolver: decide }
    const storage = storages[index]?.handle() ?? createMemoryStorage()
    const manager = server.device(identity, {
      transport,
      storage,
      logger: { warn: () => {} },
      ...options,
    })
    // Listeners that throw must change nothing.
    for (const name of ['datasetChanged', 'syncSucceeded', 'conflict'] as const) {
      manager.on(name, () => {
        throw new Error(`a broken ${name} listener`)
      })
    }
    // A live channel says only what the deliver steps hand it.
    if (live[index] === true) manager.addPushSource(relay(sinks, index))
    return manager
  }
  const devices = Array.from({ length: deviceCount }, (_, index) => startDevice(index))
  const datasets = await Promise.all(devices.map((device) => device.openOrCreateDataset('model')))
  const writes: Array<{ device: number; note: string }> = []
  const outcome = (promise: Promise<unknown> | undefined) =>
    (promise ?? Promise.resolve()).then(
      () => 'done',
      (error: unknown) => (isSyncError(error) ? error.code : 'failed'),
    )

  /** Lets a sync held at the gate finish (or fail), and waits for it. */
  const finishHeld = async (index: number, as: 'on' | 'fail') => {
    const gate = gates[index] as PhaseGate
    gate.armed = false
    if (gate.phase !== 'idle') gate.release(as)
    await gate.running
  }

  /** One step of a sync, as the simulator's `advance`: start it and stop before its push, send the push, take the answer. */
  const advance = async (index: number, offlineStep: boolean): Promise<string> => {
    const gate = gates[index] as PhaseGate
    let running = gate.running
    if (gate.phase !== 'idle') {
      gate.release(offlineStep ? 'fail' : 'on')
    } else if (running === undefined) {
      const ds = datasets[index] as Dataset
      gate.armed = true
      if (offlineStep) faults[index] = 'offline-before-pull'
      const started = outcome(ds.synchronize())
      running = started
      gate.running = started
      void started.finally(() => {
        if (gate.running !== started) return
        gate.running = undefined
        gate.armed = false
      })
    }
    // On to the next stop: before a push, after an answer, or the end of the sync.
    await Promise.race([gate.holding(), running])
    faults[index] = 'none'
    const where = gate.where()
    if (where === 'request') return 'stopped before its push'
    if (where === 'answer') return 'the server answered'
    return (await running) ?? 'done'
  }

  for (const [position, step] of run.entries()) {
    trace.step(`${String(position + 1).padStart(2)}. `, describeStep(step))
    if (step.kind === 'write') {
      const ds = datasets[step.device]
      if (ds === undefined) continue
      const had = await ds.get(step.key)
      if (step.value === null) await ds.remove(step.key)
      else await ds.put(step.key, step.value)
      const changed = step.value === null ? had !== undefined : had !== step.value
      if (changed) writes.push({ device: step.device, note: note(step.key, step.value) })
    } else if (step.kind === 'sync') {
      const indices = [...new Set(step.devices)]
      // A sync held by advance steps goes on first, as the simulator continues it.
      for (const index of indices) await finishHeld(index, 'on')
      for (const index of indices) faults[index] = step.fault
      const results = await Promise.all(indices.map((index) => outcome(datasets[index]?.synchronize())))
      for (const index of indices) faults[index] = 'none'
      trace.say(results.map((result, i) => `${deviceName(indices[i] ?? 0)} ${result}`).join(', '))
    } else if (step.kind === 'advance') {
      trace.say(await advance(step.device, step.offline))
    } else if (step.kind === 'deliver') {
      const inbox = inboxes[step.device] as unknown[]
      const manager = devices[step.device]
      if (inbox.length === 0 || manager === undefined) {
        trace.say('no push is waiting')
        continue
      }
      const index = step.pick % inbox.length
      const payload = inbox[index]
      if (step.mode !== 'duplicate') inbox.splice(index, 1)
      if (step.mode === 'drop') continue
      // The push syncs in the background, if the device is behind, while the next steps go on. A
      // live channel relays the payload as it came; otherwise the app hands it over (FCM, APNs).
      const sink = sinks[step.device]
      if (sink !== undefined) {
        sink.onPayload(payload)
        trace.say('relayed by its channel')
      } else {
        trace.say(await manager.handlePushSyncUpdate(manager.getPushSyncUpdate(payload)))
      }
    } else if (step.kind === 'restart') {
      const manager = devices[step.device]
      const ds = datasets[step.device]
      if (manager === undefined || ds === undefined) continue
      // A sync held at the gate is cut off: its request never leaves, or its answer is lost.
      await finishHeld(step.device, 'fail')
      const syncing = ds.synchronize().then(
        () => 'done',
        (error: unknown) => (isSyncError(error, 'SYNC_CANCELLED') ? 'cancelled' : 'failed'),
      )
      await manager.close()
      expect(['done', 'cancelled']).toContain(await syncing)
      devices[step.device] = startDevice(step.device)
      datasets[step.device] = await (devices[step.device] as SyncManager).openOrCreateDataset('model')
    }
  }

  // Quiet rounds: held syncs go on, the background syncs end, then every device syncs until nobody
  // has anything pending.
  trace.line('quiet rounds')
  for (const index of gates.keys()) await finishHeld(index, 'on')
  for (const [index, device] of devices.entries()) await settled(device, datasets[index] as Dataset)
  for (let round = 0; round < 3; round++) {
    for (const ds of datasets) await ds.synchronize()
  }
  for (const ds of datasets) await ds.synchronize()
  const views = await Promise.all(datasets.map(async (ds) => ({ ...(await ds.getAll()) })))
  const reference = server.device(identity)
  const serverView = {
    ...(await (
      await reference.openOrCreateDataset('model')
    )
      .synchronize()
      .then(() => reference.openOrCreateDataset('model'))
      .then((ds) => ds.getAll())),
  }
  trace.line(
    `end: server ${JSON.stringify(serverView)}; ${views.map((view, i) => `${deviceName(i)} ${JSON.stringify(view)}`).join('; ')}`,
  )
  for (const [index, view] of views.entries()) {
    expect(view, deviceName(index)).toEqual(serverView)
    expect(datasets[index]?.getStatus().pendingChanges).toBe(0)
  }
  writes.forEach((write, index) => {
    const keyOf = write.note.slice(0, write.note.indexOf('='))
    const replaced = writes
      .slice(index + 1)
      .some((later) => later.device === write.device && later.note.startsWith(`${keyOf}=`))
    const kept = accepted.has(write.note) || handedToResolver.has(write.note) || replaced
    expect(kept, `write ${write.note} of ${deviceName(write.device)} was lost`).toBe(true)
  })
  await Promise.all(devices.map((device) => device.close()))
  await reference.close()
  // No manager wrote to its storage once its close() had resolved.
  expect(storages.map((storage) => storage.late.writes)).toEqual(storages.map(() => 0))
}
