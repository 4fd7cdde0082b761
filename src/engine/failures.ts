import type { TransportFailure } from '../contracts/transport.js'
import type { ValidationFailure } from '../core/validate.js'
import { isSyncError, SyncError, TRANSPORT_ERROR_CODES } from '../errors.js'

/** A transport failure as the app sees it, naming the adapter and what was being done. */
export function transportError(failure: TransportFailure, adapter: string, doing: string): SyncError {
  return new SyncError(TRANSPORT_ERROR_CODES[failure.kind], `${doing}: ${failure.message}`, {
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

/** What a failed synchronize rejects with: its SyncError, or one wrapping what else was thrown. */
export function syncFailure(caught: unknown): SyncError {
  return isSyncError(caught)
    ? caught
    : new SyncError('STORAGE_UNAVAILABLE', 'synchronize failed unexpectedly', { cause: caught })
}
