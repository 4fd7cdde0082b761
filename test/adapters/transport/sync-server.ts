/**
 * What the transport tests share: pushsync-server started in this process on a free port, Cognito
 * Identity credentials from it, and an address where nothing listens.
 */
import { createServer } from 'node:net'
import { createSyncServer } from '../../../server/src/server.js'

export const REGION = 'us-east-1'
export const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
export const ADMIN = { accessKeyId: 'AKIDADMINEXAMPLE0001', secretAccessKey: 'admin-secret-for-tests' }

export interface RunningSyncServer {
  readonly url: string
  close(): Promise<void>
}

export async function startSyncServer(): Promise<RunningSyncServer> {
  const server = await createSyncServer({
    db: ':memory:',
    allowUnauthenticated: true,
    adminKeys: [ADMIN],
    tokenSecret: 'transport-tests-token-secret',
  })
  const { url } = await server.listen(0)
  return { url, close: () => server.close() }
}

/**
 * A new guest identity and its credentials, through Cognito Identity's JSON 1.1 endpoint (`GetId`,
 * then `GetCredentialsForIdentity`), as a browser without the AWS SDK would get them.
 */
export async function newIdentity(url: string): Promise<{ identityId: string; sessionToken: string }> {
  const { IdentityId } = (await identityCall(url, 'GetId', { IdentityPoolId: POOL })) as {
    IdentityId: string
  }
  const { Credentials } = (await identityCall(url, 'GetCredentialsForIdentity', {
    IdentityId,
  })) as { Credentials: { SessionToken: string } }
  return { identityId: IdentityId, sessionToken: Credentials.SessionToken }
}

async function identityCall(url: string, operation: string, body: object): Promise<unknown> {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${operation}`,
    },
    body: JSON.stringify(body),
  })
  if (!response.ok) throw new Error(`${operation}: HTTP ${response.status} ${await response.text()}`)
  return response.json()
}

/** `http://127.0.0.1:<port>` of a port that was just free: connecting to it is refused. */
export async function closedUrl(): Promise<string> {
  const server = createServer()
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : 0)
    })
  })
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}
