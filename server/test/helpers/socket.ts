/**
 * A client of the WebSocket channel (`.../socket`) for tests: sockets opened with a bearer token,
 * operations sent as messages and their answers awaited, events collected.
 */
import { WebSocket } from 'ws'
import type { Identity } from './guest.js'

const WAIT_MS = 5000
const enc = encodeURIComponent

/** Where a socket opens, and on which identity's path (its own unless `identityId` says otherwise). */
export interface SocketTarget {
  readonly pool: string
  readonly identityId?: string
  readonly deviceId?: string
}

export const identityPathIn = (pool: string, identityId: string) =>
  `/identitypools/${enc(pool)}/identities/${enc(identityId)}`

export function socketUrl(who: Identity, target: SocketTarget): string {
  const query = target.deviceId === undefined ? '' : `?deviceId=${enc(target.deviceId)}`
  const path = identityPathIn(target.pool, target.identityId ?? who.identityId)
  return `${who.url.replace(/^http/, 'ws')}${path}/socket${query}`
}

export const bearerProtocol = (token: string) => `pushsync.bearer.${Buffer.from(token).toString('base64url')}`

export interface Received {
  readonly answers: Map<number, { status: number; body: string; retryAfter?: string }>
  readonly events: Array<{ event: string; data: Record<string, unknown> }>
}

/** An open socket, with what it received sorted into answers and events. */
export async function openSocket(
  who: Identity,
  target: SocketTarget,
): Promise<{ ws: WebSocket; received: Received; closed: Promise<number> }> {
  const ws = new WebSocket(socketUrl(who, target), ['pushsync.v1', bearerProtocol(who.token)])
  const received: Received = { answers: new Map(), events: [] }
  ws.on('message', (data) => {
    const message = JSON.parse(String(data))
    if (typeof message.id === 'number') received.answers.set(message.id, message)
    else received.events.push(message)
  })
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return { ws, received, closed }
}

export async function until(condition: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

let nextId = 1
/** A message id no other message of this process has used. */
export const messageId = (): number => nextId++
/** One operation over the socket; resolves with its answer. */
export async function call(
  socket: { ws: WebSocket; received: Received },
  method: string,
  path: string,
  body?: object,
): Promise<{ status: number; body: string; retryAfter?: string }> {
  const id = messageId()
  socket.ws.send(JSON.stringify({ id, method, path, ...(body === undefined ? {} : { body }) }))
  await until(() => socket.received.answers.has(id))
  return socket.received.answers.get(id) as { status: number; body: string }
}
