import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CognitoSyncClient,
  ListRecordsCommand,
  type Platform,
  type RecordPatch,
  RegisterDeviceCommand,
  SubscribeToDatasetCommand,
  UpdateRecordsCommand,
} from '@aws-sdk/client-cognito-sync'
import { expect } from 'vitest'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../../src/server.js'
import { createDevice } from '../e2e/devices.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

export const REGION = 'us-east-1'
export const ADMIN = { accessKeyId: 'AKIDADMINAWS0001', secretAccessKey: 'admin-secret-for-aws-tests' }

/** A new SQLite file in a directory of its own. */
export const tempDb = () => join(mkdtempSync(join(tmpdir(), 'pushsync-aws-')), 'pushsync.db')

/** The real server, in this process, with AWS on (unless `aws` is given) and a SQLite file. */
export async function startServer(options: Partial<SyncServerOptions> = {}) {
  const server: SyncServer = await createSyncServer({
    db: tempDb(),
    allowUnauthenticated: true,
    adminKeys: [ADMIN],
    tokenSecret: 'aws-tests',
    aws: {},
    ...options,
  })
  const { url } = await server.listen(0)
  return { server, url }
}

export const adminClient = (url: string) =>
  new CognitoSyncClient({ region: REGION, endpoint: url, credentials: ADMIN, maxAttempts: 1 })

/** An identity of `pool` signed in through the AWS SDK's Cognito Identity provider. */
export async function signIn(url: string, identityPoolId: string) {
  const device = await createDevice({ url, identityPoolId, maxAttempts: 1 })
  const dataset = (DatasetName: string) => ({
    IdentityPoolId: identityPoolId,
    IdentityId: device.identityId,
    DatasetName,
  })
  return {
    ...device,
    /** RegisterDevice, as the AWS SDK sends it; the DeviceId it answers. */
    async register(Platform: Platform, Token: string) {
      const { DeviceId } = await device.sync.send(
        new RegisterDeviceCommand({
          IdentityPoolId: identityPoolId,
          IdentityId: device.identityId,
          Platform,
          Token,
        }),
      )
      expect(DeviceId).toBeTypeOf('string')
      return DeviceId as string
    },
    subscribe: (DatasetName: string, DeviceId: string) =>
      device.sync.send(new SubscribeToDatasetCommand({ ...dataset(DatasetName), DeviceId })),
    /** ListRecords for a session token, then UpdateRecords with it. */
    async write(DatasetName: string, RecordPatches: RecordPatch[], DeviceId?: string) {
      const { SyncSessionToken } = await device.sync.send(
        new ListRecordsCommand({ ...dataset(DatasetName), LastSyncCount: 0 }),
      )
      return device.sync.send(
        new UpdateRecordsCommand({
          ...dataset(DatasetName),
          SyncSessionToken,
          RecordPatches,
          ...(DeviceId === undefined ? {} : { DeviceId }),
        }),
      )
    },
    pull: (DatasetName: string, LastSyncCount = 0) =>
      device.sync.send(new ListRecordsCommand({ ...dataset(DatasetName), LastSyncCount })),
  }
}

export const replace = (Key: string, Value: string, SyncCount = 0): RecordPatch => ({
  Op: 'replace',
  Key,
  Value,
  SyncCount,
})

/** An APNs device token as iOS's Cognito client sends it: 32 bytes in uppercase hex. */
export const apnsToken = (n: number) => n.toString(16).toUpperCase().padStart(64, 'A')
