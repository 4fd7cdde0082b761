import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ConflictResolver,
  lastWriterWins,
  localWins,
  remoteWins,
  resolveConflict,
} from '../../src/core/index.js'
import {
  describeStep,
  PUSH_CHANNELS,
  Simulation,
  type SimulationStep,
  simulationStep,
  simulationSteps,
} from '../../src/testing/merge/index.js'

const concatenate: ConflictResolver = ({ local, remote }) => ({
  kind: 'value',
  value: `${local.value}+${remote.value}`,
})

const write = (device: number, key: string, value: string | null): SimulationStep => ({
  kind: 'write',
  device,
  key,
  value,
})
const sync = (...devices: number[]): SimulationStep => ({ kind: 'sync', devices, fault: 'none' })
const advance = (device: number): SimulationStep => ({ kind: 'advance', device, offline: false })
const deliver = (device: number, pick: number, mode: 'deliver' | 'drop' | 'duplicate' = 'deliver') =>
  ({ kind: 'deliver', device, pick, mode }) as const

const world = fc.integer({ min: 1, max: 3 }).chain((devices) =>
  fc.record({
    devices: fc.constant(devices),
    channels: fc.array(fc.constantFrom(...PUSH_CHANNELS), { minLength: devices, maxLength: devices }),
    clockSkews: fc.array(fc.integer({ min: -25, max: 25 }), { minLength: devices, maxLength: devices }),
    steps: simulationSteps({ devices, weights: { delete: 1 } }),
  }),
)

describe('the simulator', () => {
  it('is deterministic: the same steps give the same trace and the same state', () => {
    fc.assert(
      fc.property(world, (w) => {
        const run = () => {
          const simulation = new Simulation({ ...w, resolver: concatenate }).runAll(w.steps)
          simulation.settle()
          return {
            trace: simulation.trace.lines,
            server: [...simulation.server.history],
            devices: simulation.devices.map((device) => [device.meta, [...device.records]]),
          }
        }
        expect(run()).toEqual(run())
      }),
    )
  })

  it('hands every conflict to the resolver and stores what resolveConflict makes of its answer', () => {
    fc.assert(
      fc.property(
        world,
        fc.constantFrom(localWins, remoteWins, lastWriterWins, concatenate),
        (w, resolver) => {
          const seen: unknown[] = []
          const spy: ConflictResolver = (conflict) => {
            seen.push(conflict)
            return resolver(conflict)
          }
          const simulation = new Simulation({ ...w, resolver: spy }).runAll(w.steps)
          simulation.settle()
          const decisions = simulation.journal.conflicts
          expect(decisions.map((decision) => decision.conflict)).toEqual(seen)
          for (const decision of decisions) {
            if (!decision.outcome.ok) throw new Error(decision.outcome.problem)
            const expected = resolveConflict(decision.conflict, decision.outcome.resolution, {
              now: decision.outcome.stored.deviceLastModifiedDate,
              limits: simulation.limits,
            })
            expect(expected.ok && expected.value.value).toBe(decision.outcome.stored.value)
          }
        },
      ),
    )
  })

  it('splits a sync into its pull, its push and its answer, with a 409 and a retry between', () => {
    const simulation = new Simulation({ devices: 2, resolver: concatenate }).runAll([
      write(0, 'a', 'x'),
      write(1, 'a', 'y'),
      advance(0),
      sync(1),
      advance(0),
      advance(0),
      advance(0),
      advance(0),
    ])
    simulation.settle()
    expect(simulation.trace.lines).toEqual([
      ' 1. d0 writes a="x"',
      ' 2. d1 writes a="y"',
      ' 3. d0: pulls #0→#0',
      ' 4. d1 syncs: pulls #0→#0; sends a="y" → stored at #1; acknowledged; lastSyncCount 1',
      ' 5. d0: sends a="x" → 409 (Current SyncCount for: a is: 1 not: 0)',
      ' 6. d0: hears 409, pulls again from #0; pulls #0→#1; conflict on a: local "x", remote "y" → value "x+y"',
      ' 7. d0: sends a="x+y" → stored at #2',
      ' 8. d0: acknowledged; lastSyncCount 2',
      'quiet round, in order d0, d1',
      '     d1 syncs: pulls #1→#2 [a="x+y"], nothing to push',
      'end: the server and every device hold {a: "x+y"}',
    ])
  })

  it('interleaves the syncs of several devices one step each', () => {
    const simulation = new Simulation({ devices: 2, resolver: remoteWins }).runAll([
      write(0, 'a', 'x'),
      write(1, 'a', 'y'),
      sync(0, 1),
    ])
    expect(simulation.trace.lines).toEqual([
      ' 1. d0 writes a="x"',
      ' 2. d1 writes a="y"',
      ' 3. d0, d1 sync',
      '     d0 pulls #0→#0',
      '     d1 pulls #0→#0',
      '     d0 sends a="x" → stored at #1',
      '     d1 sends a="y" → 409 (Current SyncCount for: a is: 1 not: 0)',
      '     d0 acknowledged; lastSyncCount 1',
      '     d1 hears 409, pulls again from #0',
      '     d1 pulls #0→#1; conflict on a: local "y", remote "x" → remote, nothing to push',
    ])
  })

  it('a device that lost the answer to its push does not conflict with its own write', () => {
    const simulation = new Simulation({ devices: 2, resolver: localWins }).runAll([
      write(0, 'a', 'x'),
      advance(0),
      advance(0),
      { kind: 'restart', device: 0 },
    ])
    expect(simulation.devices[0]?.unacknowledged).toEqual(new Set(['a']))
    expect(simulation.trace.lines.at(-1)).toBe(
      ' 4. d0 restarts: its push was stored, but the answer never arrives',
    )
    const updates = simulation.server.updateCalls
    simulation.run(sync(0))
    expect(simulation.journal.conflicts).toEqual([])
    expect(simulation.server.updateCalls).toBe(updates)
    expect(simulation.isQuiet()).toBe(false) // d1 has not pulled yet
    simulation.run(sync(1))
    expect(simulation.isQuiet()).toBe(true)
  })
})

