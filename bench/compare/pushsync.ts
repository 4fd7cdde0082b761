/**
 * pushsync's rows: two devices of one identity against pushsync-server, each with an SSE push
 * source (A's live source is what lets its sync be a single UpdateRecords); device B applies the
 * change the push carries. Variants change one part at a time: the storage, the transport, or
 * write-through instead of an explicit `synchronize()`.
 */
import { createSsePushSource } from '../../adapters/push/sse/index.js'
import type { WebSocketTransport } from '../../adapters/transport/websocket/index.js'
import { createSyncManager, type PushSource, type SyncManager, type Transport } from '../../src/index.js'
import {
  type CognitoCredentials,
  cognitoCredentials,
  type Identity,
  newIdentity,
  openTransport,
  POOL,
  RequestCounter,
  type StorageKind,
  Storages,
  type TransportKind,
} from './pushsync-parts.js'
import {
  COLD_RECORDS,
  coldKey,
  coldProbe,
  coldValue,
  type LiveDevices,
  liveProbe,
  type Probe,
  sleep,
  withTimeout,
} from './workload.js'

export interface PushsyncSetup {
  readonly label: string
  readonly storage: StorageKind
  readonly transport: TransportKind
  /** `writeThrough: { delayMs: 0 }` and no `synchronize()` call: the manager sends the put itself. */
  readonly writeThrough: boolean
}

const LIVE_DATASET = 'writes'
const COLD_DATASET = 'cold'

interface DeviceOptions {
  readonly setup: PushsyncSetup
  readonly who: Identity
  readonly counter: RequestCounter
  readonly credentials: CognitoCredentials | undefined
}

/** pushsync's rows against one pushsync-server. */
export class PushsyncBench {
  readonly #url: string
  readonly #storages = new Storages()
  readonly #transports = new WeakMap<SyncManager, Transport>()
  #coldIdentity: Identity | undefined

  constructor(url: string) {
    this.#url = url
  }

  #device({ setup, who, counter, credentials }: DeviceOptions): SyncManager {
    const transport = openTransport(setup.transport, this.#url, who, counter, credentials)
    const manager = createSyncManager({
      identityPoolId: POOL,
      identityId: who.identityId,
      storage: this.#storages.open(setup.storage),
      transport,
      ...(setup.writeThrough ? { writeThrough: { delayMs: 0 } } : {}),
    })
    this.#transports.set(manager, transport)
    return manager
  }

  /** The device's push source: its socket for the WebSocket transport, else an SSE stream. */
  #pushSource(manager: SyncManager, who: Identity): PushSource {
    const transport = this.#transports.get(manager)
    if (transport !== undefined && 'pushSource' in transport)
      return (transport as WebSocketTransport).pushSource
    return createSsePushSource({
      endpoint: this.#url,
      identityPoolId: POOL,
      identityId: who.identityId,
      getToken: () => who.token,
    })
  }

  async #credentials(setup: PushsyncSetup, who: Identity): Promise<CognitoCredentials | undefined> {
    return setup.transport === 'cognito' ? cognitoCredentials(this.#url, who) : undefined
  }

  /** Device A writes, device B sees it through its push source. */
  async live(setup: PushsyncSetup): Promise<Probe> {
    const who = await newIdentity(this.#url)
    const counter = new RequestCounter()
    const credentials = await this.#credentials(setup, who)
    const a = this.#device({ setup, who, counter, credentials })
    const b = this.#device({ setup, who, counter, credentials })
    const dsA = await a.openOrCreateDataset(LIVE_DATASET)
    const dsB = await b.openOrCreateDataset(LIVE_DATASET)
    await dsA.put('opened', 'yes')
    await dsA.synchronize()
    await dsB.synchronize()
    for (const manager of [a, b]) manager.addPushSource(this.#pushSource(manager, who))
    await withTimeout(bothLive(a, b), 10_000, `${setup.label}: push sources`)

    const waiting = new Map<string, { value: string; resolve(at: number): void; reject(e: Error): void }>()
    b.on('datasetChanged', (event) => {
      if (event.source !== 'remote' || event.dataset !== LIVE_DATASET) return
      // Timed when B announces the stored change; the check that it holds the value comes after.
      const at = performance.now()
      for (const key of event.keys) {
        const waiter = waiting.get(key)
        if (waiter === undefined) continue
        waiting.delete(key)
        dsB
          .get(key)
          .then(
            (held) =>
              held === waiter.value
                ? waiter.resolve(at)
                : waiter.reject(new Error(`B holds ${held} under ${key}, not ${waiter.value}`)),
            waiter.reject,
          )
      }
    })
    const devices: LiveDevices = {
      expect: (key, value) => new Promise((resolve, reject) => waiting.set(key, { value, resolve, reject })),
      async write(key, value) {
        await dsA.put(key, value)
        if (!setup.writeThrough) await dsA.synchronize()
      },
      requests: () => counter.count,
      async close() {
        await a.close()
        await b.close()
      },
    }
    return liveProbe(setup.label, 'pushsync', devices)
  }

  /** A fresh device (empty storage) synchronizes the 1,024-record dataset another device wrote. */
  async cold(setup: PushsyncSetup): Promise<Probe> {
    const who = await this.#seededIdentity()
    const credentials = await this.#credentials(setup, who)
    return coldProbe(setup.label, 'pushsync', async () => {
      const device = this.#device({ setup, who, counter: new RequestCounter(), credentials })
      try {
        const ds = await device.openOrCreateDataset(COLD_DATASET)
        if (setup.transport === 'websocket') {
          // The pull goes over the socket once it is open (it opens with the push source).
          device.addPushSource(this.#pushSource(device, who))
          await withTimeout(bothLive(device, device), 10_000, `${setup.label}: socket`)
        }
        const start = performance.now()
        await ds.synchronize()
        const ms = performance.now() - start
        const held = Object.keys(await ds.getAll()).length
        if (held !== COLD_RECORDS) throw new Error(`${setup.label}: a cold sync brought ${held} records`)
        return ms
      } finally {
        await device.close()
      }
    })
  }

  async #seededIdentity(): Promise<Identity> {
    if (this.#coldIdentity !== undefined) return this.#coldIdentity
    const who = await newIdentity(this.#url)
    const seeder = this.#device({
      setup: { label: 'seed', storage: 'memory', transport: 'http', writeThrough: false },
      who,
      counter: new RequestCounter(),
      credentials: undefined,
    })
    const ds = await seeder.openOrCreateDataset(COLD_DATASET)
    const records: Record<string, string> = {}
    for (let i = 0; i < COLD_RECORDS; i++) records[coldKey(i)] = coldValue(i)
    await ds.putAll(records)
    await ds.synchronize()
    await seeder.close()
    this.#coldIdentity = who
    return who
  }

  close(): void {
    this.#storages.close()
  }
}

/** Resolves once every push source of both devices reports `live`. */
async function bothLive(a: SyncManager, b: SyncManager): Promise<void> {
  const live = (m: SyncManager) => {
    const sources = m.getStatus().pushSources
    return sources.length > 0 && sources.every((source) => source.state === 'live')
  }
  while (!live(a) || !live(b)) await sleep(10)
  // The stream opens with the current counts; let that opening settle before the first write.
  await sleep(100)
}
