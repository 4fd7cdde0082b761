/**
 * Two devices of one user keeping a dataset in sync through a local pushsync-server:
 * `npm run example:two-devices`. The same code runs in the tests (test/examples.test.ts).
 *
 * Each device keeps its data in its own SQLite file and talks to the server over HTTP with the
 * bearer token Cognito Identity gave it.
 */
import Database from 'better-sqlite3'
import { createSyncManager } from 'pushsync'
import { betterSqlite3Driver, createSqliteStorage } from 'pushsync/storage/sqlite'
import { createHttpTransport } from 'pushsync/transport/http'

export async function twoDevices(endpoint: string, directory: string): Promise<Record<string, string>> {
  const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

  // 1. Sign in as a guest: Cognito Identity's GetId and GetCredentialsForIdentity, as any AWS SDK does.
  const identity = async (target: string, body: object) => {
    const response = await fetch(`${endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AWSCognitoIdentityService.${target}`,
      },
      body: JSON.stringify(body),
    })
    return (await response.json()) as { IdentityId: string; Credentials: { SessionToken: string } }
  }
  const { IdentityId: identityId } = await identity('GetId', { IdentityPoolId: identityPoolId })
  const { Credentials } = await identity('GetCredentialsForIdentity', { IdentityId: identityId })

  // 2. A device: SQLite storage on a file of its own, the HTTP transport, one manager.
  const device = (file: string) =>
    createSyncManager({
      identityPoolId,
      identityId,
      storage: createSqliteStorage({ driver: betterSqlite3Driver(new Database(`${directory}/${file}`)) }),
      transport: createHttpTransport({
        endpoint,
        identityPoolId,
        identityId,
        getToken: () => Credentials.SessionToken,
      }),
    })
  const phone = device('phone.db')
  const laptop = device('laptop.db')

  // 3. The phone writes and synchronizes; the laptop synchronizes and reads.
  const settings = await phone.openOrCreateDataset('settings')
  await settings.putAll({ theme: 'dark', language: 'en' })
  await settings.synchronize()

  const onLaptop = await laptop.openOrCreateDataset('settings')
  await onLaptop.synchronize()
  const seen = { ...(await onLaptop.getAll()) }

  await phone.close()
  await laptop.close()
  return seen
}

// Run directly: start the server first (`npm start`), then `npm run example:two-devices`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const endpoint = process.env.PUSHSYNC_ENDPOINT ?? 'http://127.0.0.1:8787'
  console.log(await twoDevices(endpoint, mkdtempSync(join(tmpdir(), 'pushsync-example-'))))
}
