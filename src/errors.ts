/**
 * The one error class of the public API. Inside the core failures are values; at the boundary the
 * engine and the adapters turn them into a `SyncError` with a stable `code`.
 */
export type SyncErrorCode =
  | 'INVALID_ARGUMENT'
  | 'LIMIT_EXCEEDED'
  | 'VALUE_INVALID'
  | 'DATASET_NOT_FOUND'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_QUOTA'
  | 'STORAGE_CLOSED'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_BLOCKED'
  | 'TRANSPORT_OFFLINE'
  | 'TRANSPORT_AUTH'
  | 'TRANSPORT_THROTTLED'
  | 'TRANSPORT_CONFLICT'
  | 'TRANSPORT_LIMIT'
  | 'TRANSPORT_NOT_FOUND'
  | 'TRANSPORT_INVALID'
  | 'TRANSPORT_SERVER'
  | 'TRANSPORT_PROTOCOL'
  | 'CONFLICT_UNRESOLVED'
  | 'SYNC_RETRIES_EXHAUSTED'
  | 'SYNC_CANCELLED'
  | 'PUSH_PAYLOAD_INVALID'
  | 'PUSH_UNSUPPORTED'
  | 'PUSH_PERMISSION_DENIED'
  | 'TABS_UNSUPPORTED'
  | 'DEVICE_NOT_REGISTERED'
  | 'ENGINE_CLOSED'

/** The error code of each kind of transport failure (see the transport port's `TransportFailure`). */
export const TRANSPORT_ERROR_CODES = {
  offline: 'TRANSPORT_OFFLINE',
  conflict: 'TRANSPORT_CONFLICT',
  auth: 'TRANSPORT_AUTH',
  throttled: 'TRANSPORT_THROTTLED',
  limit: 'TRANSPORT_LIMIT',
  notFound: 'TRANSPORT_NOT_FOUND',
  invalid: 'TRANSPORT_INVALID',
  server: 'TRANSPORT_SERVER',
  protocol: 'TRANSPORT_PROTOCOL',
} as const satisfies Record<string, SyncErrorCode>

/** Codes a caller may retry without changing anything; others need a change of input or state. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<SyncErrorCode> = new Set<SyncErrorCode>([
  'STORAGE_UNAVAILABLE',
  'TRANSPORT_OFFLINE',
  'TRANSPORT_THROTTLED',
  'TRANSPORT_SERVER',
  'SYNC_RETRIES_EXHAUSTED',
])

/** What a `SyncError` carries besides its code and message. */
export interface SyncErrorOptions {
  /** The error it was made from (ES2022 `cause`). */
  readonly cause?: unknown
  /** The adapter's `name`, such as `'storage:sqlite'`. */
  readonly adapter?: string
  /** Whether trying again unchanged may succeed; by default true for the offline, throttled and server codes. */
  readonly retryable?: boolean
  /** Structured detail (the failing key, limit, reason...) for programs; the message is for people. */
  readonly details?: Readonly<Record<string, unknown>>
}

// A registry symbol, so `isSyncError` works across two copies of the package in one bundle.
const SYNC_ERROR = Symbol.for('pushsync.error')

/**
 * Every error pushsync throws or rejects with: a stable `code` for programs, a message for people
 * (naming the adapter and what to do), whether a retry may help, and structured `details`. Check
 * for it with {@link isSyncError}, which also recognises errors from another copy of the package.
 *
 * @example
 * ```ts
 * try {
 *   await settings.put(key, value)
 * } catch (error) {
 *   if (isSyncError(error, 'LIMIT_EXCEEDED')) showFull(error.details)
 *   else throw error
 * }
 * ```
 */
export class SyncError extends Error {
  override readonly name = 'SyncError'
  /** What went wrong, one of {@link SyncErrorCode}. */
  readonly code: SyncErrorCode
  /** The adapter that failed (`'transport:http'`...), when one did. */
  readonly adapter: string | undefined
  /** Whether the same call, unchanged, may succeed later (offline, throttled, a server error...). */
  readonly retryable: boolean
  /** Structured detail (the failing key, limit, reason...) for programs. */
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: SyncErrorCode, message: string, options: SyncErrorOptions = {}) {
    const prefix = options.adapter ? `[pushsync] [${options.adapter}]` : '[pushsync]'
    super(`${prefix} ${message}`, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.adapter = options.adapter
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code)
    this.details = options.details ?? {}
    Object.defineProperty(this, SYNC_ERROR, { value: true })
  }
}

/** True for any pushsync error, optionally of one code, even from another copy of the package. */
export function isSyncError(error: unknown, code?: SyncErrorCode): error is SyncError {
  if (typeof error !== 'object' || error === null || !(SYNC_ERROR in error)) return false
  return code === undefined || (error as unknown as SyncError).code === code
}

/** Turns a failure value of the core (validation, push payload...) into a `SyncError`. */
export function syncErrorFromFailure(failure: {
  readonly code: SyncErrorCode
  readonly message: string
}): SyncError {
  const { code, message, ...details } = failure
  return new SyncError(code, message, { details })
}
