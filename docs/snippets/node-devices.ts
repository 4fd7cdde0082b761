/**
 * Getting started in Node, two devices of one user (node.ts opens each): a write reaches the second
 * device by its synchronize, the next one by push alone. The documentation's tests run it.
 */
// #region devices
import { join } from 'node:path'
import type { SyncManager } from 'pushsync'
import { identityPoolId, openDevice } from './node.js'
import { signInAsGuest } from './sign-in.js'

/** Resolves once a synchronize brought a change of `key` from the server. */
function remoteChange(manager: SyncManager, dataset: string, key: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = manager.on('datasetChanged', (event) => {
      if (event.dataset === dataset && event.source === 'remote' && event.keys.includes(key)) {
        stop()
        resolve()
      }
    })
  })
}

export async function twoDevices(endpoint: string, directory: string) {
  // #region sync
  const session = await signInAsGuest(endpoint, identityPoolId)
  const phone = openDevice(endpoint, session, join(directory, 'phone.db'))
  const laptop = openDevice(endpoint, session, join(directory, 'laptop.db'))

  const settings = await phone.openOrCreateDataset('settings')
  await settings.putAll({ theme: 'dark', language: 'en' }) // local and immediate, even offline
  await settings.synchronize() // pull, resolve conflicts, push

  const onLaptop = await laptop.openOrCreateDataset('settings')
  await onLaptop.synchronize()
  const synced = { ...(await onLaptop.getAll()) } // { theme: 'dark', language: 'en' }
  // #endregion sync

  // #region push
  // The laptop learns of the next change by push: no synchronize() call on its side.
  const arrived = remoteChange(laptop, 'settings', 'theme')
  await settings.put('theme', 'light')
  await settings.synchronize()
  await arrived
  const pushed = await onLaptop.get('theme') // 'light'
  // #endregion push

  await phone.close() // stops the push sources and closes the SQLite files
  await laptop.close()
  return { synced, pushed }
}
// #endregion devices
