import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createMemoryStorage } from '../../../adapters/storage/memory/index.js'
import { createHttpTransport, type FetchLike } from '../../../adapters/transport/http/index.js'
import { createSyncManager, type StorageAdapter, type SyncManager } from '../../../src/index.js'
import { type Fault, startFaultProxy } from './fault-proxy.js'
import { startChaosServer } from './server-process.js'
import { POOL } from './writers.js'

/**
 * Devices of one identity (pushsync's engine, memory storage, the HTTP transport) syncing through
 * a proxy that delays, drops, resets and half-opens their connections, while the server is killed
 * now and then and devices are restarted mid-sync. Each device writes keys of its own, so the end
 * state has one right answer: once the network heals and everyone syncs, every device and the
 * server hold, for every key, the value its owner wrote last.
 */

export interface DevicesOptions {
  readonly label: string
  readonly devices: number
  readonly rounds: number
  readonly datasets: number
  readonly weights: Partial<Record<Fault, number>>
  /** Server kills (SIGKILL, then a restart) spread over the rounds. */
  readonly serverKills: number
  /** Chance that a device is restarted (its manager closed mid-work, a new one on its storage) per round. */
  readonly restartChance: number
  /** A device's requests are abandoned after this long (the drop and half-open faults need it). */
  readonly requestTimeoutMs?: number
}

export interface DevicesReport {
  readonly label: string
  readonly devices: number
  readonly serverKills: number
  readonly deviceRestarts: number
  /** Local writes a successful synchronize carried to the server. */
  readonly acknowledged: number
  /** Keys whose final value is not the one their device wrote last. */
  readonly lost: number
  /** Device datasets that differ from the server's once everyone synced. */
  readonly divergent: number
  readonly faults: Readonly<Record<Fault, number>>
  readonly failedSyncs: number
}

interface Device {
  readonly index: number
  readonly storage: StorageAdapter
  manager: SyncManager
  /**
   * The values each key may hold in the end, per dataset: the one its last write resolved with, or,
   * when that write was cut short by a restart (it may or may not have landed), that one or the one
   * before.
   */
  readonly written: Map<string, Map<string, Set<string>>>
}

