/**
 * `manager.addPushSource`: a test double of the PushSource contract relays payloads to a manager
 * running against the real server in process. The manager parses, decides with the core and syncs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PushSink, PushSource } from '../../src/contracts/index.js'
import { encodePushPayload } from '../../src/core/index.js'
import { SyncError } from '../../src/index.js'
import { interceptTransport, POOL, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

/** A push source the test drives: `push` relays a payload as a platform callback would. */
function fakeSource() {
  let sink: PushSink | undefined
  let stops = 0
  const source: PushSource = {
    name: 'push:fake',
    start(started) {
      sink = started
      return () => {
        stops++
      }
    },
  }
  return {
    source,
    push: (payload: unknown) => sink?.onPayload(payload),
    get sink() {
      if (sink === undefined) throw new Error('the source was not started')
      return sink
    },
    get stops() {
      return stops
    },
  }
}

const payload = (identityId: string, datasetName: string, syncCount: number) =>
  encodePushPayload(
    { source: 'cognito-sync', identityPoolId: POOL, identityId, datasetName, syncCount },
    'json',
  )

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Another device of the identity writes `key` and synchronizes; resolves the new sync count. */
async function writeElsewhere(
  identity: { identityId: string; token: string },
  name: string,
  key: string,
  value: string,
) {
  const other = server.device(identity)
  const ds = await other.openOrCreateDataset(name)
  await ds.put(key, value)
  const { lastSyncCount } = await ds.synchronize()
  await other.close()
  return lastSyncCount
}

