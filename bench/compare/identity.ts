/** A guest identity of pushsync-server, got the way an app gets one. */

export const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
export const REGION = 'us-east-1'

/** A guest identity: its id, and the session token the HTTP transport and the SSE source send. */
export interface Identity {
  readonly identityId: string
  readonly token: string
}

/** GetId, then GetCredentialsForIdentity, on the server's Cognito Identity endpoint. */
export async function newIdentity(url: string): Promise<Identity> {
  const call = async (target: string, body: object) => {
    const response = await fetch(`${url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AWSCognitoIdentityService.${target}`,
      },
      body: JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`${target}: HTTP ${response.status}`)
    return (await response.json()) as { IdentityId: string; Credentials: { SessionToken: string } }
  }
  const { IdentityId } = await call('GetId', { IdentityPoolId: POOL })
  const { Credentials } = await call('GetCredentialsForIdentity', { IdentityId })
  return { identityId: IdentityId, token: Credentials.SessionToken }
}
