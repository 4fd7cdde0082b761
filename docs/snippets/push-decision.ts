/** The push-sync decision of the core, on its own: no server, no storage. */
import { decidePushSync, encodePushPayload, type PushDecision, parsePushPayload } from 'pushsync/core'

export function pushDecisions(): { decisions: PushDecision[]; datasetName: string | undefined } {
  // #region decide
  const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
  const identityId = 'us-east-1:6f3c8a4e-1d2b-4c5d-9e8f-0a1b2c3d4e5f'
  const update = { source: 'cognito-sync', identityPoolId, identityId, datasetName: 'settings' } as const

  // FCM data: every value a string, as Cognito sent it.
  const fcmData = encodePushPayload({ ...update, syncCount: 7 }, 'flat-strings')
  // { source: 'cognito-sync', ..., datasetName: 'settings', syncCount: '7' }
  const parsed = parsePushPayload(fcmData)
  const datasetName = parsed.ok ? parsed.value.datasetName : undefined // 'settings'

  // The device holds count 7 of `settings`.
  const device = { identityPoolId, identityId, lastSyncCount: 7, syncing: false }
  const decisions = [
    decidePushSync(device, fcmData), // ignore (stale): the device has it already
    decidePushSync(device, encodePushPayload({ ...update, syncCount: 8 }, 'json')), // sync
    decidePushSync({ ...device, syncing: true }, { ...update, syncCount: 9 }), // coalesce
    decidePushSync(device, { source: 'my-app', type: 'chat' }), // ignore (not-cognito-sync)
  ]
  // #endregion decide
  return { decisions, datasetName }
}
