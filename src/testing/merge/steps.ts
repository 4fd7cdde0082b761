import fc from 'fast-check'
import { showEntry, showKey } from './text.js'

/**
 * Network faults of a sync, as the engine's transport meets them: the pull fails, the push is
 * never sent, or the server stores the push and its answer is lost.
 */
export type SyncFault = 'none' | 'offline-before-pull' | 'offline-before-push' | 'lost-ack'

/** What becomes of a push waiting for a device: it arrives, is lost, or arrives and comes again later. */
export type DeliveryMode = 'deliver' | 'drop' | 'duplicate'

/**
 * One thing that happens to a group of devices of one identity, all holding one dataset. Devices
 * are numbered from 0 and shown as `d0`, `d1`...
 *
 * - `write`: the app puts a value (`null` removes the record).
 * - `sync`: the listed devices synchronize at the same time, their pulls and pushes interleaved.
 * - `advance`: one step of the device's sync: it pulls (and decides the conflicts), or sends its
 *   push, or hears the answer; other steps may come in between. `offline` fails that step.
 * - `deliver`: a push the server sent the device arrives (`pick` chooses which of those waiting,
 *   so they arrive in any order), is lost, or arrives twice.
 * - `restart`: the app closes and opens again; a sync in flight is cut off.
 * - `delete`: the app deletes the dataset; the deletion reaches the server at the next sync.
 */
export type SimulationStep =
  | { readonly kind: 'write'; readonly device: number; readonly key: string; readonly value: string | null }
  | { readonly kind: 'sync'; readonly devices: readonly number[]; readonly fault: SyncFault }
  | { readonly kind: 'advance'; readonly device: number; readonly offline: boolean }
  | { readonly kind: 'deliver'; readonly device: number; readonly pick: number; readonly mode: DeliveryMode }
  | { readonly kind: 'restart'; readonly device: number }
  | { readonly kind: 'delete'; readonly device: number }

/** The name a trace gives device `index`. */
export function deviceName(index: number): string {
  return `d${index}`
}

const FAULT_TEXT: Readonly<Record<SyncFault, string>> = {
  none: '',
  'offline-before-pull': ' (offline before the pull)',
  'offline-before-push': ' (offline before the push)',
  'lost-ack': ' (the push’s answer is lost)',
}

/** One line saying what a step does, as a trace shows it. */
export function describeStep(step: SimulationStep): string {
  const device = 'device' in step ? deviceName(step.device) : ''
  switch (step.kind) {
    case 'write':
      return step.value === null
        ? `${device} removes ${showKey(step.key)}`
        : `${device} writes ${showEntry(step.key, step.value)}`
    case 'sync':
      return `${step.devices.map(deviceName).join(', ')} sync${step.devices.length === 1 ? 's' : ''}${FAULT_TEXT[step.fault]}`
    case 'advance':
      return `${device} takes one step of its sync${step.offline ? ' (offline)' : ''}`
    case 'deliver':
      return step.mode === 'drop'
        ? `${device} loses a push (place ${step.pick} of its queue)`
        : `${device} receives a push (place ${step.pick} of its queue)${step.mode === 'duplicate' ? ', which comes again later' : ''}`
    case 'restart':
      return `${device} restarts`
    case 'delete':
      return `${device} deletes the dataset`
  }
}

/** Relative weights of the kinds of step; 0 leaves a kind out. */
export type StepWeights = Readonly<Record<SimulationStep['kind'], number>>

/**
 * Writes most, syncs of every sort, now and then a restart. Dataset deletions are left out unless
 * asked for (`weights: { delete: 1 }`): the properties that `checkConflictResolver` checks are
 * about records, and a deletion racing with other devices' writes is the engine's to get right
 * (its own tests cover it, test/engine/deletion-races.test.ts among them).
 */
export const DEFAULT_STEP_WEIGHTS: StepWeights = Object.freeze({
  write: 5,
  sync: 2,
  advance: 3,
  deliver: 2,
  restart: 1,
  delete: 0,
})

export interface StepArbitraryOptions {
  /** How many devices the steps are for. */
  readonly devices: number
  /** The keys the app writes; a few keys make conflicts likely. */
  readonly keys?: fc.Arbitrary<string>
  /** The values the app writes (removals are generated besides). */
  readonly values?: fc.Arbitrary<string>
  /** Default: {@link DEFAULT_STEP_WEIGHTS}; the kinds not named keep their default weight. */
  readonly weights?: Partial<StepWeights>
  /** Default 25. */
  readonly maxSteps?: number
  /** How long runs tend to be below `maxSteps`; default `medium`, so that devices meet. */
  readonly size?: fc.SizeForArbitrary
}

/**
 * Two keys most of the time, so that devices meet on them, and now and then one that breaks naive
 * maps: `__proto__`, an empty-looking zero-width space, an astral character.
 */
export function defaultSimulationKeys(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('a', 'b') },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', '\u200b', '😀') },
  )
}

/** Short values: the empty string, an astral character, and short text. */
export function defaultSimulationValues(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('x', 'y', 'z', '', '😀') },
    { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
  )
}

/** One step for `options.devices` devices. */
export function simulationStep(options: StepArbitraryOptions): fc.Arbitrary<SimulationStep> {
  const devices = options.devices
  if (!Number.isSafeInteger(devices) || devices < 1) {
    throw new RangeError(`devices must be a positive integer, got ${devices}`)
  }
  const weights: StepWeights = { ...DEFAULT_STEP_WEIGHTS, ...options.weights }
  const device = fc.nat(devices - 1)
  const key = options.keys ?? defaultSimulationKeys()
  const value = fc.option(options.values ?? defaultSimulationValues(), { nil: null, freq: 5 })
  const kinds: Array<{ weight: number; arbitrary: fc.Arbitrary<SimulationStep> }> = [
    {
      weight: weights.write,
      arbitrary: fc.record({ kind: fc.constant('write' as const), device, key, value }),
    },
    {
      weight: weights.sync,
      arbitrary: fc.record({
        kind: fc.constant('sync' as const),
        devices: fc.uniqueArray(device, { minLength: 1, maxLength: devices }),
        fault: fc.constantFrom<SyncFault>(
          'none',
          'none',
          'offline-before-pull',
          'offline-before-push',
          'lost-ack',
        ),
      }),
    },
    {
      weight: weights.advance,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        device,
        offline: fc.oneof(
          { weight: 5, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        ),
      }),
    },
    {
      weight: weights.deliver,
      arbitrary: fc.record({
        kind: fc.constant('deliver' as const),
        device,
        pick: fc.nat(3),
        mode: fc.constantFrom<DeliveryMode>('deliver', 'deliver', 'drop', 'duplicate'),
      }),
    },
    { weight: weights.restart, arbitrary: fc.record({ kind: fc.constant('restart' as const), device }) },
    { weight: weights.delete, arbitrary: fc.record({ kind: fc.constant('delete' as const), device }) },
  ]
  // Weights of 0 are left out rather than passed on: not every fast-check version accepts them.
  const chosen = kinds.filter((kind) => kind.weight > 0)
  if (chosen.length === 0) throw new RangeError('every kind of step has weight 0')
  return fc.oneof(...chosen)
}

/** A sequence of steps for `options.devices` devices, shrinking towards fewer and simpler steps. */
export function simulationSteps(options: StepArbitraryOptions): fc.Arbitrary<SimulationStep[]> {
  return fc.array(simulationStep(options), {
    maxLength: options.maxSteps ?? 25,
    size: options.size ?? 'medium',
  })
}
