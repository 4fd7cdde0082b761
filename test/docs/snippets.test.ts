/**
 * The documentation's code samples (docs/snippets) run here against a real pushsync-server on a
 * socket, so every page shows code that works. Browser and React Native samples are only
 * type-checked (`npm run typecheck`).
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { saveWithAwsSdk } from '../../docs/snippets/aws-sdk.js'
import { syncWithCognitoTransport } from '../../docs/snippets/cognito-transport.js'
import { conflicts } from '../../docs/snippets/conflicts.js'
import { identityPoolId } from '../../docs/snippets/devices.js'
import { refusedWrites } from '../../docs/snippets/errors.js'
import { indexedDbInNode } from '../../docs/snippets/indexeddb-node.js'
import { twoDevices } from '../../docs/snippets/node-devices.js'
import { pushDecisions } from '../../docs/snippets/push-decision.js'
import { startServer, startServerWithNativePush } from '../../docs/snippets/server.js'
import { signInAsGuest } from '../../docs/snippets/sign-in.js'
import { signInLater } from '../../docs/snippets/sign-in-later.js'
import { syncCounts } from '../../docs/snippets/sync-counts.js'
import { createSyncServer, type SyncServer } from '../../server/src/server.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

let server: SyncServer
let url: string
const directory = mkdtempSync(join(tmpdir(), 'pushsync-docs-'))

beforeAll(async () => {
  server = await createSyncServer({ db: ':memory:', allowUnauthenticated: true, tokenSecret: 'docs' })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('getting started', () => {
  it('Node: a write reaches the second device by synchronize, the next one by push alone', async () => {
    expect(await twoDevices(url, directory)).toEqual({
      synced: { theme: 'dark', language: 'en' },
      pushed: 'light',
    })
  })

  it('signs in as a guest, and again as the same identity', async () => {
    const first = await signInAsGuest(url, identityPoolId)
    const again = await signInAsGuest(url, identityPoolId, first.identityId)
    expect(again.identityId).toBe(first.identityId)
    const token = await first.getToken()
    expect(token).not.toBe('')
    expect(await first.getToken()).toBe(token) // reused until a minute before it expires
  })
})

describe('concepts', () => {
  it('sync counts move with each UpdateRecords and reach the other device', async () => {
    expect(await syncCounts(url, identityPoolId)).toEqual([0, 1, 2, 2])
  })

  it('onConflict sees both edits and its merged value reaches both devices', async () => {
    expect(await conflicts(url, identityPoolId)).toEqual({
      phone: 'milk, eggs, bread',
      laptop: 'milk, eggs, bread',
      seen: ['list: milk, bread / milk, eggs'],
    })
  })

  it('data written before sign-in is given to the identity and synchronized', async () => {
    expect(await signInLater(url, identityPoolId)).toBe('written before signing in')
  })

  it('the push-sync decision: stale, newer, during a sync, another feature’s push', () => {
    const { decisions, datasetName } = pushDecisions()
    expect(datasetName).toBe('settings')
    expect(decisions.map((d) => (d.action === 'ignore' ? `ignore:${d.reason}` : d.action))).toEqual([
      'ignore:stale',
      'sync',
      'coalesce',
      'ignore:not-cognito-sync',
    ])
  })

  it('errors carry a code and the rule broken', async () => {
    expect(await refusedWrites()).toEqual({
      codes: ['INVALID_ARGUMENT', 'TRANSPORT_AUTH'],
      rule: 'maxKeyBytes',
    })
  })
})

describe('adapters', () => {
  it('the Cognito transport synchronizes through the AWS SDK', async () => {
    expect(await syncWithCognitoTransport(url)).toMatchObject({ pushed: 1, lastSyncCount: 1 })
  })

  it('the IndexedDB storage runs in Node over fake-indexeddb', async () => {
    expect(await indexedDbInNode()).toEqual({ theme: 'dark' })
  })
})

describe('migrating from Cognito Sync', () => {
  it('the AWS SDK works against the server with only the endpoint changed', async () => {
    const { identityId, records } = await saveWithAwsSdk(url)
    expect(identityId).toMatch(/^us-east-1:/)
    expect(records).toMatchObject([{ Key: 'theme', Value: 'dark' }])
  })
})

describe('the server', () => {
  it('embedded: serves its VAPID public key', async () => {
    const { server: embedded, url: embeddedUrl } = await startServer(join(directory, 'server.db'))
    try {
      const response = await fetch(`${embeddedUrl}/pushsync/vapid-public-key`)
      expect(response.status).toBe(200)
      expect(((await response.json()) as { publicKey: string }).publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/)
    } finally {
      await embedded.close()
    }
  })

  it('starts with APNs and FCM configured from key files', async () => {
    const apnsKeyFile = join(directory, 'AuthKey.p8')
    const fcmServiceAccountFile = join(directory, 'service-account.json')
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    writeFileSync(apnsKeyFile, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }))
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    writeFileSync(
      fcmServiceAccountFile,
      JSON.stringify({
        project_id: 'example',
        client_email: 'pushsync@example.iam.gserviceaccount.com',
        private_key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      }),
    )
    const withPush = await startServerWithNativePush({ apnsKeyFile, fcmServiceAccountFile })
    await withPush.close()
  })
})
