import { describe, expect, expectTypeOf, it, vi } from 'vitest'
import {
  createWebPushSource,
  type PushSubscriptionLike,
  type ServiceWorkerContainerLike,
  type ServiceWorkerMessageEventLike,
  type ServiceWorkerRegistrationLike,
  subscribeToWebPush,
} from '../../../adapters/push/webpush/index.js'
import {
  type ClientLike,
  type PushEventLike,
  relayPush,
  type ServiceWorkerGlobalScopeLike,
} from '../../../adapters/push/webpush/service-worker.js'
import type { PushSink } from '../../../src/contracts/push-source.js'
import { isSyncError, type SyncError } from '../../../src/errors.js'

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

/** `navigator.serviceWorker` over an EventTarget dispatching real `message` events. */
class FakeContainer implements ServiceWorkerContainerLike {
  readonly #target = new EventTarget()
  listeners = 0
  post(data: unknown): void {
    this.#target.dispatchEvent(new MessageEvent('message', { data }))
  }
  addEventListener(type: 'message', listener: (event: ServiceWorkerMessageEventLike) => void): void {
    this.listeners++
    // A MessageEvent is what the listener gets; the DOM types only know it by the event name.
    this.#target.addEventListener(type, listener as unknown as EventListener)
  }
  removeEventListener(type: 'message', listener: (event: ServiceWorkerMessageEventLike) => void): void {
    this.listeners--
    this.#target.removeEventListener(type, listener as unknown as EventListener)
  }
}

const payload = {
  source: 'cognito-sync',
  identityPoolId: 'pool',
  identityId: 'id',
  datasetName: 'settings',
  syncCount: 42,
}

