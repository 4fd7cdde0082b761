import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Conflict,
  DEFAULT_LIMITS,
  lastWriterWins,
  localWins,
  planPull,
  planPush,
  type Resolution,
  remoteWins,
  resolveConflict,
} from '../../src/core/index.js'
import { ServerModel } from '../../src/testing/merge/index.js'

const value = fc.option(fc.string({ maxLength: 6 }), { nil: null })
const time = fc.nat({ max: 1_000_000 })

/** A real conflict: the server moved the record past the base of a dirty local edit. */
const conflict: fc.Arbitrary<Conflict> = fc
  .record({
    key: fc.string({ minLength: 1, maxLength: 8 }),
    localValue: value,
    remoteValue: value,
    base: fc.nat(20),
    ahead: fc.integer({ min: 1, max: 20 }),
    localTime: time,
    remoteTime: time,
    remoteDeviceTime: fc.option(time, { nil: null }),
  })
  .filter((c) => c.localValue !== c.remoteValue)
  .map((c) => ({
    key: c.key,
    local: {
      key: c.key,
      value: c.localValue,
      syncCount: c.base,
      lastModifiedDate: 0,
      lastModifiedBy: null,
      deviceLastModifiedDate: c.localTime,
      dirty: true,
    },
    remote: {
      key: c.key,
      value: c.remoteValue,
      syncCount: c.base + c.ahead,
      lastModifiedDate: c.remoteTime,
      lastModifiedBy: 'other',
      deviceLastModifiedDate: c.remoteDeviceTime,
    },
  }))

const resolution: fc.Arbitrary<Resolution> = fc.oneof(
  fc.constant({ kind: 'remote' as const }),
  fc.constant({ kind: 'local' as const }),
  value.map((v) => ({ kind: 'value' as const, value: v })),
)

describe('conflict resolvers', () => {
  it('are deterministic', () => {
    fc.assert(
      fc.property(conflict, (c) => {
        for (const resolver of [remoteWins, localWins, lastWriterWins]) {
          expect(resolver(structuredClone(c))).toEqual(resolver(c))
        }
      }),
    )
  })

  it('last writer wins compares the two device clocks, the server clock when the remote sent none, ties to remote', () => {
    fc.assert(
      fc.property(conflict, (c) => {
        const remoteTime = c.remote.deviceLastModifiedDate ?? c.remote.lastModifiedDate
        const expected = c.local.deviceLastModifiedDate > remoteTime ? 'local' : 'remote'
        expect(lastWriterWins(c).kind).toBe(expected)
      }),
    )
  })

  it('always produce a record the next push gets accepted, holding the chosen value', () => {
    fc.assert(
      fc.property(conflict, resolution, (c, chosen) => {
        // Put the server where the conflict says it is.
        const server = new ServerModel()
        for (let count = 1; count < c.remote.syncCount; count++) server.remoteWrite(`filler-${count}`, 'f', 0)
        server.remoteWrite(c.key, c.remote.value, 0)
        expect(server.count).toBe(c.remote.syncCount)

        const resolved = resolveConflict(c, chosen, { now: 5, limits: DEFAULT_LIMITS })
        expect(resolved.ok).toBe(true)
        if (!resolved.ok) return
        const expectedValue =
          chosen.kind === 'remote' ? c.remote.value : chosen.kind === 'local' ? c.local.value : chosen.value
        expect(resolved.value.value).toBe(expectedValue)
        expect(resolved.value.syncCount).toBe(c.remote.syncCount)
        // A resolution equal to the server's value needs no push.
        expect(resolved.value.dirty).toBe(expectedValue !== c.remote.value)

        const push = planPush([resolved.value])
        if (push.patches.length > 0) {
          const answer = server.updateRecords(push.patches, 'this-device')
          expect(answer.ok).toBe(true)
        }
        expect(server.liveView().get(c.key) ?? null).toBe(expectedValue)
        // And a pull after that raises no new conflict.
        const again = planPull([resolved.value], server.listRecords(c.remote.syncCount - 1), 0)
        expect(again.conflicts).toEqual([])
      }),
    )
  })

  it('refuses a custom value that breaks the value rules', () => {
    fc.assert(
      fc.property(conflict, (c) => {
        const result = resolveConflict(
          c,
          { kind: 'value', value: 'v'.repeat(11) },
          { now: 0, limits: { ...DEFAULT_LIMITS, maxValueLength: 10 } },
        )
        expect(result).toMatchObject({
          ok: false,
          failure: { code: 'INVALID_ARGUMENT', rule: 'maxValueLength' },
        })
      }),
    )
  })
})
