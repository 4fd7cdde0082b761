/**
 * The React guide's server rendering, the browser's half: the server's markup (react-ssr.tsx) is
 * hydrated under a provider with the manager, and the hooks then read the datasets.
 */
// #region client
import { SyncProvider } from 'pushsync/react'
import { hydrateRoot } from 'react-dom/client'
import { SettingsApp } from './react-settings.js'
import { connectivity, startSync } from './react-sync.js'

export async function hydrateSettings(element: HTMLElement, endpoint: string): Promise<void> {
  const manager = await startSync(endpoint)
  hydrateRoot(
    element,
    <SyncProvider manager={manager} connectivity={connectivity}>
      <SettingsApp />
    </SyncProvider>,
  )
}
// #endregion client
