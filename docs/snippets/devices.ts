/**
 * Devices for the concept pages' examples: each keeps its datasets in memory and talks to
 * pushsync-server over HTTP as one signed-in identity.
 */
import { createSyncManager, type SyncManager, type SyncManagerOptions } from 'pushsync'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createHttpTransport } from 'pushsync/transport/http'
import type { GuestSession } from './sign-in.js'

export const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

export function memoryDevice(
  endpoint: string,
  session: GuestSession,
  options: Partial<SyncManagerOptions> = {},
): SyncManager {
  return createSyncManager({
    identityPoolId,
    identityId: session.identityId,
    storage: createMemoryStorage(),
    transport: createHttpTransport({
      endpoint,
      identityPoolId,
      identityId: session.identityId,
      getToken: () => session.getToken(),
    }),
    ...options,
  })
}
