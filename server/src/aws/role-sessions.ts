import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts'

/** Temporary credentials of an assumed role, as STS issued them. */
export interface RoleCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  /** Epoch milliseconds. */
  readonly expiresAt: number
}

/** The session name the role's CloudTrail entries show for the server's calls. */
export const ROLE_SESSION_NAME = 'pushsync-server'
/** An hour, what STS grants any role unless its maximum session duration is lowered. */
const SESSION_SECONDS = 3600
/**
 * Credentials are renewed this long before they expire, so that no call signs with a session that
 * lapses in flight (the AWS SDK's own credential providers keep the same five minutes).
 */
export const RENEW_BEFORE_EXPIRY_MS = 5 * 60 * 1000

export interface RoleSessions {
  /** The role's credentials, assumed once and reused until shortly before they expire. */
  get(roleArn: string, region: string): Promise<RoleCredentials>
  /** Drops `credentials` (AWS refused them): the next `get` assumes the role again. */
  discard(roleArn: string, credentials: RoleCredentials): void
}

/**
 * Assumed roles, one session per role ARN however many regions and pools use it. Calls that arrive
 * while a role is being assumed wait for that one AssumeRole instead of starting their own.
 */
export function createRoleSessions(options: {
  readonly sts: (region: string) => STSClient
  readonly now: () => number
  readonly timeoutMs: number
}): RoleSessions {
  interface Session {
    readonly pending: Promise<RoleCredentials>
    /** Set once the AssumeRole answered, so that `discard` can compare synchronously. */
    credentials?: RoleCredentials
  }
  const sessions = new Map<string, Session>()

  const assume = async (roleArn: string, region: string): Promise<RoleCredentials> => {
    const answer = await options.sts(region).send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: ROLE_SESSION_NAME,
        DurationSeconds: SESSION_SECONDS,
      }),
      { abortSignal: AbortSignal.timeout(options.timeoutMs) },
    )
    const issued = answer.Credentials
    if (
      issued?.AccessKeyId === undefined ||
      issued.SecretAccessKey === undefined ||
      issued.SessionToken === undefined
    ) {
      throw new Error(`STS answered AssumeRole of ${roleArn} without credentials`)
    }
    const expiration = issued.Expiration?.getTime()
    return {
      accessKeyId: issued.AccessKeyId,
      secretAccessKey: issued.SecretAccessKey,
      sessionToken: issued.SessionToken,
      // A session without an expiry is taken as the hour asked for, counted from now.
      expiresAt: expiration ?? options.now() + SESSION_SECONDS * 1000,
    }
  }

  const fresh = (credentials: RoleCredentials) =>
    options.now() < credentials.expiresAt - RENEW_BEFORE_EXPIRY_MS

  const renew = (roleArn: string, region: string): Promise<RoleCredentials> => {
    const session: Session = { pending: assume(roleArn, region) }
    sessions.set(roleArn, session)
    session.pending.then(
      (credentials) => {
        session.credentials = credentials
      },
      // A failed AssumeRole is not kept: the next call tries again.
      () => {
        if (sessions.get(roleArn) === session) sessions.delete(roleArn)
      },
    )
    return session.pending
  }

  return {
    async get(roleArn, region) {
      const session = sessions.get(roleArn)
      if (session === undefined) return renew(roleArn, region)
      if (session.credentials === undefined) return session.pending
      if (fresh(session.credentials)) return session.credentials
      return renew(roleArn, region)
    },
    discard(roleArn, credentials) {
      if (sessions.get(roleArn)?.credentials === credentials) sessions.delete(roleArn)
    },
  }
}
