import type { Limits } from './limits.js'
import { fail, ok, type Result } from './result.js'

/** Which input a validation failure is about. */
export type ValidatedField =
  | 'datasetName'
  | 'key'
  | 'value'
  | 'identityId'
  | 'identityPoolId'
  | 'dataset'
  | 'identity'

/**
 * The rule an input broke: a limit from {@link Limits}, or one of the fixed rules.
 * `wellFormedUnicode`: a lone UTF-16 surrogate cannot round-trip through UTF-8 storage or JSON peers.
 */
export type ValidationRule = keyof Limits | 'type' | 'notEmpty' | 'pattern' | 'wellFormedUnicode'

/** Why the core refused an input: which field, which rule, the value and the limit. */
export interface ValidationFailure {
  /** `LIMIT_EXCEEDED` for the adjustable quotas of a dataset or identity, `INVALID_ARGUMENT` otherwise. */
  readonly code: 'INVALID_ARGUMENT' | 'LIMIT_EXCEEDED'
  readonly field: ValidatedField
  readonly rule: ValidationRule
  /** The offending value (or the count or size that broke the limit). */
  readonly value: unknown
  /** The limit in force, for the rules that have one. */
  readonly limit?: number
  readonly message: string
}

const DATASET_NAME = /^[a-zA-Z0-9_.:-]+$/
/** Cognito's `[\w-]+:[0-9a-f-]+`, accepting upper-case hex as the documentation's examples show. */
const COGNITO_ID = /^[\w-]+:[0-9a-fA-F-]+$/
const MAX_ID_LENGTH = 55

/** Shortens an offending value for a message; the failure itself carries the whole value. */
export function describeValue(value: unknown): string {
  if (typeof value !== 'string') return String(value)
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value
  return JSON.stringify(shown)
}

function invalid(
  field: ValidatedField,
  rule: ValidationRule,
  value: unknown,
  message: string,
  limit?: number,
) {
  const failure: ValidationFailure =
    limit === undefined
      ? { code: 'INVALID_ARGUMENT', field, rule, value, message }
      : { code: 'INVALID_ARGUMENT', field, rule, value, limit, message }
  return fail(failure)
}

/** A quota failure: the value is the size or count that would result, the limit the one in force. */
export function limitExceeded(
  field: ValidatedField,
  rule: keyof Limits,
  value: number,
  limit: number,
  message: string,
): Result<never, ValidationFailure> {
  return fail({ code: 'LIMIT_EXCEEDED', field, rule, value, limit, message })
}

/**
 * Bytes of the UTF-8 encoding of `text`, or -1 when it holds a lone surrogate
 * (which UTF-8 cannot encode, so it would not round-trip).
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (!(next >= 0xdc00 && next <= 0xdfff)) return -1
      bytes += 4
      i++
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return -1
    else bytes += 3
  }
  return bytes
}

/** Dataset names are 1..maxDatasetNameLength characters of `[a-zA-Z0-9_.:-]`. */
export function validateDatasetName(name: unknown, limits: Limits): Result<string, ValidationFailure> {
  if (typeof name !== 'string') return invalid('datasetName', 'type', name, 'dataset name must be a string')
  if (name.length === 0) return invalid('datasetName', 'notEmpty', name, 'dataset name must not be empty')
  if (name.length > limits.maxDatasetNameLength) {
    return invalid(
      'datasetName',
      'maxDatasetNameLength',
      name,
      `dataset name ${describeValue(name)} is ${name.length} characters; the limit is ${limits.maxDatasetNameLength}`,
      limits.maxDatasetNameLength,
    )
  }
  if (!DATASET_NAME.test(name)) {
    return invalid(
      'datasetName',
      'pattern',
      name,
      `dataset name ${describeValue(name)} may only contain letters, digits and _ . : -`,
    )
  }
  return ok(name)
}

/** Keys are any characters, 1..maxKeyBytes bytes of UTF-8. `__proto__` is a key like any other. */
export function validateKey(key: unknown, limits: Limits): Result<string, ValidationFailure> {
  if (typeof key !== 'string') return invalid('key', 'type', key, 'record key must be a string')
  if (key.length === 0) return invalid('key', 'notEmpty', key, 'record key must not be empty')
  const bytes = utf8ByteLength(key)
  if (bytes < 0) {
    return invalid('key', 'wellFormedUnicode', key, `record key ${describeValue(key)} holds a lone surrogate`)
  }
  if (bytes > limits.maxKeyBytes) {
    return invalid(
      'key',
      'maxKeyBytes',
      key,
      `record key ${describeValue(key)} is ${bytes} bytes of UTF-8; the limit is ${limits.maxKeyBytes}`,
      limits.maxKeyBytes,
    )
  }
  return ok(key)
}

/** Values are strings; the empty string is a value, not a removal. */
export function validateValue(value: unknown, limits: Limits): Result<string, ValidationFailure> {
  if (typeof value !== 'string') {
    return invalid('value', 'type', value, `record value must be a string, got ${typeof value}`)
  }
  if (value.length > limits.maxValueLength) {
    return invalid(
      'value',
      'maxValueLength',
      value,
      `record value is ${value.length} characters; the limit is ${limits.maxValueLength}`,
      limits.maxValueLength,
    )
  }
  if (utf8ByteLength(value) < 0) {
    return invalid('value', 'wellFormedUnicode', value, 'record value holds a lone surrogate')
  }
  return ok(value)
}

function validateCognitoId(
  field: 'identityId' | 'identityPoolId',
  id: unknown,
): Result<string, ValidationFailure> {
  const label = field === 'identityId' ? 'identity id' : 'identity pool id'
  if (typeof id !== 'string') return invalid(field, 'type', id, `${label} must be a string`)
  if (id.length === 0 || id.length > MAX_ID_LENGTH || !COGNITO_ID.test(id)) {
    return invalid(field, 'pattern', id, `${label} ${describeValue(id)} is not REGION:GUID (1-55 characters)`)
  }
  return ok(id)
}

/** Identity ids are Cognito's `REGION:GUID`, 1 to 55 characters. */
export function validateIdentityId(id: unknown): Result<string, ValidationFailure> {
  return validateCognitoId('identityId', id)
}

/** Identity pool ids are Cognito's `REGION:GUID`, 1 to 55 characters. */
export function validateIdentityPoolId(id: unknown): Result<string, ValidationFailure> {
  return validateCognitoId('identityPoolId', id)
}
