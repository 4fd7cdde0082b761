import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ServerLogger } from '../../src/ops/logger.js'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../../src/server.js'

/**
 * How the server takes requests in over real sockets: the headers authenticate a request before a
 * byte of its body is read; bodies are read under a deadline and a byte budget shared by all
 * requests; connections are capped; a client that hangs up is one debug line; a refusal reaches a
 * client that is still sending.
 */

const POOL = 'us-east-1:1a7a0000-0000-4000-8000-0000000000aa'
let server: SyncServer | undefined
let sockets: Socket[] = []

afterEach(async () => {
  for (const socket of sockets) socket.destroy()
  sockets = []
  await server?.close()
  server = undefined
})

interface Line {
  level: string
  fields: Record<string, unknown>
  message: string | undefined
}

/** A logger that keeps every line, with its level. */
function capturingLogger(): { logger: ServerLogger; lines: Line[] } {
  const lines: Line[] = []
  const at =
    (level: string) =>
    (fields: object, message?: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message })
    }
  return {
    lines,
    logger: {
      fatal: at('fatal'),
      error: at('error'),
      warn: at('warn'),
      info: at('info'),
      debug: at('debug'),
      trace: at('trace'),
    },
  }
}

async function start(options: SyncServerOptions = {}): Promise<{ port: number; url: string }> {
  server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    tokenSecret: 'intake',
    ...options,
  })
  const { port, url } = await server.listen(0)
  return { port, url }
}

/** A guest identity of the server and its bearer header. */
async function guest(url: string): Promise<{ identityId: string; authorization: string }> {
  const call = async (target: string, body: object) =>
    (await (
      await fetch(`${url}/`, {
        method: 'POST',
        headers: { 'x-amz-target': `AWSCognitoIdentityService.${target}` },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, unknown>
  const { IdentityId } = await call('GetId', { IdentityPoolId: POOL })
  const { Credentials } = (await call('GetCredentialsForIdentity', { IdentityId })) as {
    Credentials: { SessionToken: string }
  }
  return { identityId: String(IdentityId), authorization: `Bearer ${Credentials.SessionToken}` }
}

const datasetPath = (identityId: string, dataset = 'intake') =>
  `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(identityId)}/datasets/${dataset}`

/** A raw connection: what it was sent is up to the test; `answer` is the first response's head and body. */
function open(port: number): Promise<{ socket: Socket; answer: Promise<string>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      let received = ''
      const answer = new Promise<string>((settle) => {
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1')
          const end = received.indexOf('\r\n\r\n')
          if (end < 0) return
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(received.slice(0, end))?.[1] ?? 0)
          if (received.length >= end + 4 + length) settle(received.slice(0, end + 4 + length))
        })
        socket.on('close', () => settle(received))
      })
      const closed = new Promise<void>((settle) => socket.on('close', () => settle()))
      resolve({ socket, answer, closed })
    })
    sockets.push(socket)
    socket.on('error', () => {})
    socket.once('error', reject)
  })
}

const head = (method: string, path: string, headers: Record<string, string | number>) =>
  `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`

const statusOf = (answer: string) => Number(answer.slice(9, 12))
const errorTypeOf = (answer: string) => /\r\nx-amzn-errortype: *(\S+)/i.exec(answer)?.[1]

describe('authentication before the body', () => {
  it('refuses a request its headers do not authenticate while its body has not been sent at all', async () => {
    const { port } = await start()
    const path = datasetPath('us-east-1:00000000-0000-4000-8000-000000000001')
    for (const authorization of [
      undefined,
      'Bearer not-a-token',
      'AWS4-HMAC-SHA256 Credential=nope',
      'AWS4-HMAC-SHA256 Credential=AKIDX/20000101/us-east-1/cognito-sync/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
    ]) {
      const { socket, answer } = await open(port)
      // Eight megabytes announced, none sent: a server that waited for them would never answer.
      socket.write(
        head('POST', path, {
          'content-type': 'application/json',
          'content-length': 8_000_000,
          ...(authorization === undefined ? {} : { authorization }),
        }),
      )
      const text = await answer
      expect(statusOf(text), text).toBe(403)
      expect(errorTypeOf(text)).toBe('NotAuthorizedException')
    }
  })

  it("refuses an identity's credentials on another identity's path before its body", async () => {
    const { port, url } = await start()
    const { authorization } = await guest(url)
    const { socket, answer } = await open(port)
    socket.write(
      head('POST', datasetPath('us-east-1:00000000-0000-4000-8000-000000000002'), {
        authorization,
        'content-length': 8_000_000,
      }),
    )
    const text = await answer
    expect(statusOf(text)).toBe(403)
    expect(errorTypeOf(text)).toBe('NotAuthorizedException')
  })
})

