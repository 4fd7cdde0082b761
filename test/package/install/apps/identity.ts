/**
 * Guest credentials from pushsync-server through the AWS SDK's own Cognito Identity client:
 * GetId, then GetCredentialsForIdentity. Shared by the SDK apps of the packaging test.
 */
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
} from '@aws-sdk/client-cognito-identity'

export const region = 'us-east-1'
export const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'

export function endpointFromEnvironment(): string {
  const endpoint = process.env.PUSHSYNC_ENDPOINT
  if (endpoint === undefined) throw new Error('PUSHSYNC_ENDPOINT is not set')
  return endpoint
}

export interface GuestCredentials {
  readonly identityId: string
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }
}

export async function guestCredentials(endpoint: string): Promise<GuestCredentials> {
  const client = new CognitoIdentityClient({ region, endpoint })
  try {
    const { IdentityId } = await client.send(new GetIdCommand({ IdentityPoolId: identityPoolId }))
    if (IdentityId === undefined) throw new Error('GetId answered without an IdentityId')
    const { Credentials } = await client.send(new GetCredentialsForIdentityCommand({ IdentityId }))
    if (
      Credentials?.AccessKeyId === undefined ||
      Credentials.SecretKey === undefined ||
      Credentials.SessionToken === undefined
    )
      throw new Error(`GetCredentialsForIdentity answered ${JSON.stringify(Credentials)}`)
    return {
      identityId: IdentityId,
      credentials: {
        accessKeyId: Credentials.AccessKeyId,
        secretAccessKey: Credentials.SecretKey,
        sessionToken: Credentials.SessionToken,
      },
    }
  } finally {
    client.destroy()
  }
}
