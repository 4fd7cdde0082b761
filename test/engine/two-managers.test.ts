/**
 * Two devices of one identity as an app ships them: each keeps its data in a SQLite file and talks
 * to pushsync-server over HTTP through the AWS SDK v3 Cognito Sync client, signed with credentials
 * the SDK's own Cognito Identity provider got. They edit offline, synchronize, resolve conflicts and
 * must converge, with nothing left to pull at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CognitoSyncClient } from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { betterSqlite3Driver, createSqliteStorage } from '../../adapters/storage/sqlite/index.js'
import { createCognitoTransport } from '../../adapters/transport/cognito/index.js'
import { createSyncServer, type SyncServer } from '../../server/src/server.js'
import { createMemoryStore } from '../../server/src/store/memory.js'
import { createSyncManager, type SyncConflict, type SyncManager } from '../../src/index.js'
import { interceptTransport, POOL } from './harness.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const REGION = 'us-east-1'
const DATASET = 'profile'

let server: SyncServer
let url: string
let directory: string
const clients: CognitoSyncClient[] = []

beforeAll(async () => {
  server = await createSyncServer({
    db: createMemoryStore(),
    allowUnauthenticated: true,
    tokenSecret: 'two-managers-tests',
  })
  url = (await server.listen(0)).url
  directory = mkdtempSync(join(tmpdir(), 'pushsync-two-managers-'))
})
afterAll(async () => {
  for (const client of clients.splice(0)) client.destroy()
  await server?.close()
  rmSync(directory, { recursive: true, force: true })
})

interface Device {
  readonly manager: SyncManager
  readonly identityId: string
  /** The identity cache of this device's credential provider, as an app persists it. */
  readonly cache: Map<string, string>
  /** Records ListRecords brought from the server, across every page. */
  readonly pulled: { records: number }
}

/**
 * A device: its own credential provider and cache, its own client (one attempt: a failure should
 * show, not be retried away), its own SQLite file. Given another device's cache, it signs in as
 * that identity, as an app restoring the user's identity on a second device does.
 */
async function device(file: string, restoreFrom?: Map<string, string>): Promise<Device> {
  const cache = new Map(restoreFrom)
  const credentials = fromCognitoIdentityPool({
    identityPoolId: POOL,
    clientConfig: { region: REGION, endpoint: url, maxAttempts: 1 },
    cache: {
      getItem: (key: string) => cache.get(key) ?? null,
      setItem: (key: string, value: string) => void cache.set(key, value),
      removeItem: (key: string) => void cache.delete(key),
    },
  })
  const { identityId } = await credentials()
  if (identityId === undefined) throw new Error('the credential provider returned no identity id')
  const client = new CognitoSyncClient({ region: REGION, endpoint: url, credentials, maxAttempts: 1 })
  clients.push(client)
  const pulled = { records: 0 }
  const transport = interceptTransport(
    createCognitoTransport({ client, identityPoolId: POOL, identityId }),
    async (call) => {
      const result = await call.proceed()
      if (call.method === 'listRecords' && result.ok) {
        pulled.records += (result.value as { records: unknown[] }).records.length
      }
      return result
    },
  )
  const manager = createSyncManager({
    identityPoolId: POOL,
    identityId,
    storage: createSqliteStorage({ driver: betterSqlite3Driver(new Database(join(directory, file))) }),
    transport,
  })
  return { manager, identityId, cache, pulled }
}

describe('two managers of one identity over the Cognito transport', () => {
  it('edit offline, resolve their conflicts, converge, and then have nothing new to pull', async () => {
    const phone = await device('phone.db')
    const laptop = await device('laptop.db', phone.cache)
    expect(laptop.identityId).toBe(phone.identityId)

    const onPhone = await phone.manager.openOrCreateDataset(DATASET)
    await onPhone.putAll({ name: 'Ada', theme: 'dark', language: 'en', font: 'serif' })
    expect(await onPhone.synchronize()).toMatchObject({ pushed: 4, lastSyncCount: 1 })
    const onLaptop = await laptop.manager.openOrCreateDataset(DATASET)
    expect(await onLaptop.synchronize()).toMatchObject({ updatedRecords: 4, lastSyncCount: 1 })

    // Offline on both: the same key changed differently, a removal against an edit, the same
    // value written on both sides (not a conflict), and keys only one side touched.
    await onPhone.put('theme', 'light')
    await onPhone.remove('language')
    await onPhone.put('timezone', 'UTC')
    await onPhone.put('phoneOnly', 'p')
    await onLaptop.put('theme', 'solarized')
    await onLaptop.put('language', 'fr')
    await onLaptop.put('timezone', 'UTC')
    await onLaptop.put('font', 'mono')
    await onLaptop.put('laptopOnly', 'l')

    expect(await onPhone.synchronize()).toMatchObject({ conflicts: 0, pushed: 4 })

    const seen: string[] = []
    const resolve = (conflicts: readonly SyncConflict[]) => {
      for (const conflict of conflicts) {
        seen.push(`${conflict.key}: ${conflict.local.value} vs ${conflict.remote.value}`)
        if (conflict.key === 'theme')
          conflict.resolveWithValue(`${conflict.remote.value}+${conflict.local.value}`)
        else conflict.resolveWithLocal()
      }
    }
    const laptopSync = await onLaptop.synchronize({ onConflict: resolve })
    expect(seen.sort()).toEqual(['language: fr vs null', 'theme: solarized vs light'])
    // timezone (same value) and phoneOnly arrive; the two resolutions are stored too.
    expect(laptopSync).toMatchObject({ conflicts: 2, updatedRecords: 4 })
    // The resolutions, font and laptopOnly; timezone was adopted from the server, not sent again.
    expect(laptopSync.pushed).toBe(4)

    expect(await onPhone.synchronize({ onConflict: resolve })).toMatchObject({
      conflicts: 0,
      updatedRecords: 4,
    })
    expect(seen).toHaveLength(2)

    const expected = {
      name: 'Ada',
      theme: 'light+solarized',
      language: 'fr',
      font: 'mono',
      timezone: 'UTC',
      phoneOnly: 'p',
      laptopOnly: 'l',
    }
    expect({ ...(await onPhone.getAll()) }).toEqual(expected)
    expect({ ...(await onLaptop.getAll()) }).toEqual(expected)
    expect(await onPhone.getLastSyncCount()).toBe(await onLaptop.getLastSyncCount())

    // Each device's last sync brings nothing: both already hold every server change.
    phone.pulled.records = 0
    laptop.pulled.records = 0
    expect(await onLaptop.synchronize()).toMatchObject({ updatedRecords: 0, pushed: 0, conflicts: 0 })
    expect(await onPhone.synchronize()).toMatchObject({ updatedRecords: 0, pushed: 0, conflicts: 0 })
    expect([phone.pulled.records, laptop.pulled.records]).toEqual([0, 0])
    expect(onPhone.getStatus().pendingChanges).toBe(0)
    expect(onLaptop.getStatus().pendingChanges).toBe(0)

    // What converged is in the files: a restarted laptop reads it back without the network.
    await laptop.manager.close()
    const restarted = await device('laptop.db', phone.cache)
    const reread = await restarted.manager.openOrCreateDataset(DATASET)
    expect({ ...(await reread.getAll()) }).toEqual(expected)
    expect(reread.getStatus().pendingChanges).toBe(0)
    await restarted.manager.close()
    await phone.manager.close()
  })
})
