/**
 * The React guide's settings app, put together. The Chromium tests run it on two devices against
 * pushsync-server (test/browser/react.test.ts), and test/react/ssr.test.ts renders it in Node.
 */
// #region app

import { NotificationSwitches } from './react-notifications.js'
import { LanguagePicker, ThemePicker } from './react-records.js'
import { ConflictNotice, SyncBadge } from './react-status.js'

export function SettingsApp() {
  return (
    <main>
      <h1>Settings</h1>
      <SyncBadge />
      <ConflictNotice />
      <ThemePicker />
      <LanguagePicker />
      <NotificationSwitches />
    </main>
  )
}
// #endregion app
