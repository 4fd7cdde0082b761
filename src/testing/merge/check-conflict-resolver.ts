import fc from 'fast-check'
import type { ConflictResolver } from '../../core/conflict.js'
import type { Limits } from '../../core/limits.js'
import { PUSH_CHANNELS, type PushChannel } from './notifications.js'
import {
  findDivergence,
  findInvalidResolution,
  findOrderDependence,
  findSilentLoss,
  type MergeProperty,
  type PropertyViolation,
} from './properties.js'
import { Simulation } from './simulation.js'
import { type SimulationStep, type StepWeights, simulationStep, simulationSteps } from './steps.js'

export interface CheckConflictResolverOptions {
  /** Devices of the identity; default 3. */
  readonly devices?: number
  /**
   * Also require that the converged value of every key is the same whatever order the devices
   * synchronize in: once they agree, each device writes offline, then they sync one after another,
   * in two orders; the server must end with the same values. A union or a counter merge gives
   * that; `localWins` and `remoteWins` do not.
   */
  readonly orderIndependent?: boolean
  /** Scenarios to try; fast-check's default (100, or the global setting) when omitted. */
  readonly numRuns?: number
  /** Replays the runs of a reported failure. */
  readonly seed?: number
  /** With `seed`, goes straight to the reported counterexample. */
  readonly path?: string
  /** The keys the devices write; default a few keys, `__proto__`, an empty-looking one and an emoji. */
  readonly keys?: fc.Arbitrary<string>
  /** The values the devices write (removals come besides); default short strings. */
  readonly values?: fc.Arbitrary<string>
  /** Steps per scenario at most; default 20. */
  readonly maxSteps?: number
  /** The limits the devices and the server enforce; Cognito's by default. */
  readonly limits?: Partial<Limits>
  /** Relative weights of the kinds of step (writes, syncs, pushes, restarts, deletes). */
  readonly weights?: Partial<StepWeights>
}

/** Everything one run of `checkConflictResolver` tries: the steps, and how the devices differ. */
export interface MergeScenario {
  readonly steps: readonly SimulationStep[]
  /** How pushes reach each device. */
  readonly channels: readonly PushChannel[]
  /** Each device's clock offset in milliseconds. */
  readonly clockSkews: readonly number[]
  /**
   * Under `orderIndependent`: the writes the devices make offline once they agree, and a second
   * order for the quiet round that follows, compared with index order.
   */
  readonly concurrentWrites: readonly SimulationStep[]
  readonly order: readonly number[]
}

/** The outcome of one scenario: the first property that fails, and the trace that shows it. */
export interface ScenarioOutcome {
  readonly violation: PropertyViolation | undefined
  readonly trace: readonly string[]
}

/** Thrown (as the rejection of `checkConflictResolver`) when a property fails. */
export class ConflictResolverCheckError extends Error {
  readonly property: MergeProperty
  /** The shrunk counterexample as a trace, one line per step. */
  readonly trace: readonly string[]
  readonly seed: number
  readonly path: string | undefined
  readonly scenario: MergeScenario

  constructor(
    message: string,
    details: {
      property: MergeProperty
      trace: readonly string[]
      seed: number
      path: string | undefined
      scenario: MergeScenario
    },
  ) {
    super(message)
    this.name = 'ConflictResolverCheckError'
    this.property = details.property
    this.trace = details.trace
    this.seed = details.seed
    this.path = details.path
    this.scenario = details.scenario
  }
}

const DEFAULT_DEVICES = 3
const DEFAULT_MAX_STEPS = 20

