/**
 * Sign-in as a guest against pushsync-server's Cognito Identity endpoint, without the AWS SDK: two
 * unsigned JSON calls, GetId then GetCredentialsForIdentity. The session token is the bearer token
 * of the HTTP transport and the SSE push source.
 */

// #region session
export interface GuestSession {
  readonly identityId: string
  /** The bearer token; renewed a minute before the credentials expire (they last one hour). */
  getToken(): Promise<string>
}

export async function signInAsGuest(
  endpoint: string,
  identityPoolId: string,
  // The identity this device got before (kept in localStorage, a file...): the same user again.
  knownIdentityId?: string,
): Promise<GuestSession> {
  const call = async (operation: string, body: object): Promise<Record<string, unknown>> => {
    const response = await fetch(`${endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AWSCognitoIdentityService.${operation}`,
      },
      body: JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`${operation}: HTTP ${response.status} ${await response.text()}`)
    return (await response.json()) as Record<string, unknown>
  }
  const identityId =
    knownIdentityId ?? ((await call('GetId', { IdentityPoolId: identityPoolId })).IdentityId as string)

  let token = ''
  let expiresAt = 0 // epoch ms
  return {
    identityId,
    async getToken() {
      if (Date.now() > expiresAt - 60_000) {
        const { Credentials } = (await call('GetCredentialsForIdentity', { IdentityId: identityId })) as {
          Credentials: { SessionToken: string; Expiration: number }
        }
        token = Credentials.SessionToken
        expiresAt = Credentials.Expiration * 1000 // epoch seconds on the wire
      }
      return token
    },
  }
}
// #endregion session
