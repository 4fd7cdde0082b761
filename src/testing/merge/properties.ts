import type { AcceptedWrite } from './journal.js'
import type { Simulation } from './simulation.js'
import { deviceName } from './steps.js'
import { showEntry, showKey, showValue, showView } from './text.js'

/** The properties of merge logic the simulation checks. */
export type MergeProperty = 'stays valid' | 'no silent loss' | 'converges' | 'order-independent'

/** A property that does not hold, and why, in a sentence. */
export interface PropertyViolation {
  readonly property: MergeProperty
  readonly message: string
}

/**
 * *Stays valid*: every resolution is one the device stores and the server accepts. A resolver that
 * throws, returns something else than a resolution, a value over the size limit, or one that grows
 * the dataset past a quota fails the sync, and every later sync meets the same conflict and fails
 * the same way.
 */
export function findInvalidResolution(simulation: Simulation): PropertyViolation | undefined {
  const problem = simulation.journal.problems.find((entry) => entry.byResolver)
  if (problem === undefined) return undefined
  const where = problem.step === 0 ? 'in the quiet round' : `at step ${problem.step}`
  return {
    property: 'stays valid',
    message: `${deviceName(problem.device)}’s sync fails ${where}, and every later one would: ${problem.message}`,
  }
}

/**
 * *No silent loss*: every write the app made on a device reached the server, was replaced by a
 * later write of the same key on that device (or the device's deletion of the dataset), or was
 * handed to the resolver as the local side of a conflict. Judge it after a quiet round: before, a
 * write may just not have been pushed yet.
 */
export function findSilentLoss(simulation: Simulation): PropertyViolation | undefined {
  const { journal, server } = simulation
  const lost = journal.writes.find((write) => {
    const replaced = journal.writes.some(
      (later) => later.seq > write.seq && later.device === write.device && later.key === write.key,
    )
    const settled = journal.settled.some(
      (entry) =>
        entry.seq > write.seq &&
        entry.device === write.device &&
        (entry.key === undefined || entry.key === write.key),
    )
    const handed = journal.conflicts.some(
      (decision) =>
        decision.seq > write.seq &&
        decision.device === write.device &&
        decision.conflict.key === write.key &&
        decision.conflict.local.value === write.value,
    )
    return !(replaced || settled || handed || reachedServer(write, server.history))
  })
  if (lost === undefined) return undefined
  return {
    property: 'no silent loss',
    message:
      `${deviceName(lost.device)}’s write ${showEntry(lost.key, lost.value)} (step ${lost.step}) never reached the ` +
      'server, was not replaced by a later write of that device, and was never handed to the resolver',
  }
}

/** The server held the write's value at the version it had then, or at a later one. */
function reachedServer(
  write: AcceptedWrite,
  history: ReadonlyMap<string, ReadonlyMap<number, string | null>>,
): boolean {
  const since = write.serverVersion ?? 0
  for (const [count, value] of history.get(write.key) ?? []) {
    if (count >= since && value === write.value) return true
  }
  return false
}

/**
 * *Converges*: after a quiet round every device holds what the server holds, has nothing left to
 * push, and has pulled everything.
 */
export function findDivergence(simulation: Simulation): PropertyViolation | undefined {
  const { server } = simulation
  const expected = showView(server.liveView())
  for (const device of simulation.devices) {
    const view = showView(device.liveView())
    const pending = device.dirtyKeys()
    const behind = device.meta !== undefined && device.meta.lastSyncCount !== server.count
    if (view === expected && pending.length === 0 && !behind) continue
    const details = [
      pending.length > 0 ? `changes of ${pending.map(showKey).join(', ')} still to push` : '',
      behind ? `lastSyncCount ${device.meta?.lastSyncCount} while the server is at #${server.count}` : '',
    ].filter((detail) => detail !== '')
    return {
      property: 'converges',
      message:
        `after a quiet round ${device.name} holds ${view}${details.length > 0 ? ` (${details.join('; ')})` : ''}, ` +
        `the server ${expected}`,
    }
  }
  return undefined
}

/**
 * *Order-independent*: the same writes, the quiet round run in two orders, the server ends with
 * the same value of every key.
 */
export function findOrderDependence(
  first: { readonly simulation: Simulation; readonly order: readonly number[] },
  second: { readonly simulation: Simulation; readonly order: readonly number[] },
): PropertyViolation | undefined {
  const a = first.simulation.server.liveView()
  const b = second.simulation.server.liveView()
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort()
  const key = keys.find((candidate) => a.get(candidate) !== b.get(candidate))
  if (key === undefined) return undefined
  const show = (value: string | undefined) => showValue(value ?? null)
  const order = (indices: readonly number[]) => indices.map(deviceName).join(', ')
  return {
    property: 'order-independent',
    message:
      `the converged value of ${showKey(key)} depends on the order the devices synchronize in: ` +
      `${show(a.get(key))} in order ${order(first.order)}, ${show(b.get(key))} in order ${order(second.order)}`,
  }
}
