import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import type {
  Conflict,
  Dataset,
  PushSource,
  RecordPatch,
  StorageAdapter,
  SyncConflict,
  SyncManager,
  SyncManagerOptions,
  UpdateRecordsAnswer,
} from '../../src/index.js'
import { isSyncError, lastWriterWins } from '../../src/index.js'
import { interceptTransport, offline, startServer, type TestServer } from './harness.js'

/**
 * Two or three devices of one identity against the real server, with random writes, removes and
 * synchronizes, some run at the same time, transport failures before a request reaches the server
 * and after it committed (the answer lost), pushes whose syncs run in the background while the
 * steps go on, and devices closed in the middle of a sync and started again on the same storage.
 * Conflicts are decided by the manager's handlers (a resolver or an `onConflict`), never by a call's
 * options, so the syncs a push starts use them too; every device has listeners that throw. After a
 * final quiet round every device must equal the server, and every write the app made must have
 * reached the server or been handed to a conflict handler.
 */

type Fault = 'none' | 'offline-before-pull' | 'offline-before-push' | 'lost-ack'
type Handler = 'resolver' | 'onConflict'

type Step =
  | { readonly kind: 'write'; readonly device: number; readonly key: string; readonly value: string | null }
  | { readonly kind: 'sync'; readonly devices: readonly number[]; readonly fault: Fault }
  | { readonly kind: 'push'; readonly device: number }
  /** Starts a sync on the device and closes it while the sync runs; a new manager opens the same storage. */
  | { readonly kind: 'restart'; readonly device: number }

const key = fc.constantFrom('a', 'b', 'c', '__proto__')
const value = fc.oneof(fc.constantFrom('x', 'y', ''), fc.string({ maxLength: 3 }), fc.constant(null))
const step = (devices: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('write' as const), device: fc.nat(devices - 1), key, value }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('sync' as const),
        devices: fc.uniqueArray(fc.nat(devices - 1), { minLength: 1, maxLength: devices }),
        fault: fc.constantFrom<Fault>(
          'none',
          'none',
          'offline-before-pull',
          'offline-before-push',
          'lost-ack',
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('push' as const), device: fc.nat(devices - 1) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('restart' as const), device: fc.nat(devices - 1) }),
    },
  )

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

/** A push source that connects and then relays nothing. */
const liveButQuiet: PushSource = {
  name: 'push:quiet',
  start(sink) {
    sink.onConnected?.()
    return () => {}
  },
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
            fc.array(step(devices), { maxLength: 25 }),
          ),
        ),
        async ([deviceCount, handlers, live, steps]) => {
          const identity = await server.newIdentity()
          const accepted = new Set<string>()
          const handedToResolver = new Set<string>()
          const faults: Fault[] = Array.from({ length: deviceCount }, () => 'none')
          const note = (k: string, v: string | null) => `${k}=${v === null ? '∅' : JSON.stringify(v)}`
          const storages = Array.from({ length: deviceCount }, () => durableStorage())

          const startDevice = (index: number): SyncManager => {
            const transport = interceptTransport(server.transport(identity), async (call) => {
              const fault = faults[index]
              if (call.method === 'listRecords' && fault === 'offline-before-pull') return offline()
              if (call.method === 'updateRecords' && fault === 'offline-before-push') return offline()
              const result = await call.proceed()
              if (call.method === 'updateRecords' && result.ok) {
                for (const record of (result.value as UpdateRecordsAnswer).records)
                  accepted.add(note(record.key, record.value))
                const sent = (call.args[0] as { patches: RecordPatch[] }).patches
                for (const patch of sent) accepted.add(note(patch.key, patch.value))
                if (fault === 'lost-ack') return offline()
              }
              return result
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
            // A channel that is live but says nothing: the device only hears what the push steps tell it.
            if (live[index] === true) manager.addPushSource(liveButQuiet)
            return manager
          }
          const devices = Array.from({ length: deviceCount }, (_, index) => startDevice(index))
          const datasets = await Promise.all(devices.map((device) => device.openOrCreateDataset('model')))
          const writes: Array<{ device: number; note: string }> = []

          for (const current of steps) {
            if (current.kind === 'write') {
              const ds = datasets[current.device]
              if (ds === undefined) continue
              const had = await ds.get(current.key)
              if (current.value === null) await ds.remove(current.key)
              else await ds.put(current.key, current.value)
              const changed = current.value === null ? had !== undefined : had !== current.value
              if (changed) writes.push({ device: current.device, note: note(current.key, current.value) })
            } else if (current.kind === 'sync') {
              for (const index of current.devices) faults[index] = current.fault
              await Promise.allSettled(current.devices.map((index) => datasets[index]?.synchronize()))
              for (const index of current.devices) faults[index] = 'none'
            } else if (current.kind === 'push') {
              // A push telling the device the dataset moved on: it syncs in the background, if behind,
              // while the next steps go on.
              const manager = devices[current.device]
              if (manager === undefined) continue
              const count = await datasets[(current.device + 1) % deviceCount]?.getLastSyncCount()
              await manager.handlePushSyncUpdate(
                manager.getPushSyncUpdate({
                  source: 'cognito-sync',
                  identityPoolId: manager.identityPoolId,
                  identityId: identity.identityId,
                  datasetName: 'model',
                  syncCount: String(Math.max(0, count ?? 0)),
                }),
              )
            } else {
              const manager = devices[current.device]
              const ds = datasets[current.device]
              if (manager === undefined || ds === undefined) continue
              const syncing = ds.synchronize().then(
                () => 'done',
                (error: unknown) => (isSyncError(error, 'SYNC_CANCELLED') ? 'cancelled' : 'failed'),
              )
              await manager.close()
              expect(['done', 'cancelled']).toContain(await syncing)
              devices[current.device] = startDevice(current.device)
              datasets[current.device] = await (devices[current.device] as SyncManager).openOrCreateDataset(
                'model',
              )
            }
          }

          // Quiet rounds: the background syncs end, then every device syncs until nobody has anything pending.
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
          for (const [index, view] of views.entries()) {
            expect(view, `device ${index}`).toEqual(serverView)
            expect(datasets[index]?.getStatus().pendingChanges).toBe(0)
          }
          writes.forEach((write, index) => {
            const keyOf = write.note.slice(0, write.note.indexOf('='))
            const replaced = writes
              .slice(index + 1)
              .some((later) => later.device === write.device && later.note.startsWith(`${keyOf}=`))
            const kept = accepted.has(write.note) || handedToResolver.has(write.note) || replaced
            expect(kept, `write ${write.note} of device ${write.device} was lost`).toBe(true)
          })
          await Promise.all(devices.map((device) => device.close()))
          await reference.close()
          // No manager wrote to its storage once its close() had resolved.
          expect(storages.map((storage) => storage.late.writes)).toEqual(storages.map(() => 0))
        },
      ),
    )
  })
})
