/**
 * What every request of the API goes through, however it arrived (an HTTP request, a socket's
 * message): its log line and metrics, throttling, the identity checks, the operation's context, and
 * the Cognito error it is answered with.
 */
import type { Principal } from '../auth/principal.js'
import { CognitoError, throttled } from '../errors.js'
import { SILENT_LOGGER, serializeError } from '../ops/logger.js'
import { NO_METRICS } from '../ops/metrics.js'
import type { ThrottleKind } from '../ops/throttle.js'
import type { SyncStore } from '../store/contract.js'
import type { OperationContext } from '../sync/context.js'
import type { AppDependencies } from './app.js'

/**
 * The status logged (and counted) for a request whose client hung up before its body arrived:
 * nobody reads the answer; 499 is the number proxies use for it.
 */
export const CLIENT_CLOSED = 499

/** A request's line in the log and its place in the metrics. */
export interface RequestRecord {
  readonly requestId: string
  readonly operation: string
  readonly status: number
  /** `performance.now()` when the request arrived. */
  readonly started: number
  readonly principal: string | undefined
  readonly errorType: string | undefined
}

/** What every request goes through, however it arrived: its log line, throttling, identity checks. */
export function requestChecks(deps: AppDependencies) {
  const logger = deps.logger ?? SILENT_LOGGER
  const metrics = deps.metrics ?? NO_METRICS
  /** Refuses the request when `key`'s bucket of that kind is empty: before any work that costs. */
  const throttle = (kind: ThrottleKind, key: string) => {
    const waitMs = deps.throttle?.take(kind, key, deps.now()) ?? 0
    if (waitMs === 0) return
    metrics.throttled(kind)
    throw throttled(waitMs)
  }
  return {
    throttle,
    /** An identity's request, past authentication: its bucket, then whether it still owns anything. */
    async admitIdentity(identityId: string): Promise<void> {
      throttle('identity', identityId)
      await refuseMergedIdentity(deps.store, identityId)
    },
    reportError(error: unknown, requestId: string, operation: string | undefined): void {
      logger.error({ requestId, operation, error: serializeError(error) }, 'internal error')
      deps.onError?.(error)
    },
    logRequest(record: RequestRecord): void {
      const seconds = (performance.now() - record.started) / 1000
      const { requestId, operation, status, principal, errorType } = record
      metrics.request(operation, status, seconds)
      const line = {
        requestId,
        operation,
        status,
        durationMs: Math.round(seconds * 100_000) / 100,
        ...(principal === undefined ? {} : { principal }),
        ...(errorType === undefined ? {} : { errorType }),
      }
      // Probes come every few seconds: their lines would bury the requests. A client that hung up
      // mid-body is not worth more than a debug line either (and anyone can do it, as often as they like).
      if (operation === 'Healthz' || operation === 'Readyz' || status === CLIENT_CLOSED)
        logger.debug(line, status === CLIENT_CLOSED ? 'client closed the connection mid-request' : 'request')
      else logger.info(line, 'request')
    },
  }
}

/** What an operation needs besides its input, for one request of `principal`. */
export function operationContext(deps: AppDependencies, principal: Principal): OperationContext {
  return {
    store: deps.store,
    principal,
    now: deps.now(),
    limits: deps.limits,
    sessions: deps.sessions,
    randomId: deps.randomId,
    ...(deps.syncTriggerFor === undefined ? {} : { syncTriggerFor: deps.syncTriggerFor }),
    ...(deps.changes === undefined ? {} : { changes: deps.changes }),
    ...(deps.spentSessions === undefined ? {} : { spentSessions: deps.spentSessions }),
    ...(deps.deviceTokenRefusal === undefined ? {} : { deviceTokenRefusal: deps.deviceTokenRefusal }),
    ...(deps.syncTriggerUrlRefusal === undefined
      ? {}
      : { syncTriggerUrlRefusal: deps.syncTriggerUrlRefusal }),
  }
}

/** The CognitoError an error is answered with; `onUnexpected` hears of any other error. */
export function cognitoErrorOf(error: unknown, onUnexpected: (error: unknown) => void): CognitoError {
  if (error instanceof CognitoError) return error
  if (error instanceof URIError)
    return new CognitoError('InvalidParameterException', 'Malformed URL encoding')
  onUnexpected(error)
  return new CognitoError('InternalErrorException', 'Internal error')
}

/**
 * Credentials are stateless, so ones issued before an identity was merged away would still verify;
 * the identity's row says it no longer owns anything.
 */
async function refuseMergedIdentity(store: SyncStore, identityId: string): Promise<void> {
  const row = await store.transaction((tx) => tx.getIdentity(identityId))
  if (row?.mergedInto != null) {
    throw new CognitoError(
      'NotAuthorizedException',
      `Identity ${identityId} was merged into another identity`,
    )
  }
}
