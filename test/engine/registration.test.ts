import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isSyncError } from '../../src/index.js'
import { interceptTransport, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})

describe('device registration and subscriptions', () => {
  it('registers once per token, again for a new token, and forgets on unregister', async () => {
    const identity = await server.newIdentity()
    let registrations = 0
    const transport = interceptTransport(server.transport(identity), (call) => {
      if (call.method === 'registerDevice') registrations++
      return call.proceed()
    })
    const device = server.device(identity, { transport })
    expect(await device.isDeviceRegistered()).toBe(false)
    const first = await device.registerDevice('GCM', 'token-1')
    expect(await device.registerDevice('GCM', 'token-1')).toBe(first)
    expect(registrations).toBe(1)
    const second = await device.registerDevice('GCM', 'token-2')
    expect(second).not.toBe(first)
    expect(registrations).toBe(2)
    expect(await device.isDeviceRegistered('GCM')).toBe(true)
    expect(await device.isDeviceRegistered('APNS')).toBe(false)
    await device.unregisterDevice('GCM')
    expect(await device.isDeviceRegistered()).toBe(false)
  })

  it('subscribes datasets that exist on the server and tolerates unsubscribing unknown ones', async () => {
    const identity = await server.newIdentity()
    const device = server.device(identity)
    const ds = await device.openOrCreateDataset('subscribed')
    await expect(ds.subscribe()).rejects.toSatisfy((e) => isSyncError(e, 'DEVICE_NOT_REGISTERED'))
    await device.registerDevice('GCM', 'fcm-registration-token-1')
    // Not on the server yet: Cognito asks apps to sync once before subscribing.
    await expect(ds.subscribe()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_NOT_FOUND'))
    await ds.put('k', 'v')
    await ds.synchronize()
    await ds.subscribe()
    await device.openOrCreateDataset('local-only')
    await device.unsubscribeAll()
    await expect(device.subscribeAll()).rejects.toSatisfy((e) => isSyncError(e, 'TRANSPORT_NOT_FOUND'))
  })
})
