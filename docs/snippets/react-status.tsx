/**
 * The React guide's status line and conflict notice, from `useSyncStatus`. The Chromium tests read
 * both on two devices (test/browser/react.test.ts).
 */
// #region status
import { useSyncStatus } from 'pushsync/react'
import { useState } from 'react'

/** "in sync", "syncing…", "offline · 2 pending"... */
export function SyncBadge() {
  const { loading, online, syncing, pendingChanges, lastError } = useSyncStatus('settings')
  let text = 'in sync'
  if (loading) text = '…'
  else if (!online) text = pendingChanges > 0 ? `offline · ${pendingChanges} pending` : 'offline'
  else if (syncing) text = 'syncing…'
  else if (lastError !== null) text = `not synced: ${lastError.code}`
  else if (pendingChanges > 0) text = `${pendingChanges} pending`
  return <p role="status">{text}</p>
}

/** Says when another device changed the same setting meanwhile (the later change was kept). */
export function ConflictNotice() {
  const { lastConflict } = useSyncStatus('settings')
  const [dismissed, setDismissed] = useState(0)
  if (lastConflict === null || lastConflict.id === dismissed) return null
  const keys = lastConflict.conflicts.map((conflict) => conflict.key).join(', ')
  return (
    <div role="alert">
      Changed on another device at the same time: {keys}. The later change was kept.{' '}
      <button type="button" onClick={() => setDismissed(lastConflict.id)}>
        OK
      </button>
    </div>
  )
}
// #endregion status
