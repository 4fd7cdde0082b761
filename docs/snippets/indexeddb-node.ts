/** The IndexedDB storage outside a browser: fake-indexeddb in Node tests. */
// #region fake
import { IDBFactory } from 'fake-indexeddb'
import 'fake-indexeddb/auto' // the IDB* classes as globals, as in a browser
import { createSyncManager } from 'pushsync'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'

export async function indexedDbInNode(): Promise<Record<string, string>> {
  const storage = createIndexedDbStorage({ name: 'test', indexedDB: new IDBFactory() })
  const manager = createSyncManager({
    identityPoolId: 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00',
    storage,
  })
  const settings = await manager.openOrCreateDataset('settings')
  await settings.putAll({ theme: 'dark' })
  const values = { ...(await settings.getAll()) }
  await manager.close()
  return values
}
// #endregion fake
