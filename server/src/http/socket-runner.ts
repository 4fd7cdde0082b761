/**
 * A socket message of the identity's own operations, run without a web Request or Response: what
 * keeps a write over the socket as cheap as the operation itself. See createSocketRunner.
 */
import { authorizeIdentity } from '../sync/access.js'
import type { AppDependencies } from './app.js'
import { parseJsonBody, tooLarge } from './body.js'
import { matchIdentityRoute, type RouteInput } from './identity-routes.js'
import { cognitoErrorOf, operationContext, requestChecks } from './request-checks.js'

/** One message of an identity's socket: an operation on a path under that identity's own. */
export interface SocketCall {
  readonly method: 'GET' | 'POST' | 'DELETE'
  /** The message's path, resolved; the caller has checked it lies under the socket's identity. */
  readonly url: URL
  /** The message's body, parsed; undefined when it had none. */
  readonly body: object | undefined
  /** The body's size as the client sent it, in bytes: the request body limit applies to it. */
  readonly bodyBytes: number
  /** The socket's bearer token: every message is authenticated with it, as a request would be. */
  readonly token: string
}

export interface SocketAnswer {
  readonly status: number
  /** Cognito's JSON, as the HTTP answer's body. */
  readonly body: string
  readonly retryAfter?: string
}

/**
 * Runs a socket message's operation directly: no web Request or Response is built, but it goes
 * through what a request of an identity route goes through, in the same order (its log line and
 * metrics, bearer authentication, the identity's bucket, the merged-identity check, the body limit)
 * and answers with the same status and body. Resolves undefined for a path no identity route
 * takes: the caller runs that one through the app, which answers it.
 */
export function createSocketRunner(
  deps: AppDependencies,
): (call: SocketCall) => Promise<SocketAnswer | undefined> {
  const checks = requestChecks(deps)
  const NO_BODY = parseJsonBody(new Uint8Array(0))
  return async (call) => {
    const { method, url } = call
    // `/identitypools/{pool}/identities/{identity}/...`: the route's segments follow the fifth.
    const segments = url.pathname.split('/')
    let match: ReturnType<typeof matchIdentityRoute>
    try {
      match = matchIdentityRoute(method, segments.slice(5))
    } catch {
      return undefined // a malformed encoding: the app's answer is the one to give
    }
    if (match === undefined) return undefined
    const { route, params } = match
    const started = performance.now()
    const requestId = deps.randomId()
    let principalLabel: string | undefined
    let errorType: string | undefined
    let answer: SocketAnswer
    try {
      const authentication = await deps.authenticate({
        method,
        rawPath: url.pathname,
        rawQuery: url.search.slice(1),
        headers: { authorization: `Bearer ${call.token}` },
        host: url.host,
      })
      const { principal } = authentication
      const input: RouteInput = {
        identityPoolId: decodeURIComponent(segments[2] ?? ''),
        identityId: decodeURIComponent(segments[4] ?? ''),
        params,
        query: (name) => url.searchParams.get(name) ?? undefined,
      }
      if (principal.kind === 'identity') {
        principalLabel = principal.identityId
        authorizeIdentity(principal, input.identityPoolId, input.identityId)
        await checks.admitIdentity(principal.identityId)
      } else {
        principalLabel = 'developer'
      }
      if (call.bodyBytes > deps.bodyLimit) throw tooLarge(deps.bodyLimit)
      // A bearer token covers no body: there is nothing for verifyBody to check.
      const result = await route.run(operationContext(deps, principal), input, call.body ?? NO_BODY)
      answer = { status: 200, body: JSON.stringify(result) }
    } catch (error) {
      const cognito = cognitoErrorOf(error, (unexpected) =>
        checks.reportError(unexpected, requestId, route.operation),
      )
      errorType = cognito.type
      answer = {
        status: cognito.status,
        body: JSON.stringify({ __type: cognito.type, message: cognito.message }),
        ...(cognito.retryAfterSeconds === undefined ? {} : { retryAfter: String(cognito.retryAfterSeconds) }),
      }
    }
    checks.logRequest({
      requestId,
      operation: route.operation,
      status: answer.status,
      started,
      principal: principalLabel,
      errorType,
    })
    return answer
  }
}
