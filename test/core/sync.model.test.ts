import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type ConflictResolver, lastWriterWins, localWins, remoteWins } from '../../src/core/index.js'
import { DeviceModel, type SyncFaults } from './model/device-model.js'
import { ServerModel } from './model/server-model.js'

/**
 * One device and one server (plus "another device" writing straight to the server), driven by
 * random local writes and removes, remote writes and synchronizes with faults: offline, a write by
 * another device between pull and push (a 409), a local write during the push, a lost
 * acknowledgement. After every step the invariants below must hold.
 */

const KEYS = ['a', 'b', 'c', '__proto__', '']
const key = fc.constantFrom(...KEYS.filter((k) => k !== ''))
const value = fc.oneof(fc.constantFrom('x', 'y', ''), fc.string({ maxLength: 4 }), fc.constant(null))

const faults: fc.Arbitrary<SyncFaults> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constant({ offline: true }) },
  { weight: 2, arbitrary: fc.record({ remoteWriteBeforePush: fc.record({ key, value }) }) },
  { weight: 2, arbitrary: fc.record({ localWriteDuringPush: fc.record({ key, value }) }) },
  { weight: 2, arbitrary: fc.constant({ lostAck: true }) },
  { weight: 1, arbitrary: fc.constant({ remoteWriteBeforeEveryPush: true }) },
)

type Step =
  | { readonly kind: 'local'; readonly key: string; readonly value: string | null }
  | {
      readonly kind: 'remote'
      readonly key: string
      readonly value: string | null
      readonly deviceTime: number
    }
  | { readonly kind: 'sync'; readonly faults: SyncFaults }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('local' as const), key, value }),
  fc.record({ kind: fc.constant('remote' as const), key, value, deviceTime: fc.nat({ max: 400 }) }),
  fc.record({ kind: fc.constant('sync' as const), faults }),
)

const resolverName = fc.constantFrom('remoteWins', 'localWins', 'lastWriterWins', 'concatenate')
const resolvers: Record<string, ConflictResolver> = {
  remoteWins,
  localWins,
  lastWriterWins,
  concatenate: ({ local, remote }) => ({
    kind: 'value',
    value: `${local.value ?? '∅'}|${remote.value ?? '∅'}`,
  }),
}

function checkInvariants(device: DeviceModel, server: ServerModel): void {
  const lastSyncCount = device.meta.lastSyncCount
  expect(lastSyncCount).toBeGreaterThanOrEqual(0)
  expect(lastSyncCount).toBeLessThanOrEqual(server.count)
  for (const record of device.records.values()) {
    if (record.dirty) continue
    // A clean row is one the server holds (or held) at exactly that sync count.
    expect(record.syncCount).toBeGreaterThan(0)
    expect(server.history.get(record.key)?.get(record.syncCount)).toBe(record.value)
  }
  // No gap: every server change up to lastSyncCount is on the device, or the device has a newer base.
  for (const serverKey of server.history.keys()) {
    const version = server.versionAtOrBefore(serverKey, lastSyncCount)
    if (version === undefined) continue
    const row = device.records.get(serverKey)
    expect(row, `record ${JSON.stringify(serverKey)} at ${version} is missing`).toBeDefined()
    expect(row?.syncCount).toBeGreaterThanOrEqual(version)
  }
}

function expectConverged(device: DeviceModel, server: ServerModel): void {
  expect(device.dirtyKeys()).toEqual([])
  expect(device.liveView()).toEqual(server.liveView())
  expect(device.meta.lastSyncCount).toBe(server.count)
}

describe('sync model: one device, one server', () => {
  it('keeps its invariants and converges under random writes, syncs and faults', () => {
    fc.assert(
      fc.property(resolverName, fc.array(step, { maxLength: 30 }), (resolver, steps) => {
        const server = new ServerModel()
        const device = new DeviceModel(resolvers[resolver] ?? remoteWins)
        let remoteClock = 0
        for (const current of steps) {
          if (current.kind === 'local') device.write(current.key, current.value)
          else if (current.kind === 'remote') {
            remoteClock = Math.max(remoteClock + 1, current.deviceTime)
            server.remoteWrite(current.key, current.value, remoteClock)
          } else {
            const outcome = device.synchronize(server, current.faults)
            const {
              offline,
              lostAck,
              localWriteDuringPush,
              remoteWriteBeforePush,
              remoteWriteBeforeEveryPush,
            } = current.faults
            const concurrentWriter =
              localWriteDuringPush !== undefined ||
              remoteWriteBeforePush !== undefined ||
              remoteWriteBeforeEveryPush
            if (offline) expect(outcome).toBe('offline')
            if (remoteWriteBeforeEveryPush && outcome !== 'ok') expect(outcome).toBe('retries-exhausted')
            if (outcome === 'ok' && !concurrentWriter) {
              // A sync with no concurrent writer leaves the device equal to the server.
              expectConverged(device, server)
            }
            if (lostAck && outcome === 'offline') {
              // The next sync finds its own write on the server: no duplicate push, no conflict.
              const updatesBefore = server.updateCalls
              const conflictsBefore = device.conflictsSeen
              const countBefore = server.count
              const pending = device.dirtyKeys().length
              expect(device.synchronize(server)).toBe('ok')
              expect(device.conflictsSeen).toBe(conflictsBefore)
              expect(server.count).toBe(countBefore)
              if (pending > 0) expect(server.updateCalls).toBe(updatesBefore)
              expectConverged(device, server)
            }
          }
          checkInvariants(device, server)
        }

        // Settle: one sync without faults converges.
        expect(device.synchronize(server)).toBe('ok')
        expectConverged(device, server)

        // Nothing the device accepted is lost: each local write reached the server, was replaced by a
        // later local write to its key, or lost a conflict the resolver decided.
        device.writes.forEach((write, index) => {
          const onServer = [...(server.history.get(write.key)?.values() ?? [])].includes(write.value)
          const replaced = device.writes.slice(index + 1).some((later) => later.key === write.key)
          const discarded = device.discarded.some((d) => d.key === write.key && d.value === write.value)
          expect(onServer || replaced || discarded, `write ${JSON.stringify(write)} was lost`).toBe(true)
        })
      }),
    )
  })

  it('with localWins, the device’s last write to each key is what the server ends with', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const server = new ServerModel()
        const device = new DeviceModel(localWins)
        const lastLocal = new Map<string, string | null>()
        for (const current of steps) {
          if (current.kind === 'local') {
            const before = device.writes.length
            device.write(current.key, current.value)
            // Only writes that changed something count: putting the value a record has is a no-op.
            if (device.writes.length > before) lastLocal.set(current.key, current.value)
          } else if (current.kind === 'remote') {
            server.remoteWrite(current.key, current.value, current.deviceTime)
            // A remote write the device has seen before its own next write is not overridden by it.
            lastLocal.delete(current.key)
          } else if (!current.faults.remoteWriteBeforeEveryPush && !current.faults.remoteWriteBeforePush) {
            const before = device.writes.length
            device.synchronize(server, current.faults)
            const during = current.faults.localWriteDuringPush
            if (during && device.writes.length > before) lastLocal.set(during.key, during.value)
          }
        }
        expect(device.synchronize(server)).toBe('ok')
        const serverView = server.liveView()
        for (const [k, v] of lastLocal) {
          // Removing a key the device never had is a no-op, so nothing needs to reach the server.
          if (v === null) expect(serverView.has(k)).toBe(false)
          else expect(serverView.get(k)).toBe(v)
        }
      }),
    )
  })
})
