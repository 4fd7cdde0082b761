/**
 * Cognito Sync's errors as the wire carries them: the shape name in `x-amzn-ErrorType` and in the
 * body's `__type`, an HTTP status, and a message. Operations throw a `CognitoError`; the HTTP layer
 * turns it (and nothing else) into a response, so every refusal has Cognito's shape.
 */
export type CognitoErrorType =
  | 'InvalidParameterException'
  | 'NotAuthorizedException'
  | 'ResourceNotFoundException'
  | 'ResourceConflictException'
  | 'LimitExceededException'
  | 'TooManyRequestsException'
  | 'InternalErrorException'
  | 'InvalidLambdaFunctionOutputException'
  | 'LambdaThrottledException'
  | 'InvalidConfigurationException'
  | 'DuplicateRequestException'
  | 'AlreadyStreamedException'
  | 'ConcurrentModificationException'
  // Cognito Identity (POST /)
  | 'InvalidIdentityPoolConfigurationException'
  | 'ExternalServiceException'
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'RequestEntityTooLargeException'
  // A request body that did not arrive in time.
  | 'RequestTimeoutException'

const STATUS: Record<CognitoErrorType, number> = {
  InvalidParameterException: 400,
  NotAuthorizedException: 403,
  ResourceNotFoundException: 404,
  ResourceConflictException: 409,
  LimitExceededException: 400,
  TooManyRequestsException: 429,
  InternalErrorException: 500,
  InvalidLambdaFunctionOutputException: 400,
  LambdaThrottledException: 429,
  InvalidConfigurationException: 400,
  DuplicateRequestException: 400,
  AlreadyStreamedException: 400,
  ConcurrentModificationException: 400,
  InvalidIdentityPoolConfigurationException: 400,
  ExternalServiceException: 400,
  UnknownOperationException: 400,
  SerializationException: 400,
  RequestEntityTooLargeException: 413,
  RequestTimeoutException: 408,
}

export class CognitoError extends Error {
  override readonly name = 'CognitoError'
  readonly type: CognitoErrorType
  readonly status: number
  /** Sent as `Retry-After` (whole seconds): when a throttled request would be let through. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    type: CognitoErrorType,
    message: string,
    options?: { readonly cause?: unknown; readonly retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.type = type
    this.status = STATUS[type]
    this.retryAfterSeconds = options?.retryAfterSeconds
  }
}

export const invalidParameter = (message: string) => new CognitoError('InvalidParameterException', message)
export const notAuthorized = (message: string) => new CognitoError('NotAuthorizedException', message)
export const resourceNotFound = (message: string) => new CognitoError('ResourceNotFoundException', message)
export const limitExceeded = (message: string) => new CognitoError('LimitExceededException', message)
/** Cognito's throttling answer (429), with the wait until a token is back rounded up to seconds. */
export const throttled = (waitMs: number) =>
  new CognitoError('TooManyRequestsException', 'Rate exceeded', {
    retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
  })
