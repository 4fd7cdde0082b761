import type { IncomingMessage } from 'node:http'
import { CognitoError, invalidParameter } from '../errors.js'

/**
 * Reads a request body up to `limit` bytes. A declared length over the limit is refused before
 * reading anything, and an undeclared one as soon as the stream passes the limit, so an oversized
 * body is never buffered whole.
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
 * The same, straight from Node's request stream. On Node the app reads bodies this way: going
 * through the web `Request` would first build one (streams, abort signals) for every request.
 */
export function readIncomingBody(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = incoming.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = () => {
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > limit) {
        // Stop reading but keep the socket: the 413 must still reach the client. The response
        // asks to close the connection, which discards the rest of the body.
        stop()
        incoming.pause()
        reject(tooLarge(limit))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      stop()
      resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks))
    }
    const onError = (error: Error) => {
      stop()
      reject(error)
    }
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onError)
  })
}

function tooLarge(limit: number): CognitoError {
  return new CognitoError('RequestEntityTooLargeException', `The request body exceeds ${limit} bytes`)
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
