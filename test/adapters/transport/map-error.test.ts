import {
  CognitoSyncServiceException,
  ConcurrentModificationException,
  InternalErrorException,
  InvalidConfigurationException,
  InvalidLambdaFunctionOutputException,
  InvalidParameterException,
  LambdaThrottledException,
  LimitExceededException,
  NotAuthorizedException,
  ResourceConflictException,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-cognito-sync'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { mapCognitoError } from '../../../adapters/transport/cognito/map-error.js'
import type { TransportFailureKind } from '../../../src/contracts/transport.js'
import {
  errorTypeName,
  failureKindOf,
  retryAfterMs,
  type TransportFailureKindName,
} from '../../../src/core/transport-failure.js'

const metadata = (httpStatusCode?: number) => ({
  $metadata: httpStatusCode === undefined ? {} : { httpStatusCode },
})

describe('failureKindOf', () => {
  it('names the same kinds as the transport port', () => {
    expectTypeOf<TransportFailureKindName>().toEqualTypeOf<TransportFailureKind>()
  })

  it.each<[string, number | undefined, TransportFailureKindName]>([
    ['ResourceConflictException', 409, 'conflict'],
    ['NotAuthorizedException', 403, 'auth'],
    ['TooManyRequestsException', 429, 'throttled'],
    ['LambdaThrottledException', 429, 'throttled'],
    ['LimitExceededException', 400, 'limit'],
    ['ResourceNotFoundException', 404, 'notFound'],
    ['InvalidParameterException', 400, 'invalid'],
    ['InvalidLambdaFunctionOutputException', 400, 'invalid'],
    ['InvalidConfigurationException', 400, 'invalid'],
    ['InternalErrorException', 500, 'server'],
    // The type wins over the status.
    ['ResourceConflictException', undefined, 'conflict'],
    ['NotAuthorizedException', 500, 'auth'],
    // Decorated forms of the type.
    [
      'ResourceConflictException:http://internal.amazon.com/coral/com.amazonaws.cognitosync/',
      409,
      'conflict',
    ],
    ['com.amazonaws.cognitosync#ResourceNotFoundException', 404, 'notFound'],
    [' LimitExceededException ', 400, 'limit'],
    // No known type: the status decides.
    ['', 502, 'server'],
    ['', 503, 'server'],
    ['SyntaxError', 500, 'server'],
    ['', 429, 'throttled'],
    ['UnknownOperationException', 404, 'protocol'],
    ['OddException', 400, 'protocol'],
    ['ConcurrentModificationException', 400, 'protocol'],
    ['', 200, 'protocol'],
    ['', 403, 'protocol'],
    ['', undefined, 'protocol'],
    // Names that every object inherits are not types.
    ['constructor', 400, 'protocol'],
    ['__proto__', 400, 'protocol'],
    ['toString', 400, 'protocol'],
  ])('%j with status %s is %s', (type, status, kind) => {
    expect(failureKindOf(type, status)).toBe(kind)
  })

  it.each([
    ['ResourceConflictException', 'ResourceConflictException'],
    ['ResourceConflictException:http://internal.amazon.com/', 'ResourceConflictException'],
    ['aws.cognitosync#InvalidParameterException', 'InvalidParameterException'],
    ['a.b#C:d', 'C'],
    ['', ''],
  ])('errorTypeName(%j) is %j', (type, name) => {
    expect(errorTypeName(type)).toBe(name)
  })

  it.each<[string | null | undefined, number | undefined]>([
    ['3', 3000],
    [' 0 ', 0],
    ['120', 120_000],
    ['1.5', undefined],
    ['-1', undefined],
    ['Wed, 21 Oct 2015 07:28:00 GMT', undefined],
    ['', undefined],
    [null, undefined],
    [undefined, undefined],
    ['99999999999999999999', undefined],
  ])('retryAfterMs(%j) is %s', (header, ms) => {
    expect(retryAfterMs(header)).toBe(ms)
  })
})

describe('mapCognitoError', () => {
  const message = 'what the server said'
  it.each<[string, unknown, object]>([
    [
      'ResourceConflictException',
      new ResourceConflictException({ message, ...metadata(409) }),
      { kind: 'conflict', message: `ResourceConflictException: ${message}` },
    ],
    ['NotAuthorizedException', new NotAuthorizedException({ message, ...metadata(403) }), { kind: 'auth' }],
    [
      'TooManyRequestsException',
      new TooManyRequestsException({ message, ...metadata(429) }),
      { kind: 'throttled' },
    ],
    [
      'LambdaThrottledException',
      new LambdaThrottledException({ message, ...metadata(429) }),
      { kind: 'throttled' },
    ],
    ['LimitExceededException', new LimitExceededException({ message, ...metadata(400) }), { kind: 'limit' }],
    [
      'ResourceNotFoundException',
      new ResourceNotFoundException({ message, ...metadata(404) }),
      { kind: 'notFound' },
    ],
    [
      'InvalidParameterException',
      new InvalidParameterException({ message, ...metadata(400) }),
      { kind: 'invalid' },
    ],
    [
      'InvalidLambdaFunctionOutputException',
      new InvalidLambdaFunctionOutputException({ message, ...metadata(400) }),
      { kind: 'invalid' },
    ],
    [
      'InvalidConfigurationException',
      new InvalidConfigurationException({ message, ...metadata(400) }),
      { kind: 'invalid' },
    ],
    [
      'InternalErrorException',
      new InternalErrorException({ message, ...metadata(500) }),
      { kind: 'server', status: 500 },
    ],
    [
      'an unmodelled exception with a 503',
      new CognitoSyncServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        message,
        ...metadata(503),
      }),
      { kind: 'server', status: 503 },
    ],
    [
      'an unmodelled exception with a 400',
      new CognitoSyncServiceException({ name: 'OddException', $fault: 'client', message, ...metadata(400) }),
      { kind: 'protocol', message: expect.stringContaining('OddException') },
    ],
    [
      'a modelled exception this transport never expects',
      new ConcurrentModificationException({ message, ...metadata(400) }),
      { kind: 'protocol' },
    ],
    [
      'a body the SDK could not parse',
      Object.assign(new SyntaxError('Unexpected token <'), { ...metadata(200), $response: {} }),
      { kind: 'protocol' },
    ],
    [
      'a proxy’s unparseable 502',
      Object.assign(new SyntaxError('Unexpected token <'), metadata(502)),
      { kind: 'server', status: 502 },
    ],
    [
      'throttling with Retry-After',
      Object.assign(new TooManyRequestsException({ message, ...metadata(429) }), {
        $response: { headers: { 'retry-after': '7' } },
      }),
      { kind: 'throttled', retryAfterMs: 7000 },
    ],
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', ...metadata() }),
      { kind: 'offline', message: expect.stringContaining('ECONNREFUSED') },
    ],
    [
      'connection reset',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      { kind: 'offline' },
    ],
    [
      'DNS failure',
      Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }),
      { kind: 'offline' },
    ],
    [
      'a request timeout',
      Object.assign(new Error('exceeded the configured 100 ms'), { name: 'TimeoutError', code: 'ETIMEDOUT' }),
      { kind: 'offline' },
    ],
    [
      'an abort the caller did not ask for',
      Object.assign(new Error('Request aborted'), { name: 'AbortError', ...metadata() }),
      { kind: 'offline' },
    ],
    ['a browser’s failed fetch', new TypeError('Failed to fetch'), { kind: 'offline' }],
    [
      'no credentials',
      Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }),
      { kind: 'auth' },
    ],
    ['a thrown string', 'boom', { kind: 'offline', message: expect.stringContaining('boom') }],
  ])('maps %s', (_, error, failure) => {
    expect(mapCognitoError(error)).toMatchObject(failure)
  })

  it('keeps the error as the cause of offline', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    expect(mapCognitoError(error)).toMatchObject({ kind: 'offline', cause: error })
  })

  it('reports the caller’s abort as offline with the signal’s reason, whatever the SDK threw', () => {
    const controller = new AbortController()
    const reason = new Error('left the page')
    controller.abort(reason)
    const thrown = [
      Object.assign(new Error('Request aborted'), { name: 'AbortError' }),
      new InternalErrorException({ message: 'late', ...metadata(500) }),
    ]
    for (const error of thrown) {
      expect(mapCognitoError(error, controller.signal)).toEqual({
        kind: 'offline',
        message: 'the request was aborted by the caller',
        cause: reason,
      })
    }
  })

  it('maps an SDK exception by name even when the caller’s signal did not abort', () => {
    const signal = new AbortController().signal
    const error = new ResourceConflictException({ message, ...metadata(409) })
    expect(mapCognitoError(error, signal)).toMatchObject({ kind: 'conflict' })
  })
})