describe('bodies of authenticated requests', () => {
  it('must arrive before the request timeout, or get 408', async () => {
    const { port, url } = await start({ requestTimeoutMs: 1000, headersTimeoutMs: 1000 })
    const { identityId, authorization } = await guest(url)
    const { socket, answer } = await open(port)
    socket.write(head('POST', datasetPath(identityId), { authorization, 'content-length': 1000 }))
    socket.write('{"SyncSessionToken":')
    const text = await answer
    expect(statusOf(text)).toBe(408)
  })

  it('share a byte budget: a body that does not fit gets 429 with Retry-After, and fits once another is done', async () => {
    const { port, url } = await start({ maxBufferedBytes: 100_000, bodyLimit: 80_000 })
    const { identityId, authorization } = await guest(url)
    // The first body takes 70,000 bytes of the budget and stalls.
    const first = await open(port)
    first.socket.write(head('POST', datasetPath(identityId), { authorization, 'content-length': 70_000 }))
    first.socket.write(' ')
    await sleep(50)
    const second = await open(port)
    second.socket.write(head('POST', datasetPath(identityId), { authorization, 'content-length': 40_000 }))
    const refused = await second.answer
    expect(statusOf(refused)).toBe(429)
    expect(errorTypeOf(refused)).toBe('TooManyRequestsException')
    expect(refused).toMatch(/\r\nretry-after: 1\r\n/i)
    // The first body arrives (blanks: no JSON), and gives its bytes back.
    first.socket.write(' '.repeat(69_999))
    expect(statusOf(await first.answer)).toBe(400)
    const third = await open(port)
    third.socket.write(head('POST', datasetPath(identityId), { authorization, 'content-length': 40_000 }))
    third.socket.write(' '.repeat(40_000))
    const read = await third.answer
    expect(statusOf(read)).toBe(400)
    expect(errorTypeOf(read)).toBe('InvalidParameterException')
  })
})

describe('connections', () => {
  it('are capped: one past the cap is closed without an answer', async () => {
    const { port } = await start({ maxConnections: 3 })
    const held = await Promise.all([open(port), open(port), open(port)])
    // The three are served (a keep-alive request each) and stay open.
    for (const { socket, answer } of held) {
      socket.write(head('GET', '/healthz', {}))
      expect(statusOf(await answer)).toBe(200)
    }
    const extra = await open(port)
    extra.socket.write(head('GET', '/healthz', {}))
    await extra.closed
    expect(await extra.answer).toBe('')
  })

  it('are closed when their headers do not arrive in time', async () => {
    const { port } = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 1000 })
    const { socket, closed, answer } = await open(port)
    socket.write('POST / HTTP/1.1\r\nhost: 127.0.0.1\r\n')
    await closed
    const text = await answer
    expect(text === '' || statusOf(text) === 408).toBe(true)
  })
})

describe('a client that hangs up mid-body', () => {
  it('is one debug line: no error, no stack, no onError', async () => {
    const { logger, lines } = capturingLogger()
    const errors: unknown[] = []
    const { port, url } = await start({ logger, onError: (error) => errors.push(error) })
    const { identityId, authorization } = await guest(url)
    lines.length = 0
    for (let i = 0; i < 5; i++) {
      const { socket } = await open(port)
      socket.write(head('POST', datasetPath(identityId), { authorization, 'content-length': 1000 }))
      socket.write('{"SyncSessionToken":')
      await sleep(20)
      socket.destroy()
    }
    await vi.waitUntil(() => lines.length >= 5, { timeout: 5000 })
    await sleep(50)
    expect(lines).toHaveLength(5)
    for (const line of lines) {
      expect(line.level).toBe('debug')
      expect(line.message).toBe('client closed the connection mid-request')
      expect(JSON.stringify(line.fields)).not.toMatch(/stack|aborted|ECONNRESET/)
    }
    expect(errors).toEqual([])
  })
})

describe('a refusal while the client is still sending', () => {
  it('is read by fetch, for a body over the limit and for one without credentials', async () => {
    const { url } = await start({ bodyLimit: 64 * 1024 })
    const { identityId, authorization } = await guest(url)
    const body = JSON.stringify({
      SyncSessionToken: 'x',
      RecordPatches: [],
      pad: 'x'.repeat(2 * 1024 * 1024),
    })
    const outcomes: string[] = []
    for (let i = 0; i < 20; i++) {
      for (const headers of [{ authorization }, {}]) {
        try {
          const response = await fetch(`${url}${datasetPath(identityId)}`, { method: 'POST', headers, body })
          outcomes.push(`${response.status} ${response.headers.get('x-amzn-errortype')}`)
          await response.text()
        } catch (error) {
          outcomes.push(`failed: ${String((error as Error).cause ?? error)}`)
        }
      }
    }
    expect(outcomes).toEqual(
      Array.from({ length: 20 }, () => [
        '413 RequestEntityTooLargeException',
        '403 NotAuthorizedException',
      ]).flat(),
    )
  })
})
