/**
 * The React guide's entry point: the manager first, then the app under its provider. The Chromium
 * tests start the app this way (test/browser/pages/react-settings.ts).
 */
// #region main
import { SyncProvider } from 'pushsync/react'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { SettingsApp } from './react-settings.js'
import { connectivity, startSync } from './react-sync.js'

export async function mountSettings(element: HTMLElement, endpoint: string): Promise<void> {
  const manager = await startSync(endpoint)
  createRoot(element).render(
    <StrictMode>
      <SyncProvider manager={manager} connectivity={connectivity}>
        <SettingsApp />
      </SyncProvider>
    </StrictMode>,
  )
}
// #endregion main
