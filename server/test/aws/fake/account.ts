import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { createServer as createHttp2Server, type Http2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { checkSignature } from './sigv4.js'

/**
 * One AWS account as the fake services see it: IAM users with long-term keys, roles with a trust
 * policy (who may assume them) and the actions they allow, and the temporary credentials STS issued.
 * Every fake service authenticates a request against it: a valid SigV4 signature, a session token
 * that goes with its key, credentials that have not expired, and an action the role allows.
 */
export const ACCOUNT_ID = '123456789012'

export interface FakeUser {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly arn: string
}

export interface FakeRole {
  readonly arn: string
  /** ARNs of the users the trust policy lets assume it. */
  readonly trusts: ReadonlySet<string>
  /** Actions (`sns:Publish`, `kinesis:PutRecord`...) its policy allows; `*` allows all. */
  readonly allows: ReadonlySet<string>
}

interface Session {
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly roleArn: string
  expiresAt: number
}

export type Caller =
  | { readonly ok: true; readonly arn: string; readonly region: string; readonly roleArn: string | undefined }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string }

export class FakeAccount {
  readonly users = new Map<string, FakeUser>()
  readonly roles = new Map<string, FakeRole>()
  readonly #sessions = new Map<string, Session>()
  /** Every AssumeRole STS answered, in order. */
  readonly assumed: Array<{ readonly roleArn: string; readonly by: string; readonly sessionName: string }> =
    []

  addUser(name: string): FakeUser {
    const user = {
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(20).toString('base64'),
      arn: `arn:aws:iam::${ACCOUNT_ID}:user/${name}`,
    }
    this.users.set(user.accessKeyId, user)
    return user
  }

  addRole(name: string, trusts: readonly FakeUser[], allows: readonly string[]): FakeRole {
    const role = {
      arn: `arn:aws:iam::${ACCOUNT_ID}:role/${name}`,
      trusts: new Set(trusts.map((user) => user.arn)),
      allows: new Set(allows),
    }
    this.roles.set(role.arn, role)
    return role
  }

  /** Issues temporary credentials for a role, as STS does. */
  issue(roleArn: string, seconds: number, now = Date.now()) {
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`
    const session: Session = {
      secretAccessKey: randomBytes(20).toString('base64'),
      sessionToken: randomBytes(48).toString('base64'),
      roleArn,
      expiresAt: now + seconds * 1000,
    }
    this.#sessions.set(accessKeyId, session)
    return { accessKeyId, ...session }
  }

  /** Makes every session issued so far expired, as time would. */
  expireSessions(): void {
    for (const session of this.#sessions.values()) session.expiresAt = 0
  }

  /** The keys of the sessions issued for a role (the ones a service saw it sign with). */
  sessionKeys(roleArn: string): string[] {
    return [...this.#sessions].filter(([, s]) => s.roleArn === roleArn).map(([key]) => key)
  }

  /**
   * Who signed a request for `service`, if it may do `action`: errors as AWS words them. `roleOnly`:
   * only a role's temporary credentials are accepted (the services the server calls as a pool's role).
   */
  authenticate(
    request: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer },
    service: string,
    action: string,
  ): Caller {
    const check = checkSignature(
      request,
      (key) => this.users.get(key)?.secretAccessKey ?? this.#sessions.get(key)?.secretAccessKey,
    )
    if (!check.ok) return { ok: false, status: 403, code: check.code, message: check.message }
    const { signedBy } = check
    if (signedBy.service !== service)
      return {
        ok: false,
        status: 403,
        code: 'SignatureDoesNotMatch',
        message: `Credential should be scoped to correct service: '${service}'.`,
      }
    const user = this.users.get(signedBy.accessKeyId)
    if (user !== undefined) {
      if (signedBy.sessionToken !== undefined)
        return {
          ok: false,
          status: 403,
          code: 'InvalidClientTokenId',
          message: 'The security token included in the request is invalid.',
        }
      return { ok: true, arn: user.arn, region: signedBy.region, roleArn: undefined }
    }
    const session = this.#sessions.get(signedBy.accessKeyId)
    if (session === undefined || signedBy.sessionToken !== session.sessionToken)
      return {
        ok: false,
        status: 403,
        code: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
      }
    if (Date.now() >= session.expiresAt)
      return {
        ok: false,
        status: 403,
        code: 'ExpiredToken',
        message: 'The security token included in the request is expired',
      }
    const role = this.roles.get(session.roleArn)
    const arn = `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${session.roleArn.split('/').pop()}/pushsync-server`
    if (role === undefined || !(role.allows.has('*') || role.allows.has(action)))
      return {
        ok: false,
        status: 403,
        code: 'AuthorizationError',
        message: `User: ${arn} is not authorized to perform: ${action}`,
      }
    return { ok: true, arn, region: signedBy.region, roleArn: session.roleArn }
  }
}

/** A request as the fakes read it. */
export interface FakeRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

export interface FakeResponse {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body: string | Buffer
}

export interface FakeServer {
  readonly url: string
  /** Every request, with what it asked and how it was answered. */
  readonly log: Array<{ readonly action: string; readonly status: number }>
  close(): Promise<void>
}

/**
 * An HTTP server on 127.0.0.1 answering with `handle`; a thrown error is a 500. `http2`: cleartext
 * HTTP/2, as the AWS SDK's Kinesis client speaks it (Kinesis serves HTTP/2), with `:authority` read
 * as the `host` the request was signed with.
 */
export async function serveFake(
  handle: (request: FakeRequest) => Promise<FakeResponse> | FakeResponse,
  log: Array<{ action: string; status: number }>,
  options: { readonly http2?: boolean } = {},
): Promise<FakeServer> {
  type Incoming = {
    method?: string | undefined
    url?: string | undefined
    headers: IncomingHttpHeaders
    on(event: 'data', listener: (chunk: Buffer) => void): unknown
    on(event: 'end', listener: () => void): unknown
  }
  type Outgoing = {
    writeHead(status: number, headers: Record<string, string>): unknown
    end(body: string | Buffer): unknown
  }
  const listener = (request: Incoming, response: Outgoing) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const headers = { ...request.headers }
      if (headers.host === undefined && typeof headers[':authority'] === 'string')
        headers.host = headers[':authority']
      const fake = {
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers,
        body: Buffer.concat(chunks),
      }
      Promise.resolve()
        .then(() => handle(fake))
        .catch((error: unknown): FakeResponse => ({ status: 500, body: String(error) }))
        .then((answer) => {
          response.writeHead(answer.status, answer.headers ?? {})
          response.end(answer.body)
        })
    })
  }
  const sessions = new Set<Http2Session>()
  const server = options.http2 === true ? createHttp2Server(listener) : createServer(listener)
  server.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections()
        for (const session of sessions) session.destroy()
        server.close(() => resolve())
      }),
  }
}
