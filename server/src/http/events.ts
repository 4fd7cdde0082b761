import type { ServerResponse } from 'node:http'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { Context } from 'hono'
import { encodePushPayload } from 'pushsync/core'
import type { Principal } from '../auth/principal.js'
import type { DatasetChange } from '../push/change.js'
import type { SseHub } from '../push/sse-hub.js'
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

/** A `sync` event: a committed change, or a dataset's current count in a stream's opening snapshot. */
export type SyncEvent = Pick<
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

  let end!: () => void
  const ended = new Promise<void>((resolve) => {
    end = resolve
  })
  const deviceId = request.deviceId === undefined || request.deviceId === '' ? null : request.deviceId
  const channel = registerLiveChannel(hub, { identityPoolId, identityId, deviceId, end })

  let datasets: SyncEvent[]
  try {
    datasets = await openingEvents(request.store, identityPoolId, identityId)
  } catch (error) {
    channel.unregister()
    throw error
  }

  const stream = openEventStream(c)
  stream.closed.then(end)
  const heartbeat = setInterval(() => stream.write(': ping\n\n'), hub.heartbeatMs)
  for (const event of datasets) stream.write(syncEventText(event))
  channel.open((change) => stream.write(syncEventText(change)))
  ended.then(() => {
    clearInterval(heartbeat)
    channel.unregister()
    stream.end()
  })
  return stream.response
}

/** A live channel's place in the hub: see registerLiveChannel. */
export interface LiveChannel {
  /** From now on changes go to `deliver`, those that came meanwhile first, in order. */
  open(deliver: (change: DatasetChange) => void): void
  unregister(): void
}

/**
 * Registers a live channel (this event stream, the WebSocket) before its opening events are read,
 * so a change committed in between is not lost: changes wait until `open` is given the channel's
 * writer, once the opening events are written, so the channel starts with the snapshot.
 */
export function registerLiveChannel(
  hub: SseHub,
  target: {
    readonly identityPoolId: string
    readonly identityId: string
    /** The channel's device: changes it wrote are not sent back to it. */
    readonly deviceId: string | null
    /** Ends the channel (the hub closes). */
    readonly end: () => void
  },
): LiveChannel {
  const pending: DatasetChange[] = []
  let deliver: ((change: DatasetChange) => void) | undefined
  const unregister = hub.register(target.identityPoolId, target.identityId, {
    deviceId: target.deviceId,
    send(change) {
      if (deliver === undefined) pending.push(change)
      else deliver(change)
    },
    end: target.end,
  })
  return {
    open(writer) {
      deliver = writer
      for (const change of pending.splice(0)) writer(change)
    },
    unregister,
  }
}

/**
 * What a live channel (this event stream, the WebSocket) opens with: one event per existing dataset
 * of the identity in the pool, carrying its current sync count.
 */
export async function openingEvents(
  store: SyncStore,
  identityPoolId: string,
  identityId: string,
): Promise<SyncEvent[]> {
  const rows = await store.transaction((tx) => tx.listDatasets(identityId))
  return rows
    .filter((row) => row.identityPoolId === identityPoolId)
    .map((row) => ({ identityPoolId, identityId, datasetName: row.name, syncCount: row.syncCount }))
}

/** `sync` events are written as they come; this many bytes unsent to a client means it stopped reading. */
export const MAX_UNSENT_EVENT_BYTES = 1024 * 1024

interface EventStream {
  readonly response: Response
  /** Queues text on the stream; a stream that has ended ignores it. */
  write(text: string): void
  /** Ends the stream from the server's side. */
  end(): void
  /** Settles when the stream ended, from either side. */
  readonly closed: Promise<void>
}

const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // Once the server ends a stream (at shutdown) its socket must close too, or the idle kept-alive
  // connection would hold up server.close(). Reusing a connection after a stream is worth nothing,
  // since a stream lasts until one side leaves.
  connection: 'close',
  // Proxies such as nginx would otherwise hold events back to fill a buffer.
  'x-accel-buffering': 'no',
}

/**
 * Under Node the events are written straight to the response: an event reaches the socket in the
 * same tick as the commit that made it, where a web stream piped into Node's response takes several
 * turns of the event loop per chunk (0.6 ms on loopback) and keeps more memory per connection.
 * Without Node's response (the web-standard handler) it is a ReadableStream.
 */
function openEventStream(c: Context): EventStream {
  let close!: () => void
  const closed = new Promise<void>((resolve) => {
    close = resolve
  })
  const headers = new Headers(c.res.headers)
  for (const [name, value] of Object.entries(STREAM_HEADERS)) headers.set(name, value)

  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
  if (outgoing !== undefined) {
    const record: Record<string, string> = {}
    headers.forEach((value, name) => {
      record[name] = value
    })
    outgoing.writeHead(200, record)
    outgoing.flushHeaders()
    outgoing.on('close', close)
    let ended = false
    return {
      response: new Response(null, RESPONSE_ALREADY_SENT),
      write(text) {
        if (ended) return
        // A client that reads nothing would make Node buffer every event for it: past the cap it is
        // let go, and catches up from the counts sent on its next connect.
        if (outgoing.writableLength > MAX_UNSENT_EVENT_BYTES) {
          ended = true
          outgoing.destroy()
          return
        }
        outgoing.write(text)
        // Node corks a response's socket on write and uncorks it on the next tick, which comes only
        // once the writer's request has run its course (its answer, its other transactions): an
        // event would wait for all that. It is complete, so it goes now.
        outgoing.socket?.uncork()
      },
      end() {
        if (ended) return
        ended = true
        outgoing.end()
      },
      closed,
    }
  }

  const encoder = new TextEncoder()
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  const body = new ReadableStream<Uint8Array>(
    {
      start(streamController) {
        controller = streamController
      },
      // The client went away: nothing may be queued or closed on the stream after this.
      cancel() {
        controller = undefined
        close()
      },
      // Counted in bytes, so `desiredSize` says how much the client has left unread.
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
  )
  return {
    response: new Response(body, { status: 200, headers }),
    write(text) {
      if (controller === undefined) return
      if ((controller.desiredSize ?? 0) < -MAX_UNSENT_EVENT_BYTES) {
        controller.error(new Error('the client stopped reading'))
        controller = undefined
        close()
        return
      }
      controller.enqueue(encoder.encode(text))
    },
    end() {
      controller?.close()
      controller = undefined
      close()
    },
    closed,
  }
}

function syncEventText(event: SyncEvent): string {
  return `event: sync\nid: ${event.datasetName}:${event.syncCount}\ndata: ${eventData(event)}\n\n`
}

// One change goes to every connection of its identity: encoded once, not once per connection.
const encoded = new WeakMap<SyncEvent, string>()

/** The JSON text of an event's data: the push payload, with the change when it is small enough. */
export function eventData(event: SyncEvent): string {
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
