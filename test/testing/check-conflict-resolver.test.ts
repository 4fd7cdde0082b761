import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ConflictResolver,
  DEFAULT_LIMITS,
  lastWriterWins,
  localWins,
  remoteWins,
} from '../../src/core/index.js'
import {
  ConflictResolverCheckError,
  checkConflictResolver,
  evaluateScenario,
} from '../../src/testing/merge/index.js'

/** A merge whose result does not depend on who syncs first: comma-separated sets, merged by union. */
const union: ConflictResolver = ({ local, remote }) => {
  const items = new Set([...(local.value ?? '').split(','), ...(remote.value ?? '').split(',')])
  items.delete('')
  return { kind: 'value', value: [...items].sort().join(',') }
}
const sets = fc
  .subarray(['milk', 'eggs', 'bread'], { minLength: 1 })
  .map((items) => [...items].sort().join(','))

/** The rejection of `promise`, which must be a {@link ConflictResolverCheckError}. */
async function failure(promise: Promise<void>): Promise<ConflictResolverCheckError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(ConflictResolverCheckError)
  return error as ConflictResolverCheckError
}

describe('checkConflictResolver passes', () => {
  it.each([
    ['lastWriterWins', lastWriterWins],
    ['remoteWins', remoteWins],
    ['localWins', localWins],
  ])('%s on the properties always checked', async (_, resolver) => {
    await expect(checkConflictResolver(resolver)).resolves.toBeUndefined()
  })

  it('a set union under orderIndependent, with the values it merges', async () => {
    await expect(
      checkConflictResolver(union, { orderIndependent: true, values: sets }),
    ).resolves.toBeUndefined()
  })
})

describe('checkConflictResolver catches', () => {
  it('localWins under orderIndependent, with a short trace of the two orders', async () => {
    const error = await failure(checkConflictResolver(localWins, { orderIndependent: true }))
    expect(error.property).toBe('order-independent')
    expect(error.message).toMatch(
      /^checkConflictResolver: localWins breaks "order-independent": the converged value of /,
    )
    expect(error.message).toMatch(/in order d0, d1, d2, .* in order d/)
    // Shrunk to a few writes of one key, then a quiet round in each order. Shrinking stops at a
    // local minimum now and then (a device must first see a key to remove it, so a quiet round
    // before the writes may stay, and dropping any one write of a few can make both orders agree).
    const writes = error.trace.filter((line) => /^ *\d+\. d\d (writes|removes) /.test(line))
    expect(writes.length).toBeGreaterThanOrEqual(2)
    expect(writes.length).toBeLessThanOrEqual(6)
    const rounds = error.trace.filter((line) => line.startsWith('quiet round, in order'))
    expect(rounds.length).toBeGreaterThanOrEqual(2)
    expect(rounds.length).toBeLessThanOrEqual(3)
    const [first, second] = rounds.slice(-2)
    expect(first).toBe('quiet round, in order d0, d1, d2')
    expect(second).toMatch(/^quiet round, in order d\d, d\d, d\d$/)
    expect(second).not.toBe(first)
    expect(error.trace.some((line) => line.includes('→ local'))).toBe(true)
    expect(error.trace.length).toBeLessThan(30)
    expect(error.message).toContain(
      `Replay: checkConflictResolver(localWins, { seed: ${error.seed}, path: "${error.path}", orderIndependent: true })`,
    )
  })

  it('a value over the record size limit: stays valid fails where the resolver answered', async () => {
    const tooLong: ConflictResolver = () => ({
      kind: 'value',
      value: 'x'.repeat(DEFAULT_LIMITS.maxValueLength + 1),
    })
    const error = await failure(checkConflictResolver(tooLong))
    expect(error.property).toBe('stays valid')
    expect(error.message).toContain('record value is 1048576 characters; the limit is 1048575')
    // The trace shows the conflict and the refusal, and cuts the value short.
    const conflictLine = error.trace.find((line) => line.includes('conflict on'))
    expect(conflictLine).toMatch(/→ the resolver returned a value the device refuses: .*; the sync fails/)
    expect(error.message).not.toContain('x'.repeat(100))
  })

  it('a resolver that throws for some inputs: stays valid fails with the input and the error', async () => {
    const noRemovals: ConflictResolver = function noRemovals({ local, remote }) {
      if (remote.value === null || local.value === null) throw new Error('cannot merge a removal')
      return { kind: 'remote' }
    }
    const error = await failure(checkConflictResolver(noRemovals))
    expect(error.property).toBe('stays valid')
    expect(error.message).toContain('noRemovals breaks "stays valid"')
    expect(error.message).toContain('the resolver threw Error: cannot merge a removal')
    expect(error.trace.find((line) => line.includes('threw'))).toMatch(/conflict on .*(local|remote) ∅/)
  })

  it('a resolver that returns something else than a resolution', async () => {
    const promised = (() => Promise.resolve({ kind: 'remote' })) as unknown as ConflictResolver
    const error = await failure(checkConflictResolver(promised))
    expect(error.property).toBe('stays valid')
    expect(error.message).toContain(
      "the resolver returned a promise, not { kind: 'remote' | 'local' | 'value' }",
    )
  })

  it('a resolution that grows the dataset past the byte quota', async () => {
    const padded: ConflictResolver = ({ local }) => ({
      kind: 'value',
      value: `${local.value ?? ''}${'p'.repeat(40)}`,
    })
    const error = await failure(checkConflictResolver(padded, { limits: { maxDatasetBytes: 64 } }))
    expect(error.property).toBe('stays valid')
    expect(error.message).toMatch(
      /the resolutions make the dataset hold \d+ bytes of keys and values; the limit is 64/,
    )
  })

  it('a resolver that changes its input', async () => {
    const mutating: ConflictResolver = (conflict) => {
      ;(conflict.local as { value: string | null }).value = 'changed'
      return { kind: 'local' }
    }
    const error = await failure(checkConflictResolver(mutating))
    expect(error.property).toBe('stays valid')
    expect(error.message).toMatch(/the resolver threw TypeError/)
  })
})

