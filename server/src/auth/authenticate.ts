import { type BearerOptions, createBearerVerifier } from './bearer.js'
import { type CredentialIssuer, combineResolvers, createAdminKeys, lookupAt } from './credentials.js'
import type { Principal } from './principal.js'
import { prepareSigV4, type SignedRequestHead } from './sigv4.js'

export type JwtBearerOptions = NonNullable<BearerOptions['jwt']>

export interface AuthenticatorOptions {
  readonly credentials: CredentialIssuer
  readonly adminKeys: ReadonlyArray<{ readonly accessKeyId: string; readonly secretAccessKey: string }>
  readonly bearerJwt?: JwtBearerOptions
  readonly now: () => number
}

/** What a request's headers established; the body, once read, remains to be checked against them. */
export interface Authentication {
  /** Who the request acts as, if its body passes `verifyBody`. */
  readonly principal: Principal
  /** Checks the body the signature covers (SigV4); a bearer token covers no body. */
  verifyBody(body: Uint8Array): Promise<void>
}

/** Authenticates a request from its headers, before any of its body is read. */
export type Authenticator = (head: SignedRequestHead) => Promise<Authentication>

const NOTHING_TO_CHECK = async (): Promise<void> => {}

/**
 * Who a request acts as. AWS SDKs sign with SigV4 (credentials this server issued, or admin keys);
 * the library's HTTP transport and browsers send `Authorization: Bearer`. Everything else is
 * NotAuthorizedException, decided from the headers alone: a request without credentials, with a
 * bearer token that fails, or with SigV4 fields that cannot be right is refused before a byte of
 * its body is read.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const resolver = combineResolvers(options.credentials, createAdminKeys(options.adminKeys))
  const bearer = createBearerVerifier({
    credentials: options.credentials,
    ...(options.bearerJwt === undefined ? {} : { jwt: options.bearerJwt }),
  })
  return async (head) => {
    const now = options.now()
    const authorization =
      head.headers instanceof Headers
        ? head.headers.get('authorization')
        : ((head.headers as Readonly<Record<string, string>>).authorization ?? null)
    if (authorization !== null && /^bearer /i.test(authorization)) {
      return { principal: await bearer.verify(authorization, now), verifyBody: NOTHING_TO_CHECK }
    }
    return prepareSigV4(head, lookupAt(resolver, now), now)
  }
}
