/** Offline first: data written before sign-in is kept locally, then given to the identity. */
import { createSyncManager } from 'pushsync'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createHttpTransport } from 'pushsync/transport/http'
import { memoryDevice } from './devices.js'
import { signInAsGuest } from './sign-in.js'

export async function signInLater(endpoint: string, identityPoolId: string) {
  // #region later
  // No identity yet: datasets are kept under `unknown`, and synchronize() would be refused.
  const manager = createSyncManager({ identityPoolId, storage: createMemoryStorage() })
  const drafts = await manager.openOrCreateDataset('drafts')
  await drafts.put('welcome', 'written before signing in')

  // Signed in: the local data becomes the identity's and can sync.
  const session = await signInAsGuest(endpoint, identityPoolId)
  await manager.changeIdentity(
    session.identityId,
    createHttpTransport({
      endpoint,
      identityPoolId,
      identityId: session.identityId,
      getToken: () => session.getToken(),
    }),
  )
  await (await manager.openOrCreateDataset('drafts')).synchronize()
  // #endregion later

  // Another device of the same identity finds it on the server.
  const other = memoryDevice(endpoint, session)
  const onOther = await other.openOrCreateDataset('drafts')
  await onOther.synchronize()
  const value = await onOther.get('welcome')
  await manager.close()
  await other.close()
  return value
}
