import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ConflictResolver,
  DELETE_PENDING,
  lastWriterWins,
  localWins,
  remoteWins,
} from '../../src/core/index.js'
import {
  findDivergence,
  findInvalidResolution,
  findSilentLoss,
  PUSH_CHANNELS,
  Simulation,
  type SimulationStep,
  simulationSteps,
} from '../../src/testing/merge/index.js'

/**
 * The core's rules, put together as the engine puts them, on the multi-device simulator of
 * `pushsync/testing/merge`: one to three devices and a server, random writes and removes, syncs
 * whose pulls and pushes interleave with other devices' steps, lost acknowledgements, pushes that
 * arrive late, twice, out of order or never, restarts mid-sync. The invariants below hold after
 * every step; after a quiet round every device equals the server and no write was lost.
 */

const resolvers: Record<string, ConflictResolver> = {
  remoteWins,
  localWins,
  lastWriterWins,
  concatenate: ({ local, remote }) => ({
    kind: 'value',
    value: `${local.value ?? '∅'}|${remote.value ?? '∅'}`,
  }),
}

const world = fc.integer({ min: 1, max: 3 }).chain((devices) =>
  fc.record({
    devices: fc.constant(devices),
    resolver: fc.constantFrom(...Object.keys(resolvers)),
    channels: fc.array(fc.constantFrom(...PUSH_CHANNELS), { minLength: devices, maxLength: devices }),
    clockSkews: fc.array(fc.integer({ min: -25, max: 25 }), { minLength: devices, maxLength: devices }),
    steps: simulationSteps({ devices, maxSteps: 30 }),
  }),
)

type World = typeof world extends fc.Arbitrary<infer T> ? T : never

function simulate(w: World, resolver?: ConflictResolver): Simulation {
  return new Simulation({
    devices: w.devices,
    resolver: resolver ?? resolvers[w.resolver] ?? remoteWins,
    channels: w.channels,
    clockSkews: w.clockSkews,
  })
}

/** Runs `check`, and on failure shows the trace so far under the assertion's message. */
function withTrace(simulation: Simulation, check: () => void): void {
  try {
    check()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`${message}\n${simulation.trace}`, { cause: error })
  }
}

function checkInvariants(simulation: Simulation): void {
  const { server } = simulation
  for (const device of simulation.devices) {
    const meta = device.meta
    if (meta === undefined) continue
    const lastSyncCount = meta.lastSyncCount
    if (lastSyncCount !== DELETE_PENDING) {
      expect(lastSyncCount, `${device.name} lastSyncCount`).toBeGreaterThanOrEqual(0)
      expect(lastSyncCount, `${device.name} lastSyncCount`).toBeLessThanOrEqual(server.count)
    }
    for (const record of device.records.values()) {
      if (record.dirty) continue
      // A clean row is one the server holds (or held) at exactly that sync count.
      expect(record.syncCount, `${device.name} clean ${record.key}`).toBeGreaterThan(0)
      expect(server.history.get(record.key)?.get(record.syncCount)).toBe(record.value)
    }
    // No gap: every server change up to lastSyncCount is on the device, or the device has a newer base.
    for (const key of server.history.keys()) {
      const version = server.versionAtOrBefore(key, lastSyncCount)
      if (version === undefined) continue
      const row = device.records.get(key)
      expect(row, `${device.name}: record ${JSON.stringify(key)} at #${version} is missing`).toBeDefined()
      expect(row?.syncCount).toBeGreaterThanOrEqual(version)
    }
  }
  // A device never conflicts with its own write, unless it never heard that the server stored it.
  for (const decision of simulation.journal.conflicts) {
    const device = simulation.devices[decision.device]
    if (decision.conflict.remote.lastModifiedBy !== device?.name) continue
    expect(
      device.unacknowledged.has(decision.conflict.key),
      `${device.name} conflicts with its own acknowledged write of ${JSON.stringify(decision.conflict.key)}`,
    ).toBe(true)
  }
}

describe('sync model: devices of one identity and a server, on the simulator', () => {
  it('keeps its invariants after every step, converges after a quiet round and loses no write', () => {
    fc.assert(
      fc.property(world, (w) => {
        const simulation = simulate(w)
        withTrace(simulation, () => {
          for (const step of w.steps) {
            simulation.run(step)
            checkInvariants(simulation)
          }
          simulation.settle()
          checkInvariants(simulation)
          // The resolvers above never fail, so nothing may be wedged, lost or left behind.
          expect(findInvalidResolution(simulation)).toBeUndefined()
          expect(findSilentLoss(simulation)).toBeUndefined()
          expect(findDivergence(simulation)).toBeUndefined()
          expect(simulation.isQuiet()).toBe(true)
        })
      }),
    )
  })

  it('with localWins, a device’s pending edits are what the server holds once it syncs alone', () => {
    fc.assert(
      fc.property(world, fc.nat(2), (w, pick) => {
        const simulation = simulate(w, localWins)
        const device = pick % w.devices
        withTrace(simulation, () => {
          simulation.runAll(w.steps)
          // Cut off a sync in flight: what it sent may have been overwritten since.
          simulation.run({ kind: 'restart', device })
          const pending = new Map(
            (simulation.devices[device]?.rows() ?? [])
              .filter((row) => row.dirty)
              .map((row) => [row.key, row.value]),
          )
          simulation.run({ kind: 'sync', devices: [device], fault: 'none' })
          for (const [key, value] of pending) {
            expect(simulation.server.record(key)?.value ?? null, `key ${JSON.stringify(key)}`).toBe(value)
          }
        })
      }),
    )
  })

  it('with remoteWins, every conflict of a sync leaves the server’s value in place', () => {
    fc.assert(
      fc.property(world, fc.nat(2), (w, pick) => {
        const simulation = simulate(w, remoteWins)
        const device = pick % w.devices
        withTrace(simulation, () => {
          simulation.runAll(w.steps)
          simulation.run({ kind: 'restart', device })
          const before = simulation.journal.conflicts.length
          simulation.run({ kind: 'sync', devices: [device], fault: 'none' })
          for (const decision of simulation.journal.conflicts.slice(before)) {
            expect(simulation.server.record(decision.conflict.key)?.value).toBe(
              decision.conflict.remote.value,
            )
          }
        })
      }),
    )
  })

  it('after a lost acknowledgement the next sync finds its own write: no conflict, no second push', () => {
    const steps: SimulationStep[] = [
      { kind: 'write', device: 0, key: 'a', value: 'x' },
      { kind: 'sync', devices: [0], fault: 'lost-ack' },
    ]
    const simulation = new Simulation({ devices: 1, resolver: localWins }).runAll(steps)
    const device = simulation.devices[0]
    expect(device?.dirtyKeys()).toEqual(['a'])
    const updates = simulation.server.updateCalls
    simulation.run({ kind: 'sync', devices: [0], fault: 'none' })
    expect(simulation.journal.conflicts).toEqual([])
    expect(simulation.server.updateCalls).toBe(updates)
    expect(device?.dirtyKeys()).toEqual([])
    expect(device?.meta?.lastSyncCount).toBe(1)
    expect(simulation.trace.lines).toEqual([
      ' 1. d0 writes a="x"',
      ' 2. d0 syncs (lost ack): pulls #0→#0; sends a="x" → stored at #1; does not hear the answer (offline)',
      ' 3. d0 syncs: pulls #0→#1 [a="x"], nothing to push',
    ])
  })
})
