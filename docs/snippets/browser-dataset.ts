/**
 * Getting started in a browser: a dataset on the page, with the manager of browser.ts. Compiled,
 * not run (it needs a browser).
 */
// #region dataset
import type { Dataset, SyncManager } from 'pushsync'

export async function bindSettings(manager: SyncManager, render: (values: Record<string, string>) => void) {
  const settings: Dataset = await manager.openOrCreateDataset('settings')
  render(await settings.getAll())
  // Re-render on every change: the user's own writes and the ones a sync brought.
  manager.on('datasetChanged', async ({ dataset }) => {
    if (dataset === 'settings') render(await settings.getAll())
  })
  settings.onStatus(({ pendingChanges, syncing, lastError }) => {
    document.title = syncing ? 'Syncing…' : pendingChanges > 0 ? `${pendingChanges} unsynced` : 'Saved'
    if (lastError !== null) console.warn(lastError.code, lastError.message)
  })
  await settings.synchronize().catch(() => {}) // offline: the writes wait for the next sync
  return settings
}

export async function setTheme(settings: Dataset, theme: string) {
  await settings.put('theme', theme) // stored locally at once
  await settings.synchronize() // sent now; pushes tell the other devices
}
// #endregion dataset
