import { CognitoIdentityClient } from '@aws-sdk/client-cognito-identity'
import { CognitoSyncClient } from '@aws-sdk/client-cognito-sync'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'

const region = 'us-east-1'

export interface DeviceOptions {
  /** The running server, for Cognito Identity and Cognito Sync alike. */
  readonly url: string
  readonly identityPoolId: string
  /** The sync client's attempts; the SDK's default (3, with back-off) when absent. */
  readonly maxAttempts?: number
}

/**
 * A device of a new identity, as an AWS SDK v3 app gets one: the SDK's own Cognito Identity provider
 * runs GetId and GetCredentialsForIdentity against the server, and the sync client signs with what it
 * got. Each device keeps its own identity id cache, as an app on its own phone would; a shared one
 * would make every device the same identity.
 */
export async function createDevice(options: DeviceOptions) {
  const { url, identityPoolId, maxAttempts } = options
  const identity = new CognitoIdentityClient({ region, endpoint: url })
  const cache = new Map<string, string>()
  const credentials = fromCognitoIdentityPool({
    identityPoolId,
    clientConfig: { region, endpoint: url },
    cache: {
      getItem: (key: string) => cache.get(key) ?? null,
      setItem: (key: string, value: string) => void cache.set(key, value),
      removeItem: (key: string) => void cache.delete(key),
    },
  })
  const { identityId } = await credentials()
  const sync = new CognitoSyncClient({
    region,
    endpoint: url,
    credentials,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  })
  return { identityId, sync, identity, credentials }
}
