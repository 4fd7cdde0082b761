import type { RemoteRecord } from '../../core/model.js'
import { encodePushPayload, type PushPayloadPlatform, type PushSyncUpdate } from '../../core/push-payload.js'

/**
 * How a device receives pushes: one of the payload shapes of `encodePushPayload`, or `sse`, the
 * JSON shape as the text of an event stream's `data` (what pushsync-server's SSE channel sends).
 * Only the JSON shapes carry the change itself; the others make the device synchronize.
 */
export type PushChannel = PushPayloadPlatform | 'sse'

/** Every push channel, for arbitraries that pick one per device. */
export const PUSH_CHANNELS: readonly PushChannel[] = ['json', 'sse', 'flat-strings', 'apns']

/** The identity, pool and dataset a simulation (or a test of the engine) syncs. */
export interface DatasetAddress {
  readonly identityPoolId: string
  readonly identityId: string
  readonly datasetName: string
}

/**
 * The push the server sends the other devices after it stored `records` (one UpdateRecords, all
 * at the same new sync count), carrying the change as pushsync-server's live channel does.
 */
export function pushOfUpdate(address: DatasetAddress, records: readonly RemoteRecord[]): PushSyncUpdate {
  const syncCount = Math.max(...records.map((record) => record.syncCount))
  return {
    source: 'cognito-sync',
    ...address,
    syncCount,
    changes: { after: syncCount - 1, records },
  }
}

/** The push the server sends the other devices after a DeleteDataset took `syncCount`. */
export function pushOfDeletion(address: DatasetAddress, syncCount: number): PushSyncUpdate {
  return { source: 'cognito-sync', ...address, syncCount, deleted: true }
}

/** The payload a device on `channel` receives for `update`: what its platform hands the app. */
export function encodeForChannel(update: PushSyncUpdate, channel: PushChannel): unknown {
  if (channel === 'sse') return JSON.stringify(encodePushPayload(update, 'json'))
  return encodePushPayload(update, channel)
}
