import Database from 'better-sqlite3'
import { createSyncManager } from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { betterSqlite3Driver, createSqliteStorage } from 'pushsync/storage/sqlite'
import { createHttpTransport } from 'pushsync/transport/http'

// pushsync-server's address: `npx @pushsync/server --allow-unauthenticated` listens here.
const endpoint = process.env.PUSHSYNC_ENDPOINT ?? 'http://127.0.0.1:8787'
const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

// Sign in as a guest: Cognito Identity's GetId and GetCredentialsForIdentity, two unsigned calls.
async function cognitoIdentity(operation: string, body: object) {
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${operation}`,
    },
    body: JSON.stringify(body),
  })
  if (!response.ok) throw new Error(`${operation}: HTTP ${response.status} ${await response.text()}`)
  return (await response.json()) as { IdentityId: string; Credentials: { SessionToken: string } }
}
const { IdentityId: identityId } = await cognitoIdentity('GetId', { IdentityPoolId: identityPoolId })
const { Credentials } = await cognitoIdentity('GetCredentialsForIdentity', { IdentityId: identityId })

// A device: its own SQLite file, the HTTP transport (the session token is the bearer token) and
// pushes over server-sent events.
const remote = { endpoint, identityPoolId, identityId, getToken: () => Credentials.SessionToken }
function device(file: string) {
  const manager = createSyncManager({
    identityPoolId,
    identityId,
    storage: createSqliteStorage({ driver: betterSqlite3Driver(new Database(file)) }),
    transport: createHttpTransport(remote),
  })
  manager.addPushSource(createSsePushSource(remote))
  return manager
}
const phone = device('phone.db')
const laptop = device('laptop.db')

const settings = await phone.openOrCreateDataset('settings')
await settings.putAll({ theme: 'dark', language: 'en' }) // local and immediate, even offline
await settings.synchronize() // pull, resolve conflicts, push

const onLaptop = await laptop.openOrCreateDataset('settings')
await onLaptop.synchronize()
console.log(await onLaptop.get('theme')) // dark

// The laptop hears of the phone's next change by push and synchronizes by itself.
const pushed = new Promise<void>((resolve) => {
  laptop.on('datasetChanged', ({ dataset, source, keys }) => {
    if (dataset === 'settings' && source === 'remote' && keys.includes('theme')) resolve()
  })
})
await settings.put('theme', 'light')
await settings.synchronize()
await pushed
console.log(await onLaptop.get('theme')) // light

await phone.close() // stops the push sources, closes the SQLite files
await laptop.close()
