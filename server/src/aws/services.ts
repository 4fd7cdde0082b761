import { KinesisClient } from '@aws-sdk/client-kinesis'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { SNSClient } from '@aws-sdk/client-sns'
import { STSClient, type STSClientConfig } from '@aws-sdk/client-sts'
import { isCredentialsRefused } from './errors.js'
import { createRoleSessions, type RoleCredentials } from './role-sessions.js'

/**
 * The AWS side of the server: SNS and Kinesis as the roles a pool names, Lambda as the server
 * itself. Endpoints and the server's own credentials come the AWS SDK's standard way, so tests,
 * emulators and real accounts are configured alike: the default credential chain (environment,
 * shared files, web identity, container and instance roles) and `AWS_ENDPOINT_URL` or
 * `AWS_ENDPOINT_URL_SNS` / `_STS` / `_KINESIS` / `_LAMBDA`.
 */
export interface AwsOptions {
  /** The server's own credentials; default the AWS SDK's default provider chain. */
  readonly credentials?: NonNullable<STSClientConfig['credentials']>
  /** How long one AWS call may take before it counts as failed (default 10 s). */
  readonly requestTimeoutMs?: number
}

export interface AwsServices {
  /**
   * Runs `call` with an SNS client of `region` signed as `roleArn`. Credentials AWS refuses as
   * expired or unknown are dropped and the role assumed again, once.
   */
  asRole<T>(
    roleArn: string,
    region: string,
    service: 'sns',
    call: (client: SNSClient) => Promise<T>,
  ): Promise<T>
  asRole<T>(
    roleArn: string,
    region: string,
    service: 'kinesis',
    call: (client: KinesisClient) => Promise<T>,
  ): Promise<T>
  /** A Kinesis client of `region` with the server's own credentials (the import reads with them). */
  kinesis(region: string): KinesisClient
  /** A Lambda client of `region` with the server's own credentials, as Cognito invoked triggers as itself. */
  lambda(region: string): LambdaClient
  /** The abort signal for one call, by the request timeout. */
  signal(): AbortSignal
  /** Ends every client's connections. */
  close(): void
}

export const DEFAULT_AWS_TIMEOUT_MS = 10_000

type RoleClient = SNSClient | KinesisClient

/**
 * Clients are made once per region (and, for a role, per set of credentials: a renewed session gets
 * new clients, the old ones are destroyed). The SDK's own retries are off for SNS, Kinesis and
 * Lambda: the outbox retries pushes and stream records with its backoff, and a sync trigger's
 * caller is told to retry, as Cognito told it.
 */
export function createAwsServices(options: AwsOptions & { readonly now: () => number }): AwsServices {
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_AWS_TIMEOUT_MS
  const own = options.credentials === undefined ? {} : { credentials: options.credentials }
  const stsClients = new Map<string, STSClient>()
  const ownClients = new Map<string, KinesisClient | LambdaClient>()
  const roleClients = new Map<RoleCredentials, Map<string, RoleClient>>()

  const sts = (region: string): STSClient => {
    let client = stsClients.get(region)
    if (client === undefined) {
      client = new STSClient({ region, maxAttempts: 2, ...own })
      stsClients.set(region, client)
    }
    return client
  }
  const sessions = createRoleSessions({ sts, now: options.now, timeoutMs })

  const clientFor = (credentials: RoleCredentials, region: string, service: 'sns' | 'kinesis') => {
    let clients = roleClients.get(credentials)
    if (clients === undefined) {
      clients = new Map()
      roleClients.set(credentials, clients)
    }
    const key = `${service}:${region}`
    let client = clients.get(key)
    if (client === undefined) {
      // Static credentials without an expiry: the SDK keeps them as they are, and the sessions
      // above decide when they are replaced (by new clients).
      const config = {
        region,
        maxAttempts: 1,
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          sessionToken: credentials.sessionToken,
        },
      }
      client = service === 'sns' ? new SNSClient(config) : new KinesisClient(config)
      clients.set(key, client)
    }
    return client
  }

  const forget = (credentials: RoleCredentials) => {
    for (const client of roleClients.get(credentials)?.values() ?? []) client.destroy()
    roleClients.delete(credentials)
  }

  // Clients of sessions that are no longer current are destroyed when the next session is used.
  const current = new Map<string, RoleCredentials>()
  const session = async (roleArn: string, region: string) => {
    const credentials = await sessions.get(roleArn, region)
    const previous = current.get(roleArn)
    if (previous !== undefined && previous !== credentials) forget(previous)
    current.set(roleArn, credentials)
    return credentials
  }

  const asRole = async <T>(
    roleArn: string,
    region: string,
    service: 'sns' | 'kinesis',
    call: (client: never) => Promise<T>,
  ): Promise<T> => {
    const credentials = await session(roleArn, region)
    try {
      return await call(clientFor(credentials, region, service) as never)
    } catch (error) {
      if (!isCredentialsRefused(error)) throw error
      sessions.discard(roleArn, credentials)
      const renewed = await session(roleArn, region)
      return call(clientFor(renewed, region, service) as never)
    }
  }

  const ownClient = <C extends KinesisClient | LambdaClient>(
    service: string,
    region: string,
    make: () => C,
  ): C => {
    const key = `${service}:${region}`
    let client = ownClients.get(key)
    if (client === undefined) {
      client = make()
      ownClients.set(key, client)
    }
    return client as C
  }

  return {
    asRole: asRole as AwsServices['asRole'],
    kinesis: (region) => ownClient('kinesis', region, () => new KinesisClient({ region, ...own })),
    lambda: (region) =>
      ownClient('lambda', region, () => new LambdaClient({ region, maxAttempts: 1, ...own })),
    signal: () => AbortSignal.timeout(timeoutMs),
    close() {
      for (const client of stsClients.values()) client.destroy()
      for (const client of ownClients.values()) client.destroy()
      for (const credentials of [...roleClients.keys()]) forget(credentials)
      stsClients.clear()
      ownClients.clear()
      current.clear()
    },
  }
}
