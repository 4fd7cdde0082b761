import { describe, expect, it } from 'vitest'
import { createApnsPushSource, createFcmPushSource } from '../../../adapters/push/callback/index.js'
import type { PushSink } from '../../../src/contracts/push-source.js'
import type { SyncError } from '../../../src/errors.js'

function recordingSink(throwOnPayload = false) {
  const payloads: unknown[] = []
  const errors: SyncError[] = []
  const sink: PushSink = {
    deviceId: 'device-1',
    onPayload(payload) {
      if (throwOnPayload) throw new Error('listener bug')
      payloads.push(payload)
    },
    onError: (error) => void errors.push(error),
  }
  return { sink, payloads, errors }
}

/** A stand-in for a platform SDK's subscribe function: the test fires pushes through it. */
function platform() {
  const listeners = new Set<(payload: unknown) => void>()
  return {
    subscribe: (listener: (payload: unknown) => void) => {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    fire: (payload: unknown) => {
      for (const listener of listeners) listener(payload)
    },
    listeners,
  }
}

describe.each([
  [
    'fcm',
    (subscribe: ReturnType<typeof platform>['subscribe']) => createFcmPushSource({ onMessage: subscribe }),
    'push:fcm',
  ],
  [
    'apns',
    (subscribe: ReturnType<typeof platform>['subscribe']) =>
      createApnsPushSource({ onNotification: subscribe }),
    'push:apns',
  ],
] as const)('%s push source', (_, create, name) => {
  it('relays every payload as it arrived until stopped, then lets go of the platform', () => {
    const device = platform()
    const source = create(device.subscribe)
    expect(source.name).toBe(name)
    const { sink, payloads } = recordingSink()
    const stop = source.start(sink)
    const message = { data: { source: 'cognito-sync', syncCount: '3' }, from: 'sender' }
    device.fire(message)
    device.fire('not even an object')
    expect(payloads).toEqual([message, 'not even an object'])
    stop()
    stop()
    device.fire(message)
    expect(payloads).toHaveLength(2)
    expect(device.listeners.size).toBe(0)
  })

  it('never throws into the platform callback and reports what went wrong', () => {
    const device = platform()
    const { sink, errors } = recordingSink(true)
    create(device.subscribe).start(sink)
    expect(() => device.fire({})).not.toThrow()
    expect(errors.map((e) => e.code)).toEqual(['PUSH_PAYLOAD_INVALID'])
    const failing = create(() => {
      throw new Error('no push permission')
    })
    const other = recordingSink()
    expect(() => failing.start(other.sink)).not.toThrow()
    expect(other.errors.map((e) => e.code)).toEqual(['PUSH_UNSUPPORTED'])
  })
})
