/**
 * The React guide's typed dataset: notification switches kept as booleans, checked by a zod schema
 * (any Standard Schema works): `useRecord` for each switch, `useDataset` for the summary.
 */
// #region typed
import { useDataset, useRecord } from 'pushsync/react'
import { z } from 'zod'

// Defined once, outside the components: every component given this schema shares one handle.
const Enabled = z.boolean()
const CHANNELS = { email: 'Email', push: 'Push', digest: 'Weekly digest' }

/** One switch: a record of `notifications` whose value is JSON the schema checks. */
function Switch({ channel, label }: { channel: string; label: string }) {
  const [enabled = false, setEnabled] = useRecord('notifications', channel, { schema: Enabled })
  return (
    <label>
      <input type="checkbox" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} />
      {label}
    </label>
  )
}

export function NotificationSwitches() {
  // Every value of the dataset, typed by the schema: here, how many switches are on.
  const notifications = useDataset('notifications', { schema: Enabled })
  if (notifications.status === 'error') return <p>Notifications: {notifications.error.message}</p>
  const on = Object.values(notifications.values ?? {}).filter(Boolean).length
  return (
    <fieldset>
      <legend>Notifications {notifications.loading ? '' : `(${on} on)`}</legend>
      {Object.entries(CHANNELS).map(([channel, label]) => (
        <Switch key={channel} channel={channel} label={label} />
      ))}
    </fieldset>
  )
}
// #endregion typed
