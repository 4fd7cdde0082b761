import { expect } from 'vitest'

/** A guest identity of a running server, with the bearer token its credentials carry. */
export interface Identity {
  readonly url: string
  readonly identityId: string
  readonly token: string
}

/** One Cognito Identity call (AWS JSON 1.1 on `POST /`), which must succeed. */
export async function identityCall(
  url: string,
  target: string,
  body: object,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityService.${target}`,
    },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(200)
  return (await response.json()) as Record<string, unknown>
}

/** Signs in as a new guest of `pool`, as an app does: GetId, then GetCredentialsForIdentity. */
export async function signInAsGuest(url: string, pool: string): Promise<Identity> {
  const { IdentityId } = await identityCall(url, 'GetId', { IdentityPoolId: pool })
  const { Credentials } = (await identityCall(url, 'GetCredentialsForIdentity', { IdentityId })) as {
    Credentials: { SessionToken: string }
  }
  return { url, identityId: String(IdentityId), token: Credentials.SessionToken }
}
