import type { TransportFailure, TransportFailureKind } from '../contracts/transport.js'
import type { ValidationFailure } from '../core/validate.js'
import { SyncError, type SyncErrorCode } from '../errors.js'

const TRANSPORT_CODES: Record<TransportFailureKind, SyncErrorCode> = {
  offline: 'TRANSPORT_OFFLINE',
  conflict: 'TRANSPORT_CONFLICT',
  auth: 'TRANSPORT_AUTH',
  throttled: 'TRANSPORT_THROTTLED',
  limit: 'TRANSPORT_LIMIT',
  notFound: 'TRANSPORT_NOT_FOUND',
  invalid: 'TRANSPORT_INVALID',
  server: 'TRANSPORT_SERVER',
  protocol: 'TRANSPORT_PROTOCOL',
}

/** A transport failure as the app sees it, naming the adapter and what was being done. */
export function transportError(failure: TransportFailure, adapter: string, doing: string): SyncError {
  return new SyncError(TRANSPORT_CODES[failure.kind], `${doing}: ${failure.message}`, {
    adapter,
    details: { kind: failure.kind },
    ...('cause' in failure && failure.cause !== undefined ? { cause: failure.cause } : {}),
  })
}

/** A refused local write: the rule, the limit and the offending value travel in `details`. */
export function validationError(failure: ValidationFailure): SyncError {
  const { code, message, ...details } = failure
  return new SyncError(code, message, { details })
}