export async function devicesRound(options: DevicesOptions): Promise<DevicesReport> {
  const cwd = mkdtempSync(join(tmpdir(), 'pushsync-chaos-devices-'))
  const server = await startChaosServer({ db: join(cwd, 'devices.db'), cwd })
  const proxy = await startFaultProxy({
    target: { host: '127.0.0.1', port: server.port },
    weights: options.weights,
  })
  const devices: Device[] = []
  try {
    const endpoint = `http://127.0.0.1:${proxy.port}`
    const { identityId, sessionToken } = await guest(server.url)
    const timeoutMs = options.requestTimeoutMs ?? 3000
    // Apps give fetch a deadline; without one a dropped request would wait forever. The deadline
    // is a timer of its own, held until the body has been read: on Node 20 a signal made with
    // AbortSignal.any over AbortSignal.timeout can be collected before it fires, and the request
    // then hangs.
    const fetchWithDeadline: FetchLike = async (url, init) => {
      const controller = new AbortController()
      const timer = setTimeout(
        () => controller.abort(new DOMException('the request took too long', 'TimeoutError')),
        timeoutMs,
      )
      const outer = init.signal
      const forward = () => controller.abort(outer?.reason)
      outer?.addEventListener('abort', forward, { once: true })
      const done = () => {
        clearTimeout(timer)
        outer?.removeEventListener('abort', forward)
      }
      try {
        const response = await fetch(url, { ...init, signal: controller.signal })
        return {
          ok: response.ok,
          status: response.status,
          headers: response.headers,
          text: () => response.text().finally(done),
        }
      } catch (error) {
        done()
        throw error
      }
    }
    const openManager = (storage: StorageAdapter) =>
      createSyncManager({
        identityPoolId: POOL,
        identityId,
        storage,
        transport: createHttpTransport({
          endpoint,
          identityPoolId: POOL,
          identityId,
          getToken: () => sessionToken,
          fetch: fetchWithDeadline,
        }),
        logger: { warn: () => {} },
      })
    for (let index = 0; index < options.devices; index++) {
      const storage = surviving(createMemoryStorage())
      devices.push({ index, storage, manager: openManager(storage), written: new Map() })
    }
    const names = Array.from({ length: options.datasets }, (_, i) => `chaos-${i}`)
    let acknowledged = 0
    let failedSyncs = 0
    let restarts = 0
    let kills = 0
    const killAt = new Set(
      Array.from({ length: options.serverKills }, (_, i) =>
        Math.floor(((i + 1) * options.rounds) / (options.serverKills + 1)),
      ),
    )

    const syncDevice = async (device: Device, round: number) => {
      for (const name of names) {
        const dataset = await device.manager.openOrCreateDataset(name)
        const own = device.written.get(name) ?? new Map<string, Set<string>>()
        device.written.set(name, own)
        const writes = 1 + Math.floor(Math.random() * 3)
        for (let w = 0; w < writes; w++) {
          const key = `device-${device.index}-key-${Math.floor(Math.random() * 5)}`
          const value = `round ${round} write ${w} of device ${device.index}`
          const before = own.get(key) ?? new Set()
          own.set(key, new Set([...before, value]))
          await dataset.put(key, value)
          own.set(key, new Set([value]))
        }
        try {
          const result = await dataset.synchronize()
          acknowledged += result.pushed
        } catch {
          failedSyncs++
        }
      }
    }

    for (let round = 0; round < options.rounds; round++) {
      if (killAt.has(round)) {
        await server.kill()
        kills++
        // Devices try while it is down, then it comes back.
        setTimeout(() => void server.start(), 300)
      }
      await Promise.all(
        devices.map(async (device) => {
          const work = syncDevice(device, round).catch(() => {
            failedSyncs++
          })
          if (Math.random() < options.restartChance) {
            // Restarted in the middle of its work: what it wrote locally is kept, what was in
            // flight is abandoned.
            await sleep(Math.random() * 50)
            await device.manager.close().catch(() => undefined)
            device.manager = openManager(device.storage)
            restarts++
          }
          await work
        }),
      )
    }
    if (!server.up) await server.start()
    proxy.heal()

    // Everyone syncs with the network healed, twice round, so each sees the others' last writes.
    for (let pass = 0; pass < 3; pass++) {
      for (const device of devices) {
        for (const name of names) {
          const dataset = await device.manager.openOrCreateDataset(name)
          for (let attempt = 0; ; attempt++) {
            try {
              await dataset.synchronize()
              break
            } catch (error) {
              if (attempt >= 10) throw error
              await sleep(100)
            }
          }
        }
      }
    }

    // The server's state, read directly.
    const direct = createHttpTransport({
      endpoint: server.url,
      identityPoolId: POOL,
      identityId,
      getToken: () => sessionToken,
    })
    let lost = 0
    let divergent = 0
    for (const name of names) {
      const listed = await direct.listRecords({ datasetName: name, lastSyncCount: 0 })
      if (!listed.ok) throw new Error(`ListRecords while checking: ${listed.failure.message}`)
      const onServer = new Map(
        listed.value.records.filter((r) => r.value !== null).map((r) => [r.key, r.value as string]),
      )
      for (const device of devices) {
        for (const [key, values] of device.written.get(name) ?? [])
          if (!values.has(onServer.get(key) ?? '')) lost++
        const local = await (await device.manager.openOrCreateDataset(name)).getAll()
        const sorted = (entries: Iterable<[string, string]>) => JSON.stringify([...entries].sort())
        if (sorted(Object.entries(local)) !== sorted(onServer)) divergent++
      }
    }
    return {
      label: options.label,
      devices: options.devices,
      serverKills: kills,
      deviceRestarts: restarts,
      acknowledged,
      lost,
      divergent,
      faults: { ...proxy.counts },
      failedSyncs,
    }
  } finally {
    for (const device of devices) await device.manager.close().catch(() => undefined)
    await proxy.close()
    await server.stop()
    rmSync(cwd, { recursive: true, force: true })
  }
}

/**
 * Storage that outlives its manager, as a device's database outlives the app's process: closing
 * the manager leaves it open for the next one.
 */
function surviving(storage: StorageAdapter): StorageAdapter {
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'close') return async () => {}
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

async function guest(url: string): Promise<{ identityId: string; sessionToken: string }> {
  const call = async (target: string, body: object) =>
    (await (
      await fetch(`${url}/`, {
        method: 'POST',
        headers: { 'x-amz-target': `AWSCognitoIdentityService.${target}` },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, unknown>
  const { IdentityId } = await call('GetId', { IdentityPoolId: POOL })
  const { Credentials } = (await call('GetCredentialsForIdentity', { IdentityId })) as {
    Credentials: { SessionToken: string }
  }
  return { identityId: String(IdentityId), sessionToken: Credentials.SessionToken }
}
