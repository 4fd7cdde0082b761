import type { RawRequest } from '../http/app.js'
import { type BearerOptions, createBearerVerifier } from './bearer.js'
import { type CredentialIssuer, combineResolvers, createAdminKeys, lookupAt } from './credentials.js'
import type { Principal } from './principal.js'
import { verifySigV4 } from './sigv4.js'

export type JwtBearerOptions = NonNullable<BearerOptions['jwt']>

export interface AuthenticatorOptions {
  readonly credentials: CredentialIssuer
  readonly adminKeys: ReadonlyArray<{ readonly accessKeyId: string; readonly secretAccessKey: string }>
  readonly bearerJwt?: JwtBearerOptions
  readonly now: () => number
}

/**
 * Who a request acts as. AWS SDKs sign with SigV4 (credentials this server issued, or admin keys);
 * the library's HTTP transport and browsers send `Authorization: Bearer`. Everything else is
 * NotAuthorizedException.
 */
export function createAuthenticator(
  options: AuthenticatorOptions,
): (request: RawRequest) => Promise<Principal> {
  const resolver = combineResolvers(options.credentials, createAdminKeys(options.adminKeys))
  const bearer = createBearerVerifier({
    credentials: options.credentials,
    ...(options.bearerJwt === undefined ? {} : { jwt: options.bearerJwt }),
  })
  return (request) => {
    const now = options.now()
    const authorization = request.headers.get('authorization')
    if (authorization !== null && /^bearer /i.test(authorization)) return bearer.verify(authorization, now)
    return verifySigV4(request, lookupAt(resolver, now), now)
  }
}