describe('pushes in the simulator', () => {
  /** d0 and d1 both at #1, then d0 writes `a` = y at #2: d1 has pushes of #1 and #2 waiting. */
  function behindByOne(channels = PUSH_CHANNELS.slice(0, 2)): Simulation {
    return new Simulation({ devices: 2, resolver: remoteWins, channels }).runAll([
      write(0, 'a', 'x'),
      sync(0),
      sync(1),
      write(0, 'a', 'y'),
      sync(0),
    ])
  }

  it('a push carrying the change is applied without asking the server', () => {
    const simulation = behindByOne(['json', 'json'])
    expect(simulation.devices[1]?.inbox.map((push) => push.syncCount)).toEqual([1, 2])
    const pulls = simulation.server.listCalls
    simulation.run(deliver(1, 1))
    expect(simulation.trace.lines.at(-1)).toBe(' 6. d1: the push of #2 (json) arrives, applied: [a="y"]')
    expect(simulation.server.listCalls).toBe(pulls)
    expect(simulation.devices[1]?.meta?.lastSyncCount).toBe(2)
    expect(simulation.isQuiet()).toBe(true)
  })

  it('a push of a platform that carries no change makes the device sync', () => {
    const simulation = behindByOne(['json', 'apns'])
    simulation.run(deliver(1, 1))
    expect(simulation.trace.lines.at(-1)).toBe(
      ' 6. d1: the push of #2 (apns) arrives, so it syncs; pulls #1→#2 [a="y"], nothing to push',
    )
    expect(simulation.isQuiet()).toBe(true)
  })

  it('a push that comes again, or late, is stale and ignored', () => {
    const simulation = behindByOne(['json', 'sse'])
    simulation.run(deliver(1, 1, 'duplicate'))
    expect(simulation.devices[1]?.inbox.map((push) => push.syncCount)).toEqual([1, 2])
    simulation.run(deliver(1, 1))
    simulation.run(deliver(1, 0))
    expect(simulation.trace.lines.slice(-2)).toEqual([
      ' 7. d1: the push of #2 (sse) arrives, ignored (stale)',
      ' 8. d1: the push of #1 (sse) arrives, ignored (stale)',
    ])
    expect(simulation.devices[1]?.inbox).toEqual([])
  })

  it('a lost push leaves the device behind until it syncs', () => {
    const simulation = behindByOne()
    simulation.run(deliver(1, 1, 'drop'))
    expect(simulation.trace.lines.at(-1)).toBe(' 6. d1: the push of #2 is lost')
    expect(simulation.isQuiet()).toBe(false)
    simulation.run(sync(1))
    expect(simulation.isQuiet()).toBe(true)
  })

  it('a push during a sync is coalesced into one more sync after it', () => {
    const simulation = behindByOne()
    simulation.runAll([advance(1), write(0, 'b', 'z'), sync(0), deliver(1, 2), advance(1)])
    expect(simulation.trace.lines.slice(-2)).toEqual([
      ' 9. d1: the push of #3 (sse) arrives mid-sync: one more sync follows',
      '10. d1: has nothing to push; follows up; pulls #2→#3 [b="z"], nothing to push',
    ])
    expect(simulation.isQuiet()).toBe(true)
  })
})