describe('createWebPushSource', () => {
  it('takes the browser’s own objects', () => {
    // Checked by tsc: the DOM's container and registration fit the structural types.
    expectTypeOf<ServiceWorkerContainer>().toExtend<ServiceWorkerContainerLike>()
    expectTypeOf<ServiceWorkerRegistration>().toExtend<ServiceWorkerRegistrationLike>()
  })

  it('relays the payloads of the worker’s push messages and ignores other messages', () => {
    const container = new FakeContainer()
    const { sink, payloads, errors } = recordingSink()
    const source = createWebPushSource({ serviceWorker: container })
    expect(source.name).toBe('push:webpush')
    source.start(sink)
    container.post({ type: 'pushsync:push', payload })
    container.post({ type: 'pushsync:push', payload: 'not json' })
    container.post({ type: 'app:other', payload: 'x' })
    container.post('plain text')
    container.post(null)
    container.post(undefined)
    expect(payloads).toEqual([payload, 'not json'])
    expect(errors).toEqual([])
  })

  it('never throws into the listener: a failing sink becomes PUSH_PAYLOAD_INVALID', () => {
    const container = new FakeContainer()
    const { sink, errors } = recordingSink(true)
    createWebPushSource({ serviceWorker: container }).start(sink)
    expect(() => container.post({ type: 'pushsync:push', payload })).not.toThrow()
    expect(errors.map((e) => e.code)).toEqual(['PUSH_PAYLOAD_INVALID'])
  })

  it('stop removes the listener, relays nothing afterwards and is harmless twice', () => {
    const container = new FakeContainer()
    const { sink, payloads } = recordingSink()
    const stop = createWebPushSource({ serviceWorker: container }).start(sink)
    expect(container.listeners).toBe(1)
    stop()
    stop()
    expect(container.listeners).toBe(0)
    container.post({ type: 'pushsync:push', payload })
    expect(payloads).toEqual([])
  })

  it('uses navigator.serviceWorker by default', () => {
    const container = new FakeContainer()
    vi.stubGlobal('navigator', { serviceWorker: container })
    try {
      const { sink, payloads } = recordingSink()
      const stop = createWebPushSource().start(sink)
      container.post({ type: 'pushsync:push', payload })
      stop()
      expect(payloads).toEqual([payload])
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('reports PUSH_UNSUPPORTED without a service worker container and returns a no-op stop', () => {
    vi.stubGlobal('navigator', {})
    try {
      const { sink, payloads, errors } = recordingSink()
      const stop = createWebPushSource().start(sink)
      expect(errors.map((e) => [e.code, e.adapter])).toEqual([['PUSH_UNSUPPORTED', 'push:webpush']])
      expect(() => stop()).not.toThrow()
      expect(payloads).toEqual([])
    } finally {
      vi.unstubAllGlobals()
    }
  })
})

// 65 bytes, like a P-256 public key; base64url with '-' and '_' and no padding.
const keyBytes = Uint8Array.from({ length: 65 }, (_, i) => (i * 37 + 251) % 256)
const vapidPublicKey = Buffer.from(keyBytes).toString('base64url')

function subscription(key: Uint8Array | null = keyBytes) {
  const json = { endpoint: 'https://push.example/abc', keys: { p256dh: 'p', auth: 'a' } }
  const sub = {
    options: { applicationServerKey: key === null ? null : key.slice().buffer },
    unsubscribe: vi.fn(async () => true),
    toJSON: () => json,
  }
  return { sub: sub as PushSubscriptionLike & typeof sub, json }
}

function fakeRegistration(
  existing: PushSubscriptionLike | null,
  subscribe: () => Promise<PushSubscriptionLike>,
) {
  const calls: Array<{ userVisibleOnly: boolean; applicationServerKey: Uint8Array }> = []
  const registration: ServiceWorkerRegistrationLike = {
    pushManager: {
      getSubscription: async () => existing,
      subscribe: async (options) => {
        calls.push(options)
        return subscribe()
      },
    },
  }
  return { registration, calls }
}

describe('subscribeToWebPush', () => {
  it('subscribes with userVisibleOnly and the decoded key, then registers the JSON', async () => {
    expect(vapidPublicKey).toMatch(/[-_]/)
    const { sub, json } = subscription()
    const { registration, calls } = fakeRegistration(null, async () => sub)
    const register = vi.fn(async (_token: string) => {})
    const result = await subscribeToWebPush({ registration, vapidPublicKey, register })
    expect(result).toBe(sub)
    expect(calls).toHaveLength(1)
    expect(calls[0]?.userVisibleOnly).toBe(true)
    expect(calls[0]?.applicationServerKey).toBeInstanceOf(Uint8Array)
    expect([...(calls[0]?.applicationServerKey ?? [])]).toEqual([...keyBytes])
    expect(register).toHaveBeenCalledTimes(1)
    expect(JSON.parse(register.mock.calls[0]?.[0] ?? '')).toEqual(json)
  })

  it('reuses the current subscription', async () => {
    const { sub, json } = subscription()
    const { registration, calls } = fakeRegistration(sub, async () => {
      throw new Error('not expected')
    })
    const register = vi.fn(async (_token: string) => {})
    await subscribeToWebPush({ registration, vapidPublicKey, register })
    expect(calls).toEqual([])
    expect(sub.unsubscribe).not.toHaveBeenCalled()
    expect(register).toHaveBeenCalledWith(JSON.stringify(json))
  })

  it('reuses a subscription that does not tell its key', async () => {
    const { sub } = subscription(null)
    const { registration, calls } = fakeRegistration(sub, async () => sub)
    await subscribeToWebPush({ registration, vapidPublicKey, register: async () => {} })
    expect(calls).toEqual([])
  })

  it('replaces a subscription made with another VAPID key', async () => {
    const old = subscription(new Uint8Array(65).fill(4)).sub
    const { sub } = subscription()
    const { registration, calls } = fakeRegistration(old, async () => sub)
    const register = vi.fn(async (_token: string) => {})
    expect(await subscribeToWebPush({ registration, vapidPublicKey, register })).toBe(sub)
    expect(old.unsubscribe).toHaveBeenCalledTimes(1)
    expect(calls).toHaveLength(1)
    expect(register).toHaveBeenCalledTimes(1)
  })

  it('turns a refused permission into PUSH_PERMISSION_DENIED and registers nothing', async () => {
    const { registration } = fakeRegistration(null, async () => {
      throw new DOMException('Registration failed - permission denied', 'NotAllowedError')
    })
    const register = vi.fn(async (_token: string) => {})
    const error = await subscribeToWebPush({ registration, vapidPublicKey, register }).catch(
      (e: unknown) => e,
    )
    expect(isSyncError(error, 'PUSH_PERMISSION_DENIED')).toBe(true)
    expect(register).not.toHaveBeenCalled()
  })

  it('throws other subscribe failures as they are', async () => {
    const failure = new DOMException('push service not available', 'AbortError')
    const { registration } = fakeRegistration(null, async () => {
      throw failure
    })
    await expect(subscribeToWebPush({ registration, vapidPublicKey, register: async () => {} })).rejects.toBe(
      failure,
    )
  })

  it('refuses a key that is not base64url', async () => {
    const { sub } = subscription()
    const { registration } = fakeRegistration(null, async () => sub)
    const error = await subscribeToWebPush({
      registration,
      vapidPublicKey: 'a+b/c=',
      register: async () => {},
    })
      .then(() => undefined)
      .catch((e: unknown) => e)
    expect(isSyncError(error, 'INVALID_ARGUMENT')).toBe(true)
  })
})

function pushEvent(data: { json(): unknown; text(): string } | null) {
  const waited: Promise<unknown>[] = []
  const event: PushEventLike = { data, waitUntil: (promise) => void waited.push(promise) }
  return { event, waited }
}

const jsonData = (value: unknown) => ({ json: () => value, text: () => JSON.stringify(value) })
const textData = (text: string) => ({
  json: () => JSON.parse(text) as unknown,
  text: () => text,
})

function fakeScope(clientCount: number) {
  const clients: Array<ClientLike & { messages: unknown[] }> = Array.from({ length: clientCount }, () => {
    const messages: unknown[] = []
    return { messages, postMessage: (message: unknown) => void messages.push(message) }
  })
  const matchAll = vi.fn(async (_options: { type: 'window'; includeUncontrolled: boolean }) => clients)
  const showNotification = vi.fn(async (_title: string, _options?: object) => {})
  const self: ServiceWorkerGlobalScopeLike = { clients: { matchAll }, registration: { showNotification } }
  return { self, clients, matchAll, showNotification }
}

describe('relayPush', () => {
  it('posts the JSON payload to every window client inside waitUntil', async () => {
    const { self, clients, matchAll, showNotification } = fakeScope(2)
    const { event, waited } = pushEvent(jsonData(payload))
    const done = relayPush(event, self, { showNotificationWhenHidden: { title: 'Updated' } })
    expect(waited).toEqual([done])
    await done
    expect(matchAll).toHaveBeenCalledWith({ type: 'window', includeUncontrolled: true })
    for (const client of clients) expect(client.messages).toEqual([{ type: 'pushsync:push', payload }])
    expect(showNotification).not.toHaveBeenCalled()
  })

  it('keeps posting to the other windows when one fails', async () => {
    const { self, clients } = fakeScope(2)
    const first = clients[0] as ClientLike
    first.postMessage = () => {
      throw new Error('DataCloneError')
    }
    const { event, waited } = pushEvent(jsonData(payload))
    relayPush(event, self)
    await Promise.all(waited)
    expect(clients[1]?.messages).toEqual([{ type: 'pushsync:push', payload }])
  })

  it('shows the notification only when no window is open', async () => {
    const { self, showNotification } = fakeScope(0)
    const { event, waited } = pushEvent(jsonData(payload))
    relayPush(event, self, { showNotificationWhenHidden: { title: 'Updated', options: { tag: 'pushsync' } } })
    await Promise.all(waited)
    expect(showNotification).toHaveBeenCalledWith('Updated', { tag: 'pushsync' })
  })

  it('shows nothing without the option', async () => {
    const { self, showNotification } = fakeScope(0)
    const { event, waited } = pushEvent(jsonData(payload))
    relayPush(event, self)
    await Promise.all(waited)
    expect(showNotification).not.toHaveBeenCalled()
  })

  it('relays a payload that is not JSON as its text', async () => {
    const { self, clients } = fakeScope(1)
    const { event, waited } = pushEvent(textData('hello'))
    relayPush(event, self)
    await Promise.all(waited)
    expect(clients[0]?.messages).toEqual([{ type: 'pushsync:push', payload: 'hello' }])
  })

  it('relays an empty push as an undefined payload', async () => {
    const { self, clients } = fakeScope(1)
    const { event, waited } = pushEvent(null)
    relayPush(event, self)
    await Promise.all(waited)
    expect(clients[0]?.messages).toEqual([{ type: 'pushsync:push', payload: undefined }])
  })
})
