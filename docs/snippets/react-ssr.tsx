/**
 * The React guide's server rendering: no manager on the server (its storage is the browser's), so
 * the hooks report loading. test/react/ssr.test.ts runs it in Node; react-hydrate.tsx is the
 * browser's half.
 */
// #region server
import { SyncProvider } from 'pushsync/react'
import { renderToString } from 'react-dom/server'
import { SettingsApp } from './react-settings.js'

export function renderSettingsPage(): string {
  return renderToString(
    <SyncProvider manager={null}>
      <SettingsApp />
    </SyncProvider>,
  )
}
// #endregion server