describe('dataset deletions in the simulator', () => {
  it('a local deletion reaches the server, and a device without changes drops its copy', () => {
    const simulation = new Simulation({ devices: 2, resolver: remoteWins }).runAll([
      write(0, 'a', 'x'),
      sync(0),
      sync(1),
      { kind: 'delete', device: 0 },
      sync(0),
      sync(1),
    ])
    expect(simulation.trace.lines.slice(-2)).toEqual([
      ' 5. d0 syncs: deletes the dataset on the server (#2)',
      ' 6. d1 syncs: finds the dataset deleted on the server and drops its copy',
    ])
    expect(simulation.server.exists).toBe(false)
    expect(simulation.devices.map((device) => device.meta)).toEqual([undefined, undefined])
    expect(simulation.isQuiet()).toBe(true)
  })

  it('a device with changes keeps them and re-creates the dataset', () => {
    const simulation = new Simulation({ devices: 2, resolver: remoteWins }).runAll([
      write(0, 'a', 'x'),
      sync(0),
      sync(1),
      write(1, 'b', 'y'),
      { kind: 'delete', device: 0 },
      sync(0),
      sync(1),
    ])
    expect(simulation.trace.lines.at(-1)).toBe(
      ' 7. d1 syncs: finds the dataset deleted on the server and keeps its records to re-create it; ' +
        'pulls #0→#2; sends a="x", b="y" → stored at #3; acknowledged; lastSyncCount 3',
    )
    expect(simulation.server.liveView()).toEqual(
      new Map([
        ['a', 'x'],
        ['b', 'y'],
      ]),
    )
  })
})

describe('the step arbitraries', () => {
  it('name only the devices there are, and leave out the kinds weighted 0', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 4 })
          .chain((devices) =>
            fc.tuple(fc.constant(devices), simulationSteps({ devices, weights: { restart: 0, delete: 0 } })),
          ),
        ([devices, steps]) => {
          for (const step of steps) {
            const named = step.kind === 'sync' ? step.devices : [step.device]
            for (const device of named) expect(device).toBeLessThan(devices)
            expect(['restart', 'delete']).not.toContain(step.kind)
          }
        },
      ),
    )
  })

  it('draw every kind of step, each with a description', () => {
    const steps = fc.sample(simulationStep({ devices: 3, weights: { delete: 1 } }), 500)
    const kinds = new Set(steps.map((step) => step.kind))
    expect([...kinds].sort()).toEqual(['advance', 'delete', 'deliver', 'restart', 'sync', 'write'])
    expect(describeStep({ kind: 'write', device: 1, key: '__proto__', value: null })).toBe(
      'd1 removes __proto__',
    )
    expect(describeStep({ kind: 'write', device: 0, key: '\u200b', value: '' })).toBe(
      'd0 writes "\\u{200b}"=""',
    )
    expect(describeStep({ kind: 'sync', devices: [0, 2], fault: 'lost-ack' })).toBe(
      'd0, d2 sync (the push’s answer is lost)',
    )
  })

  it('refuse a number of devices that is not a positive integer', () => {
    expect(() => simulationStep({ devices: 0 })).toThrow(RangeError)
    expect(() => new Simulation({ devices: 1.5, resolver: remoteWins })).toThrow(RangeError)
    expect(() =>
      simulationStep({ devices: 2, weights: { write: 0, sync: 0, advance: 0, deliver: 0, restart: 0 } }),
    ).toThrow(RangeError)
  })
})