describe('addPushSource', () => {
  it('syncs on a newer payload and holds the value', async () => {
    const identity = await server.newIdentity()
    const count = await writeElsewhere(identity, 'settings', 'theme', 'dark')
    const device = server.device(identity)
    const fake = fakeSource()
    device.addPushSource(fake.source)
    const synced = new Promise((resolve) => device.on('syncSucceeded', resolve))
    // The JSON text, as an SSE event's data carries it.
    fake.push(JSON.stringify(payload(identity.identityId, 'settings', count)))
    await synced
    const ds = await device.openOrCreateDataset('settings')
    expect(await ds.get('theme')).toBe('dark')
    await expect(ds.getLastSyncCount()).resolves.toBe(count)
    await device.close()
  })

  it('sends no request for a stale payload', async () => {
    const identity = await server.newIdentity()
    const count = await writeElsewhere(identity, 'settings', 'theme', 'dark')
    let calls = 0
    const transport = interceptTransport(server.transport(identity), (call) => {
      calls++
      return call.proceed()
    })
    const device = server.device(identity, { transport })
    await (await device.openOrCreateDataset('settings')).synchronize()
    const before = calls
    const fake = fakeSource()
    device.addPushSource(fake.source)
    const ignored = new Promise<{ reason: string }>((resolve) => device.on('pushIgnored', resolve))
    fake.push(payload(identity.identityId, 'settings', count))
    expect((await ignored).reason).toBe('stale')
    expect(calls).toBe(before)
    await device.close()
  })

  it('emits pushIgnored for an invalid payload and never throws into the source', async () => {
    const identity = await server.newIdentity()
    const device = server.device(identity)
    const fake = fakeSource()
    device.addPushSource(fake.source)
    const ignored: Array<{ payload: unknown; reason: string }> = []
    device.on('pushIgnored', (event) => void ignored.push(event))
    expect(() => fake.push('{not json')).not.toThrow()
    expect(() => fake.push({ source: 'cognito-sync', identityPoolId: POOL })).not.toThrow()
    expect(() => fake.push({ title: 'another feature of the app' })).not.toThrow()
    expect(ignored.map((event) => event.reason)).toEqual(['malformed', 'malformed', 'not-cognito-sync'])
    expect(ignored[0]?.payload).toBe('{not json')
    // A listener that throws stays inside the manager too.
    device.on('pushIgnored', () => {
      throw new Error('a broken listener')
    })
    expect(() => fake.push(42)).not.toThrow()
    await device.close()
  })

  it('coalesces a burst of payloads during one sync into at most one follow-up', async () => {
    const identity = await server.newIdentity()
    const count = await writeElsewhere(identity, 'settings', 'theme', 'dark')
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let listings = 0
    const transport = interceptTransport(server.transport(identity), async (call) => {
      if (call.method === 'listRecords') {
        listings++
        if (listings === 1) await gate
      }
      return call.proceed()
    })
    const device = server.device(identity, { transport })
    let started = 0
    device.on('syncStarted', () => void started++)
    const received: string[] = []
    device.on('pushReceived', ({ decision }) => void received.push(decision.action))
    const ds = await device.openOrCreateDataset('settings')
    const running = ds.synchronize()
    const fake = fakeSource()
    device.addPushSource(fake.source)
    for (let i = 0; i < 10; i++) fake.push(payload(identity.identityId, 'settings', count))
    await until(() => received.length === 10)
    expect(received.every((action) => action === 'coalesce')).toBe(true)
    release()
    await running
    await until(async () => !(await ds.getStatus()).syncing)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(started).toBeLessThanOrEqual(2)
    expect(listings).toBeLessThanOrEqual(2)
    expect(await ds.get('theme')).toBe('dark')
    await device.close()
  })

  it('gives the source a device id that UpdateRecords carries, the registered one when there is one', async () => {
    const identity = await server.newIdentity()
    const sent: Array<string | undefined> = []
    const transport = interceptTransport(server.transport(identity), (call) => {
      if (call.method === 'updateRecords') sent.push((call.args[0] as { deviceId?: string }).deviceId)
      return call.proceed()
    })
    const device = server.device(identity, { transport })
    const fake = fakeSource()
    device.addPushSource(fake.source)
    const local = fake.sink.deviceId
    expect(local).toMatch(/^[0-9a-f-]{32,36}$/)
    expect(fake.sink.deviceId).toBe(local)
    const ds = await device.openOrCreateDataset('settings')
    await ds.put('a', '1')
    await ds.synchronize()
    expect(sent).toEqual([local])

    const registered = await device.registerDevice('GCM', 'token-1')
    expect(fake.sink.deviceId).toBe(registered)
    await ds.put('a', '2')
    await ds.synchronize()
    expect(sent).toEqual([local, registered])
    await device.close()
  })

  it('relays the source errors as pushSourceError', async () => {
    const identity = await server.newIdentity()
    const warnings: unknown[] = []
    const device = server.device(identity, {
      logger: { warn: (...args: unknown[]) => void warnings.push(args) },
    })
    const fake = fakeSource()
    device.addPushSource(fake.source)
    const errors: Array<{ source: string; error: SyncError }> = []
    device.on('pushSourceError', (event) => void errors.push(event))
    const error = new SyncError('TRANSPORT_OFFLINE', 'the stream broke', { adapter: 'push:fake' })
    expect(() => fake.sink.onError(error)).not.toThrow()
    expect(errors).toEqual([{ source: 'push:fake', error }])
    expect(warnings).toHaveLength(1)
    await device.close()
  })

  it('stops the source with the returned function and on close', async () => {
    const identity = await server.newIdentity()
    const device = server.device(identity)
    const first = fakeSource()
    const second = fakeSource()
    const stopFirst = device.addPushSource(first.source)
    device.addPushSource(second.source)
    const ignored: unknown[] = []
    device.on('pushIgnored', (event) => void ignored.push(event))

    stopFirst()
    stopFirst()
    expect(first.stops).toBe(1)
    // A stopped source's late payloads are dropped.
    first.push('{late')
    expect(ignored).toEqual([])
    second.push('{live')
    expect(ignored).toHaveLength(1)

    await device.close()
    expect(second.stops).toBe(1)
    expect(first.stops).toBe(1)
    second.push('{after close')
    expect(ignored).toHaveLength(1)
    expect(() => device.addPushSource(fakeSource().source)).toThrow(
      expect.objectContaining({ code: 'ENGINE_CLOSED' }),
    )
  })
})
