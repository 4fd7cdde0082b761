import type { Context } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { encodePushPayload } from 'pushsync/core'
import type { Principal } from '../auth/principal.js'
import type { DatasetChange } from '../push/change.js'
import type { SseConnection, SseHub } from '../push/sse-hub.js'
import type { SyncStore } from '../store/contract.js'
import { authorizeIdentity } from '../sync/access.js'

export interface EventsRequest {
  readonly hub: SseHub
  readonly store: SyncStore
  readonly principal: Principal
  readonly identityPoolId: string
  readonly identityId: string
  /** The client's DeviceId (query `deviceId`): its own writes are not announced to it. */
  readonly deviceId: string | undefined
}

type SyncEvent = Pick<
  DatasetChange,
  'identityPoolId' | 'identityId' | 'datasetName' | 'syncCount' | 'written'
> & { readonly kind?: DatasetChange['kind'] }

/**
 * Largest change (keys and values, UTF-16 code units) sent along with its event: a settings edit
 * fits many times over, while a bulk import is left for the device to pull in pages.
 */
export const MAX_PUSHED_CHANGE_SIZE = 16 * 1024

/**
 * `GET /identitypools/{pool}/identities/{id}/events`: a Server-Sent Events stream of `sync` events,
 * one per committed change of the identity's datasets, with `: ping` comments in between.
 *
 * It opens with one event per existing dataset carrying its current sync count, on every connect:
 * a client that missed changes while disconnected catches up without replaying anything, and one
 * that missed none ignores counts it already has. So `Last-Event-ID` is accepted but not needed.
 *
 * Everything that can fail (authorization, reading the datasets) happens before the stream starts,
 * so refusals are ordinary Cognito-shaped JSON errors rather than a broken stream.
 */
export async function serveEvents(c: Context, request: EventsRequest): Promise<Response> {
  const { hub, identityPoolId, identityId } = request
  authorizeIdentity(request.principal, identityPoolId, identityId)

  // Registered before the datasets are read, so a change committed in between is not lost; until
  // the opening events are written, live ones wait so the stream starts with the snapshot.
  const pending: DatasetChange[] = []
  let deliver: ((change: DatasetChange) => void) | undefined
  let end!: () => void
  const ended = new Promise<void>((resolve) => {
    end = resolve
  })
  const connection: SseConnection = {
    deviceId: request.deviceId === undefined || request.deviceId === '' ? null : request.deviceId,
    send(change) {
      if (deliver === undefined) pending.push(change)
      else deliver(change)
    },
    end,
  }
  const unregister = hub.register(identityPoolId, identityId, connection)

  let datasets: SyncEvent[]
  try {
    const rows = await request.store.transaction((tx) => tx.listDatasets(identityId))
    datasets = rows
      .filter((row) => row.identityPoolId === identityPoolId)
      .map((row) => ({ identityPoolId, identityId, datasetName: row.name, syncCount: row.syncCount }))
  } catch (error) {
    unregister()
    throw error
  }

  const response = streamSSE(c, async (stream) => {
    // One write at a time, in order: concurrent writeSSE calls could interleave.
    let queue = Promise.resolve()
    const enqueue = (write: () => Promise<unknown>) => {
      queue = queue.then(write).then(
        () => {},
        () => {},
      )
    }
    stream.onAbort(end)
    const heartbeat = setInterval(() => enqueue(() => stream.write(': ping\n\n')), hub.heartbeatMs)
    try {
      for (const event of datasets) enqueue(() => writeSync(stream, event))
      deliver = (change) => enqueue(() => writeSync(stream, change))
      for (const change of pending.splice(0)) deliver(change)
      // Queued writes still pending at the end are dropped: a client catches up when it reconnects.
      await ended
    } finally {
      clearInterval(heartbeat)
      unregister()
    }
  })
  // In place of streamSSE's keep-alive: once the server ends a stream (at shutdown) its socket must
  // close too, or the idle kept-alive connection would hold up server.close(). Reusing a connection
  // after a stream is worth nothing, since a stream lasts until one side leaves.
  response.headers.set('connection', 'close')
  return response
}

function writeSync(stream: SSEStreamingApi, event: SyncEvent): Promise<void> {
  return stream.writeSSE({
    event: 'sync',
    id: `${event.datasetName}:${event.syncCount}`,
    data: eventData(event),
  })
}

// One change goes to every connection of its identity: encoded once, not once per connection.
const encoded = new WeakMap<SyncEvent, string>()

function eventData(event: SyncEvent): string {
  const known = encoded.get(event)
  if (known !== undefined) return known
  const { written, kind, identityPoolId, identityId, datasetName, syncCount } = event
  // A deletion says so: a device that holds no copy of the dataset (its own deletion, say) then
  // has nothing to fetch.
  const payload = encodePushPayload(
    {
      source: 'cognito-sync',
      identityPoolId,
      identityId,
      datasetName,
      syncCount,
      ...(kind === 'deleted' ? { deleted: true as const } : {}),
      ...(written === undefined || changeSize(written.records) > MAX_PUSHED_CHANGE_SIZE
        ? {}
        : { changes: { after: written.after, records: written.records } }),
    },
    'json',
  )
  const data = JSON.stringify(payload)
  encoded.set(event, data)
  return data
}

function changeSize(records: readonly { readonly key: string; readonly value: string | null }[]): number {
  let size = 0
  for (const record of records) size += record.key.length + (record.value?.length ?? 0)
  return size
}
