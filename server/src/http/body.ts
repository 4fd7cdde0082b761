import type { IncomingMessage } from 'node:http'
import { CognitoError, invalidParameter } from '../errors.js'

/**
 * Reading request bodies without letting a client hold the server's memory: a size limit per
 * request, a byte budget shared by every request being read, and a deadline. Bodies are read only
 * once the request's headers have authenticated it (see app.ts), so these bound what an
 * authenticated client can hold; an unauthenticated one holds nothing.
 */

/** What reading one body may use. */
export interface BodyRules {
  /** Largest body, in bytes; larger ones are refused with 413. */
  readonly limit: number
  /** The budget the body's bytes are taken from while it is read; undefined for none. */
  readonly budget?: BodyBudget | undefined
  /** Milliseconds the whole body may take to arrive; undefined for no deadline. */
  readonly deadlineMs?: number | undefined
}

/**
 * Bytes that may be buffered at once across every request being read. A body takes its declared
 * length up front (or each chunk as it comes, without one) and gives it back when it has been read,
 * refused or abandoned; a request the budget cannot take is refused with 429 and `Retry-After`,
 * which clients retry.
 */
export interface BodyBudget {
  take(bytes: number): boolean
  give(bytes: number): void
  /** Bytes taken right now. */
  inUse(): number
}

export function createBodyBudget(maxBytes: number): BodyBudget {
  let used = 0
  return {
    take(bytes) {
      if (used + bytes > maxBytes) return false
      used += bytes
      return true
    },
    give(bytes) {
      used = Math.max(0, used - bytes)
    },
    inUse: () => used,
  }
}

/** The client went away before its body arrived: nobody is left to answer. */
export class ClientClosedError extends Error {
  override readonly name = 'ClientClosedError'
}

export const tooLarge = (limit: number): CognitoError =>
  new CognitoError('RequestEntityTooLargeException', `The request body exceeds ${limit} bytes`)

const busy = (): CognitoError =>
  new CognitoError('TooManyRequestsException', 'The server is reading too many request bodies; retry', {
    retryAfterSeconds: 1,
  })

const tooSlow = (deadlineMs: number): CognitoError =>
  new CognitoError('RequestTimeoutException', `The request body did not arrive within ${deadlineMs} ms`)

/**
 * Reads a request body from a web `Request` (runtimes other than Node, and `app.fetch` in tests).
 * A declared length over the limit is refused before reading anything, and an undeclared one as
 * soon as the stream passes the limit, so an oversized body is never buffered whole.
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit)
  if (request.body === null) return new Uint8Array(0)
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

/**
 * The same, straight from Node's request stream, under `rules`. On Node the app reads bodies this
 * way: going through the web `Request` would first build one (streams, abort signals) for every
 * request. Rejects with a CognitoError (413, 429, 408) or, when the client hangs up, with
 * {@link ClientClosedError}; a refused body is left unread for {@link refuseUnreadBody}.
 */
export function readIncomingBody(incoming: IncomingMessage, rules: BodyRules): Promise<Uint8Array> {
  const { limit, budget, deadlineMs } = rules
  const header = incoming.headers['content-length']
  const declared = header === undefined ? undefined : Number(header)
  if (declared !== undefined && declared > limit) return Promise.reject(tooLarge(limit))
  if (declared === 0 || (declared === undefined && !hasBody(incoming)))
    return Promise.resolve(new Uint8Array(0))
  let taken = 0
  if (declared !== undefined && budget !== undefined) {
    if (!budget.take(declared)) return Promise.reject(busy())
    taken = declared
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const timer =
      deadlineMs === undefined ? undefined : setTimeout(() => settle(tooSlow(deadlineMs)), deadlineMs)
    const settle = (outcome: Error | Uint8Array) => {
      if (timer !== undefined) clearTimeout(timer)
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onClosed)
      incoming.off('close', onClosed)
      budget?.give(taken)
      if (outcome instanceof Error) {
        // Stop reading but keep the socket: the refusal must still reach the client.
        incoming.pause()
        reject(outcome)
      } else resolve(outcome)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > limit) return settle(tooLarge(limit))
      // Without a declared length, the budget is taken chunk by chunk.
      if (declared === undefined && budget !== undefined) {
        if (!budget.take(chunk.byteLength)) return settle(busy())
        taken += chunk.byteLength
      }
      chunks.push(chunk)
    }
    const onEnd = () =>
      settle(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks))
    const onClosed = () => {
      if (!incoming.complete) settle(new ClientClosedError('The client closed the connection mid-body'))
    }
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onClosed)
    incoming.on('close', onClosed)
  })
}

/** Whether a request without Content-Length has a body at all (a chunked one). */
function hasBody(incoming: IncomingMessage): boolean {
  return incoming.headers['transfer-encoding'] !== undefined
}

/**
 * A request refused while its body is (partly) unread: the refusal is sent as soon as it is made,
 * and the rest of the body is read and thrown away, up to `drainLimit` bytes, so that a client still
 * sending gets to read the answer. (Closing at once would reset the connection under a client still
 * writing, which then reports a network error instead of the refusal.) A body larger than that, or
 * still arriving when the server's request timeout ends the request, has its connection closed.
 */
export function refuseUnreadBody(incoming: IncomingMessage, drainLimit: number): void {
  if (incoming.complete || incoming.destroyed) return
  let drained = 0
  const onData = (chunk: Buffer) => {
    drained += chunk.byteLength
    if (drained > drainLimit) {
      incoming.off('data', onData)
      incoming.socket?.destroy()
    }
  }
  incoming.on('data', onData)
  // Only the socket's failure: an 'error' event without a listener would end the process.
  incoming.on('error', () => {})
  incoming.resume()
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** Any JSON content type is accepted (SDKs send application/json or application/x-amz-json-1.1). */
export function parseJsonBody(body: Uint8Array): unknown {
  if (body.byteLength === 0) return undefined
  let text: string
  try {
    text = decoder.decode(body)
  } catch {
    throw invalidParameter('The request body is not valid UTF-8')
  }
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw invalidParameter('The request body is not valid JSON')
  }
}
