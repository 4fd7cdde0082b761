/**
 * An app page whose sync server is on another origin: `?endpoint=` names it. The test calls
 * `window.syncOnce()`, which writes a record and synchronizes it through the HTTP transport.
 */
import { createSyncManager, isSyncError } from 'pushsync'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createHttpTransport } from 'pushsync/transport/http'
import { pageIdentity, pageSetting } from './settings.js'

const { identityPoolId, identityId, token } = pageIdentity()
const endpoint = pageSetting('endpoint')

async function syncOnce(): Promise<{ lastSyncCount: number } | { error: string }> {
  const manager = createSyncManager({
    identityPoolId,
    identityId,
    storage: createMemoryStorage(),
    transport: createHttpTransport({ endpoint, identityPoolId, identityId, getToken: () => token }),
  })
  try {
    const ds = await manager.openOrCreateDataset('settings')
    await ds.put('from', location.origin)
    const { lastSyncCount } = await ds.synchronize()
    return { lastSyncCount }
  } catch (error) {
    return { error: isSyncError(error) ? error.code : String(error) }
  } finally {
    await manager.close()
  }
}

Object.assign(globalThis, { syncOnce })
document.title = 'ready'