describe('checkConflictResolver options', () => {
  it('replays a failure from its seed and path, to the same trace', async () => {
    const first = await failure(checkConflictResolver(localWins, { orderIndependent: true, numRuns: 200 }))
    const again = await failure(
      checkConflictResolver(localWins, {
        orderIndependent: true,
        seed: first.seed,
        ...(first.path === undefined ? {} : { path: first.path }),
      }),
    )
    expect(again.trace).toEqual(first.trace)
    expect(evaluateScenario(localWins, first.scenario, { orderIndependent: true }).trace).toEqual(first.trace)
  })

  it('draws keys and values from the arbitraries given, on the number of devices given', async () => {
    const seen = { keys: new Set<string>(), values: new Set<string | null>(), devices: 0 }
    const watching: ConflictResolver = (conflict) => {
      seen.keys.add(conflict.key)
      seen.values.add(conflict.local.value)
      seen.values.add(conflict.remote.value)
      return remoteWins(conflict)
    }
    await checkConflictResolver(watching, {
      keys: fc.constant('only-key'),
      values: fc.constantFrom('v1', 'v2'),
      devices: 2,
      numRuns: 300,
    })
    expect([...seen.keys]).toEqual(['only-key'])
    expect([...seen.values].sort()).toEqual(['v1', 'v2', null].sort())

    const onTwo = await failure(checkConflictResolver(localWins, { orderIndependent: true, devices: 2 }))
    expect(onTwo.scenario.channels).toHaveLength(2)
    expect(onTwo.message).toContain('devices: 2')
  })

  it('refuses what it cannot run', async () => {
    await expect(checkConflictResolver(localWins, { devices: 1 })).rejects.toThrow(RangeError)
    await expect(checkConflictResolver(undefined as unknown as ConflictResolver)).rejects.toThrow(TypeError)
  })
})
