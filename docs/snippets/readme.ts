import Database from 'better-sqlite3'
import { createSyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIdentitySession } from 'pushsync/session'
import { betterSqlite3Driver, createSqliteStorage } from 'pushsync/storage/sqlite'
import { createHttpTransport } from 'pushsync/transport/http'

// pushsync-server's address: `npx @pushsync/server --allow-unauthenticated` listens here.
const endpoint = process.env.PUSHSYNC_ENDPOINT ?? 'http://127.0.0.1:8787'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

// Sign in as a guest (Cognito Identity's GetId and GetCredentialsForIdentity); the token renews itself.
const session = createIdentitySession({ endpoint, identityPoolId })
const identityId = await session.identityId()
const remote = { endpoint, identityPoolId, identityId, getToken: session.getToken }

// A device of that user: a SQLite file, writes sent as they happen, other devices' changes by push.
async function openSettings(file: string) {
  const storage = createSqliteStorage({ driver: betterSqlite3Driver(new Database(file)) })
  const transport = createHttpTransport(remote)
  const manager = createSyncManager({ identityPoolId, identityId, storage, transport, writeThrough: true })
  manager.addPushSource(createSsePushSource(remote))
  return { manager, settings: await manager.openOrCreateDataset('settings') }
}
const phone = await openSettings('phone.db')
const laptop = await openSettings('laptop.db')

// The laptop shows each theme the phone sets, as soon as a push tells it to sync: no polling.
const laptopShows = (theme: string) =>
  new Promise<void>((resolve) => {
    const stop = laptop.settings.watch('theme', (value) => {
      if (value !== theme) return
      console.log(value)
      stop()
      resolve()
    })
  })

await phone.settings.put('theme', 'dark') // local and immediate, even offline
await laptopShows('dark')
await phone.settings.put('theme', 'light')
await laptopShows('light')

await phone.manager.close()
await laptop.manager.close()
