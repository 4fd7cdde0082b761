/**
 * The judges of a simulation, each shown a run that breaks its property: a device that drops a
 * write, one left apart from the server, a resolution the server would refuse, two orders that
 * end apart. (No resolver can make the simulator drop a write or diverge: those two guard the
 * sync rules themselves, which the model tests run.)
 */
import { describe, expect, it } from 'vitest'
import { type ConflictResolver, localWins, remoteWins } from '../../src/core/index.js'
import {
  findDivergence,
  findInvalidResolution,
  findOrderDependence,
  findSilentLoss,
  Simulation,
  type SimulationStep,
} from '../../src/testing/merge/index.js'

const write = (device: number, key: string, value: string | null): SimulationStep => ({
  kind: 'write',
  device,
  key,
  value,
})
const sync = (...devices: number[]): SimulationStep => ({ kind: 'sync', devices, fault: 'none' })
const answersNothing = (() => undefined) as unknown as ConflictResolver

describe('the property checks', () => {
  it('no silent loss: a write that was dropped without reaching the server or the resolver', () => {
    const run = (drop: boolean) => {
      const simulation = new Simulation({ devices: 2, resolver: remoteWins }).runAll([write(0, 'a', 'x')])
      // The device forgets its write, as a broken pull that overwrote a dirty row would.
      if (drop) simulation.devices[0]?.records.delete('a')
      simulation.settle()
      return findSilentLoss(simulation)
    }
    expect(run(false)).toBeUndefined()
    expect(run(true)).toEqual({
      property: 'no silent loss',
      message:
        'd0’s write a="x" (step 1) never reached the server, was not replaced by a later write of that device, ' +
        'and was never handed to the resolver',
    })
  })

  it('no silent loss: a write handed to the resolver, replaced, or stored is not lost', () => {
    const simulation = new Simulation({ devices: 2, resolver: remoteWins }).runAll([
      write(0, 'a', 'x'),
      write(1, 'a', 'y'),
      write(1, 'b', 'first'),
      write(1, 'b', 'second'),
      sync(0),
      sync(1),
    ])
    simulation.settle()
    expect(simulation.journal.conflicts.map((decision) => decision.conflict.local.value)).toEqual(['y'])
    expect(findSilentLoss(simulation)).toBeUndefined()
  })

  it('converges: a device that holds something else than the server', () => {
    const simulation = new Simulation({ devices: 2, resolver: remoteWins }).runAll([
      write(0, 'a', 'x'),
      sync(0),
    ])
    simulation.settle()
    expect(findDivergence(simulation)).toBeUndefined()
    const device = simulation.devices[1]
    const row = device?.records.get('a')
    if (row === undefined || device === undefined) throw new Error('d1 should hold a')
    device.records.set('a', { ...row, value: 'stale' })
    expect(findDivergence(simulation)?.message).toBe(
      'after a quiet round d1 holds {a: "stale"}, the server {a: "x"}',
    )
  })

  it('stays valid: the first sync a resolution fails, and where', () => {
    const simulation = new Simulation({ devices: 2, resolver: answersNothing }).runAll([
      write(0, 'a', 'x'),
      write(1, 'a', 'y'),
      sync(0),
      sync(1),
    ])
    expect(findInvalidResolution(simulation)).toEqual({
      property: 'stays valid',
      message:
        'd1’s sync fails at step 4, and every later one would: the resolver returned undefined, ' +
        "not { kind: 'remote' | 'local' | 'value' }",
    })
  })

  it('order-independent: the first key the two orders end apart on', () => {
    const run = (order: number[]) => {
      const simulation = new Simulation({ devices: 2, resolver: localWins }).runAll([
        write(0, 'a', 'x'),
        write(1, 'a', 'y'),
        write(0, 'b', 'same'),
      ])
      simulation.settle(order)
      return { simulation, order }
    }
    expect(findOrderDependence(run([0, 1]), run([0, 1]))).toBeUndefined()
    expect(findOrderDependence(run([0, 1]), run([1, 0]))?.message).toBe(
      'the converged value of a depends on the order the devices synchronize in: "y" in order d0, d1, "x" in order d1, d0',
    )
  })
})
