/** pushsync-server in a Node program of your own, with push delivery configured in code. */
// #region embed
import { readFileSync } from 'node:fs'
import { createSyncServer, generateVapidKeys, type SyncServer } from '@pushsync/server'

export async function startServer(file: string): Promise<{ server: SyncServer; url: string }> {
  const server = await createSyncServer({
    db: file, // a SQLite file (WAL mode), or ':memory:'
    allowUnauthenticated: true, // guests: GetId without Logins creates an identity
    adminKeys: [{ accessKeyId: 'AKIDADMIN0001', secretAccessKey: 'a-long-random-secret' }],
    // Web Push: generate the pair once and keep it; a new pair invalidates every subscription.
    webPush: { vapid: { subject: 'mailto:ops@example.com', ...generateVapidKeys() } },
    onError: (error) => console.error(error),
  })
  const { url } = await server.listen(0, '127.0.0.1') // port 0: any free port
  return { server, url } // server.close() finishes open requests and closes the database
}
// #endregion embed

export interface NativePushFiles {
  /** The APNs auth key (.p8) downloaded from Apple. */
  readonly apnsKeyFile: string
  /** The Firebase service account's JSON key. */
  readonly fcmServiceAccountFile: string
}

export async function startServerWithNativePush(files: NativePushFiles): Promise<SyncServer> {
  // #region native
  const server = await createSyncServer({
    db: ':memory:',
    apns: {
      teamId: 'ABCDE12345',
      keyId: 'XYZ9876543',
      privateKey: readFileSync(files.apnsKeyFile, 'utf8'),
      bundleId: 'com.example.notes',
    },
    fcm: { serviceAccount: JSON.parse(readFileSync(files.fcmServiceAccountFile, 'utf8')) },
    push: { ttlMs: 24 * 60 * 60 * 1000 }, // drop a push not delivered within a day
  })
  // #endregion native
  return server
}
