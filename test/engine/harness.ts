import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { createHttpTransport } from '../../adapters/transport/http/index.js'
import { createSyncServer, type SyncServer } from '../../server/src/server.js'
import { createMemoryStore } from '../../server/src/store/memory.js'
import type { Result } from '../../src/core/index.js'
import type { StorageAdapter, Transport, TransportFailure } from '../../src/index.js'
import { createSyncManager, type SyncManager, type SyncManagerOptions } from '../../src/index.js'

export const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const ENDPOINT = 'http://pushsync.test'

/**
 * The real server, in process: requests go straight to its fetch handler (no sockets), so engine
 * tests run against the real operations, auth and store at memory speed.
 */
export async function startServer(): Promise<TestServer> {
  const server = await createSyncServer({
    db: createMemoryStore(),
    allowUnauthenticated: true,
    tokenSecret: 'engine-tests',
  })
  return new TestServer(server)
}

export class TestServer {
  readonly server: SyncServer
  readonly fetch: typeof fetch

  constructor(server: SyncServer) {
    this.server = server
    this.fetch = (input, init) => server.fetch(new Request(input, init))
  }

  /** A new identity and a bearer token for it, through Cognito Identity as an app would. */
  async newIdentity(): Promise<{ identityId: string; token: string }> {
    const call = async (target: string, body: object) => {
      const response = await this.fetch(`${ENDPOINT}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `AWSCognitoIdentityService.${target}`,
        },
        body: JSON.stringify(body),
      })
      return (await response.json()) as Record<string, unknown>
    }
    const { IdentityId } = await call('GetId', { IdentityPoolId: POOL })
    const { Credentials } = (await call('GetCredentialsForIdentity', { IdentityId })) as {
      Credentials: { SessionToken: string }
    }
    return { identityId: String(IdentityId), token: Credentials.SessionToken }
  }

  transport(identity: { identityId: string; token: string }): Transport {
    return createHttpTransport({
      endpoint: ENDPOINT,
      identityPoolId: POOL,
      identityId: identity.identityId,
      getToken: () => identity.token,
      fetch: this.fetch,
    })
  }

  /** A device of `identity`: its own storage, the HTTP transport, a controllable clock. */
  device(
    identity: { identityId: string; token: string },
    options: Partial<SyncManagerOptions> & { storage?: StorageAdapter; transport?: Transport } = {},
  ): SyncManager & { clock: { time: number; now(): number } } {
    const clock = { time: 1_000_000, now: () => (clock.time += 1) }
    const manager = createSyncManager({
      identityPoolId: POOL,
      identityId: identity.identityId,
      storage: options.storage ?? createMemoryStorage(),
      transport: options.transport ?? this.transport(identity),
      clock,
      ...options,
    })
    return Object.assign(manager, { clock })
  }

  close(): Promise<void> {
    return this.server.close()
  }
}

type Method = Exclude<keyof Transport, 'name' | 'identityPoolId' | 'identityId'>

/** One transport call as an interceptor sees it: `proceed` sends it to the real server. */
export interface InterceptedCall {
  readonly method: Method
  readonly args: readonly unknown[]
  proceed(): Promise<Result<unknown, TransportFailure>>
}

/**
 * Wraps a transport so a test decides, call by call, what reaches the server and what comes back:
 * fail before sending (offline), lose the answer after the server committed, write from another
 * device in between.
 */
export function interceptTransport(
  inner: Transport,
  intercept: (call: InterceptedCall) => Promise<Result<unknown, TransportFailure>>,
): Transport {
  const methods: Method[] = [
    'listRecords',
    'updateRecords',
    'listDatasets',
    'describeDataset',
    'deleteDataset',
    'registerDevice',
    'subscribe',
    'unsubscribe',
  ]
  const wrapped: Record<string, unknown> = {
    name: inner.name,
    identityPoolId: inner.identityPoolId,
    identityId: inner.identityId,
  }
  for (const method of methods) {
    const original = (
      inner[method] as (...args: unknown[]) => Promise<Result<unknown, TransportFailure>>
    ).bind(inner)
    wrapped[method] = (...args: unknown[]) => intercept({ method, args, proceed: () => original(...args) })
  }
  return wrapped as unknown as Transport
}

export const offline = (): Result<never, TransportFailure> => ({
  ok: false,
  failure: { kind: 'offline', message: 'the network is down (test)' },
})

/**
 * Memory storage whose read transactions fail with `disk gone` while `readsFail` is set, as a disk
 * that went away or a database closed under the app would.
 */
export function storageWithFailingReads(): { storage: StorageAdapter; readsFail: boolean } {
  const memory = createMemoryStorage()
  const control = { storage: memory, readsFail: false }
  control.storage = new Proxy(memory, {
    get(target, property, receiver) {
      if (property === 'read') {
        return (work: Parameters<typeof memory.read>[0]) =>
          control.readsFail ? Promise.reject(new Error('disk gone')) : target.read(work)
      }
      return Reflect.get(target, property, receiver)
    },
  })
  return control
}