/** The scenarios `checkConflictResolver` draws from. */
export function mergeScenario(options: CheckConflictResolverOptions = {}): fc.Arbitrary<MergeScenario> {
  const devices = options.devices ?? DEFAULT_DEVICES
  const indices = Array.from({ length: devices }, (_, index) => index)
  const data = {
    devices,
    ...(options.keys === undefined ? {} : { keys: options.keys }),
    ...(options.values === undefined ? {} : { values: options.values }),
  }
  const onlyWrites = { write: 1, sync: 0, advance: 0, deliver: 0, restart: 0, delete: 0 }
  return fc.record({
    steps: simulationSteps({
      ...data,
      maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS,
      ...(options.weights === undefined ? {} : { weights: options.weights }),
    }),
    concurrentWrites:
      options.orderIndependent === true
        ? fc.array(simulationStep({ ...data, weights: onlyWrites }), { minLength: 1, maxLength: 2 * devices })
        : fc.constant([]),
    channels: fc.array(fc.constantFrom(...PUSH_CHANNELS), { minLength: devices, maxLength: devices }),
    // Device times step by 10 ms per step: offsets of a few steps reorder and tie writes.
    clockSkews: fc.array(fc.integer({ min: -25, max: 25 }), { minLength: devices, maxLength: devices }),
    order: fc.shuffledSubarray(indices, { minLength: devices, maxLength: devices }),
  })
}

/**
 * Runs one scenario with `resolver` and judges it: *stays valid* (checked after every step, so the
 * trace stops where the first sync fails), then after a quiet round *no silent loss* and
 * *converges*. Under `orderIndependent` the devices then write offline and synchronize in index
 * order, and, in a second run of the same steps, in the scenario's other order; both runs must
 * hold every property and end with the same values.
 */
export function evaluateScenario(
  resolver: ConflictResolver,
  scenario: MergeScenario,
  options: CheckConflictResolverOptions = {},
): ScenarioOutcome {
  const start = () =>
    new Simulation({
      devices: options.devices ?? DEFAULT_DEVICES,
      resolver,
      channels: scenario.channels,
      clockSkews: scenario.clockSkews,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    })
  const simulation = start()
  for (const step of scenario.steps) {
    simulation.run(step)
    const invalid = findInvalidResolution(simulation)
    if (invalid !== undefined) {
      simulation.trace.line(simulation.ending())
      return { violation: invalid, trace: simulation.trace.lines }
    }
  }
  const indexOrder = simulation.devices.map((device) => device.index)
  const settle = (run: Simulation, order: readonly number[]) =>
    run.settle(order, () => findInvalidResolution(run) !== undefined)
  const judge = (run: Simulation) => findInvalidResolution(run) ?? findSilentLoss(run) ?? findDivergence(run)
  settle(simulation, indexOrder)
  const violation = judge(simulation)
  if (violation !== undefined || options.orderIndependent !== true) {
    return { violation, trace: simulation.trace.lines }
  }

  // The devices agree now; each writes offline, then they synchronize in two orders.
  const sameAsIndex = scenario.order.every((index, position) => index === indexOrder[position])
  const otherOrder = sameAsIndex ? [...indexOrder].reverse() : scenario.order
  simulation.runAll(scenario.concurrentWrites)
  settle(simulation, indexOrder)
  const first = judge(simulation)
  if (first !== undefined) return { violation: first, trace: simulation.trace.lines }
  const other = start().runAll(scenario.steps)
  settle(other, indexOrder)
  other.runAll(scenario.concurrentWrites)
  const quietStart = other.trace.lines.length
  settle(other, otherOrder)
  const trace = [...simulation.trace.lines, ...other.trace.lines.slice(quietStart)]
  return {
    violation:
      judge(other) ??
      findOrderDependence({ simulation, order: indexOrder }, { simulation: other, order: otherOrder }),
    trace,
  }
}

