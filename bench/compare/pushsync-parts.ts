/**
 * The parts a pushsync device is built from in this benchmark: a storage of each kind, a transport of
 * each kind with a request counter, and a guest identity from pushsync-server's Cognito Identity
 * endpoint, as an app gets one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CognitoSyncClient } from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentity } from '@aws-sdk/credential-providers'
import Database from 'better-sqlite3'
import {
  IDBCursor,
  IDBDatabase,
  IDBFactory,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBRequest,
  IDBTransaction,
} from 'fake-indexeddb'
import { WebSocket } from 'ws'
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb/index.js'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { betterSqlite3Driver, createSqliteStorage } from '../../adapters/storage/sqlite/index.js'
import { createCognitoTransport } from '../../adapters/transport/cognito/index.js'
import { createHttpTransport, type FetchLike } from '../../adapters/transport/http/index.js'
import {
  createWebSocketTransport,
  type WebSocketConstructor,
} from '../../adapters/transport/websocket/index.js'
import type { StorageAdapter, Transport } from '../../src/index.js'
import { type Identity, POOL, REGION } from './identity.js'

export { type Identity, newIdentity, POOL } from './identity.js'

export type StorageKind = 'memory' | 'sqlite' | 'indexeddb'
export type TransportKind = 'http' | 'websocket' | 'cognito'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

// idb recognises IndexedDB objects by their interface classes, which it expects as globals.
Object.assign(globalThis, {
  IDBCursor,
  IDBDatabase,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBRequest,
  IDBTransaction,
})

/** Opens storages of one kind; SQLite files live in a directory removed by `close()`. */
export class Storages {
  readonly #directory = mkdtempSync(join(tmpdir(), 'pushsync-compare-'))
  #opened = 0

  open(kind: StorageKind): StorageAdapter {
    const n = this.#opened++
    switch (kind) {
      case 'memory':
        return createMemoryStorage()
      case 'sqlite': {
        const db = new Database(join(this.#directory, `device-${n}.db`))
        // What the SQLite adapter's page calls the usual choice for apps.
        db.pragma('journal_mode = WAL')
        db.pragma('synchronous = NORMAL')
        return createSqliteStorage({ driver: betterSqlite3Driver(db) })
      }
      case 'indexeddb':
        // fake-indexeddb: IndexedDB's semantics in Node, in memory. It shows what the adapter's
        // transactions cost, not what a browser's disk-backed IndexedDB costs (bench:browser does).
        return createIndexedDbStorage({ name: `device-${n}`, indexedDB: new IDBFactory() })
    }
  }

  close(): void {
    rmSync(this.#directory, { recursive: true, force: true })
  }
}

/** Counts the requests a device's transport sends (long-lived push streams are not requests). */
export class RequestCounter {
  count = 0
}

export function openTransport(
  kind: TransportKind,
  url: string,
  who: Identity,
  counter: RequestCounter,
  credentials: CognitoCredentials | undefined,
): Transport {
  const counted: FetchLike = (input, init) => {
    counter.count++
    return fetch(input, init)
  }
  if (kind === 'websocket') {
    // Node 20 has no global WebSocket: ws's, counting the messages a device sends.
    class CountedWebSocket extends WebSocket {
      override send(data: Parameters<WebSocket['send']>[0]): void {
        counter.count++
        super.send(data)
      }
    }
    return createWebSocketTransport({
      endpoint: url,
      identityPoolId: POOL,
      identityId: who.identityId,
      getToken: () => who.token,
      fetch: counted,
      WebSocket: CountedWebSocket as unknown as WebSocketConstructor,
    })
  }
  if (kind === 'http') {
    return createHttpTransport({
      endpoint: url,
      identityPoolId: POOL,
      identityId: who.identityId,
      getToken: () => who.token,
      fetch: counted,
    })
  }
  if (credentials === undefined) throw new Error('the Cognito transport needs credentials')
  const client = new CognitoSyncClient({ region: REGION, endpoint: url, credentials })
  client.middlewareStack.add(
    (next) => (args) => {
      counter.count++
      return next(args)
    },
    { step: 'build', name: 'countRequests' },
  )
  return createCognitoTransport({ client, identityPoolId: POOL, identityId: who.identityId })
}

export type CognitoCredentials = Awaited<ReturnType<ReturnType<typeof fromCognitoIdentity>>>

/**
 * The identity's AWS credentials from the server's Cognito Identity endpoint, resolved ahead: a
 * device has them before it syncs, so fetching them is not part of any timed sync.
 */
export function cognitoCredentials(url: string, who: Identity): Promise<CognitoCredentials> {
  return fromCognitoIdentity({
    identityId: who.identityId,
    clientConfig: { region: REGION, endpoint: url },
  })()
}
