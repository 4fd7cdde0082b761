/**
 * One guest identity for every device of the demo: the first page to need it signs in with Cognito
 * Identity's GetId and GetCredentialsForIdentity (on the server's `POST /`) and keeps the identity
 * id and its session token in localStorage, which every frame of the same origin shares. The
 * session token is the HTTP transport's and the SSE source's bearer token.
 */

/** The demo's identity pool; the server accepts guests of any pool when it allows them. */
export const POOL = 'us-east-1:de770000-5e1f-4000-8000-00000000de70'

const STORAGE_KEY = 'pushsync-demo:identity'
const LOCK = 'pushsync-demo:sign-in'
/** A token is replaced this long before it expires. */
const REFRESH_MARGIN_MS = 5 * 60_000

interface StoredIdentity {
  readonly identityId: string
  readonly token: string
  /** Epoch milliseconds. */
  readonly expiresAt: number
}

export interface Session {
  readonly identityId: string
  /** The bearer token, refreshed when it is about to expire. */
  token(): Promise<string>
}

/** The identity stored for this origin, if any. */
export function storedIdentityId(): string | undefined {
  return readStored()?.identityId
}

/** Forgets the identity: the next page to sign in makes a new one. */
export function forgetIdentity(): void {
  localStorage.removeItem(STORAGE_KEY)
}

/** The identity of every frame: the stored one, or a new guest identity when there is none yet. */
export async function signIn(endpoint: string): Promise<Session> {
  const { identityId } = await exclusively(() => current(endpoint, undefined))
  return {
    identityId,
    async token() {
      const stored = readStored()
      if (stored?.identityId === identityId && usable(stored)) return stored.token
      return (await exclusively(() => current(endpoint, identityId))).token
    },
  }
}

/**
 * Frames load at once: without a lock each would sign in on its own and get an identity of its
 * own. The Web Locks API serialises them across the frames (and tabs) of the origin.
 */
async function exclusively<T>(run: () => Promise<T>): Promise<T> {
  const locks = (navigator as Partial<Navigator>).locks
  if (locks === undefined) return run()
  let result: { value: T } | undefined
  await locks.request(LOCK, async () => {
    result = { value: await run() }
  })
  if (result === undefined) throw new Error('the sign-in lock was released without signing in')
  return result.value
}

async function current(endpoint: string, identityId: string | undefined): Promise<StoredIdentity> {
  const stored = readStored()
  if (
    stored !== undefined &&
    (identityId === undefined || stored.identityId === identityId) &&
    usable(stored)
  )
    return stored
  const known = identityId ?? stored?.identityId
  let next: StoredIdentity | undefined
  if (known !== undefined) {
    // The server may have lost the identity (another database file): then a new one is made.
    next = await credentials(endpoint, known).catch((error: unknown) => {
      if (identityId !== undefined) throw error
      return undefined
    })
  }
  if (next === undefined) {
    const { IdentityId } = await identityCall(endpoint, 'GetId', { IdentityPoolId: POOL })
    if (typeof IdentityId !== 'string') throw new Error('GetId answered no IdentityId')
    next = await credentials(endpoint, IdentityId)
  }
  // A frame still on an identity that was replaced does not bring it back for the others.
  const latest = readStored()
  if (latest === undefined || latest.identityId === next.identityId)
    localStorage.setItem(STORAGE_KEY, JSON.stringify(next))
  return next
}

async function credentials(endpoint: string, identityId: string): Promise<StoredIdentity> {
  const { Credentials } = await identityCall(endpoint, 'GetCredentialsForIdentity', {
    IdentityId: identityId,
  })
  const { SessionToken, Expiration } = (Credentials ?? {}) as { SessionToken?: unknown; Expiration?: unknown }
  if (typeof SessionToken !== 'string' || typeof Expiration !== 'number')
    throw new Error('GetCredentialsForIdentity answered no credentials')
  // Cognito Identity's wire carries the expiration in epoch seconds.
  return { identityId, token: SessionToken, expiresAt: Expiration * 1000 }
}

/** One Cognito Identity operation: AWS JSON 1.1 on `POST /`, as the AWS SDKs send it. */
async function identityCall(endpoint: string, operation: string, body: object) {
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${operation}`,
    },
    body: JSON.stringify(body),
  })
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>
  if (!response.ok)
    throw new Error(
      `${operation} failed: ${String(answer.__type ?? response.status)} ${String(answer.message ?? '')}`,
    )
  return answer
}

function usable(stored: StoredIdentity): boolean {
  return stored.expiresAt - REFRESH_MARGIN_MS > Date.now()
}

function readStored(): StoredIdentity | undefined {
  try {
    const value = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<StoredIdentity> | null
    if (
      typeof value?.identityId === 'string' &&
      typeof value.token === 'string' &&
      typeof value.expiresAt === 'number'
    )
      return { identityId: value.identityId, token: value.token, expiresAt: value.expiresAt }
  } catch {
    // Not ours or damaged: signed in again.
  }
  return undefined
}