/**
 * Property-tests a conflict resolver on the multi-device simulator: random writes and removes on
 * several devices, syncs interleaved between pull and push, lost acknowledgements, pushes dropped,
 * duplicated and reordered, restarts, dataset deletions, then a quiet round. It checks that
 *
 * - *stays valid*: every resolution passes validation and the quotas, so no sync is wedged;
 * - *no silent loss*: every write reached the server, was replaced by a later write of its device,
 *   or was handed to the resolver;
 * - *converges*: after the quiet round every device holds the server's values;
 * - *order-independent* (with `orderIndependent: true`): the converged value of each key does not
 *   depend on the order the devices synchronize in.
 *
 * Works with fast-check 3.22 or later and 4, under any test runner.
 *
 * @returns a promise that resolves when every property holds, and rejects with a
 *   {@link ConflictResolverCheckError} whose message shows the shrunk counterexample as a trace,
 *   with the seed and path that replay it.
 */
export async function checkConflictResolver(
  resolver: ConflictResolver,
  options: CheckConflictResolverOptions = {},
): Promise<void> {
  if (typeof resolver !== 'function') throw new TypeError('checkConflictResolver needs a resolver function')
  const devices = options.devices ?? DEFAULT_DEVICES
  if (!Number.isSafeInteger(devices) || devices < 2) {
    throw new RangeError(`devices must be an integer of at least 2, got ${devices}`)
  }
  const property = fc.property(mergeScenario(options), (scenario) => {
    return safely(resolver, scenario, options).violation === undefined
  })
  const details = fc.check(property, {
    ...(options.numRuns === undefined ? {} : { numRuns: options.numRuns }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.path === undefined ? {} : { path: options.path }),
  })
  if (!details.failed) return
  const scenario = details.counterexample?.[0]
  if (scenario === undefined) {
    throw new Error(`checkConflictResolver stopped without a counterexample (seed ${details.seed})`)
  }
  const outcome = safely(resolver, scenario, options)
  const violation = outcome.violation ?? {
    property: 'stays valid' as const,
    message: 'the run failed once but not when replayed: does the resolver depend on anything but its input?',
  }
  const path = details.counterexamplePath ?? undefined
  const replay = replayOptions(options, details.seed, path)
  const name = resolver.name === '' ? 'the resolver' : resolver.name
  const message = [
    `checkConflictResolver: ${name} breaks "${violation.property}": ${violation.message}.`,
    `Counterexample (seed ${details.seed}${path === undefined ? '' : `, path "${path}"`}, after ${details.numShrinks} shrinks):`,
    ...outcome.trace.map((line) => `  ${line}`),
    `Replay: checkConflictResolver(${resolver.name === '' ? 'resolver' : resolver.name}, ${replay})`,
  ].join('\n')
  throw new ConflictResolverCheckError(message, {
    property: violation.property,
    trace: outcome.trace,
    seed: details.seed,
    path,
    scenario,
  })
}

/** A run that ends in an exception of the simulation itself is reported, not thrown through fast-check. */
function safely(
  resolver: ConflictResolver,
  scenario: MergeScenario,
  options: CheckConflictResolverOptions,
): ScenarioOutcome {
  try {
    return evaluateScenario(resolver, scenario, options)
  } catch (error) {
    return {
      violation: {
        property: 'stays valid',
        message: `the simulation stopped: ${error instanceof Error ? error.message : String(error)}`,
      },
      trace: [],
    }
  }
}

function replayOptions(
  options: CheckConflictResolverOptions,
  seed: number,
  path: string | undefined,
): string {
  const shown: string[] = [`seed: ${seed}`]
  if (path !== undefined) shown.push(`path: ${JSON.stringify(path)}`)
  if (options.devices !== undefined) shown.push(`devices: ${options.devices}`)
  if (options.orderIndependent === true) shown.push('orderIndependent: true')
  if (options.maxSteps !== undefined) shown.push(`maxSteps: ${options.maxSteps}`)
  const rest =
    options.keys !== undefined ||
    options.values !== undefined ||
    options.limits !== undefined ||
    options.weights !== undefined
  return `{ ${shown.join(', ')}${rest ? ', ...the same keys, values, limits and weights' : ''} }`
}
