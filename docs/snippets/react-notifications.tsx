/**
 * The React guide's typed dataset: notification switches kept as booleans, checked by a zod schema
 * (any Standard Schema works), with `useDataset`.
 */
// #region typed
import { useDataset } from 'pushsync/react'
import { z } from 'zod'

// Defined once, outside the component: every component given this schema shares one handle.
const Enabled = z.boolean()
const CHANNELS = { email: 'Email', push: 'Push', digest: 'Weekly digest' }

export function NotificationSwitches() {
  // Each record of `notifications` is one switch; its value is JSON the schema checks.
  const notifications = useDataset('notifications', { schema: Enabled })
  if (notifications.status === 'error') return <p>Notifications: {notifications.error.message}</p>
  if (notifications.status === 'loading') return <p>Loading notifications…</p>
  const { values, dataset } = notifications
  return (
    <fieldset>
      <legend>Notifications</legend>
      {Object.entries(CHANNELS).map(([channel, label]) => (
        <label key={channel}>
          <input
            type="checkbox"
            checked={values[channel] ?? false}
            onChange={(event) => dataset.put(channel, event.target.checked)}
          />
          {label}
        </label>
      ))}
    </fieldset>
  )
}
// #endregion typed
