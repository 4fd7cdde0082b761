import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_LIMITS,
  resolveLimits,
  utf8ByteLength,
  validateDatasetName,
  validateIdentityId,
  validateIdentityPoolId,
  validateKey,
  validateValue,
} from '../../src/core/index.js'

const wellFormed = fc.string({ unit: 'grapheme', maxLength: 40 })
const anyUnits = fc.string({ unit: 'binary', maxLength: 40 })
const nonStrings = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.object(),
)

describe('utf8ByteLength', () => {
  it('matches the UTF-8 encoder for every well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'))
      }),
    )
  })

  it('reports a lone surrogate, which UTF-8 cannot carry, as -1', () => {
    fc.assert(
      fc.property(anyUnits, (text) => {
        const roundTrips = Buffer.from(text, 'utf8').toString('utf8') === text
        expect(utf8ByteLength(text) >= 0).toBe(roundTrips)
      }),
    )
  })
})

describe('validateKey', () => {
  it('accepts any well-formed key of 1..128 UTF-8 bytes, and the key round-trips through JSON and UTF-8', () => {
    fc.assert(
      fc.property(wellFormed, (key) => {
        const result = validateKey(key, DEFAULT_LIMITS)
        const bytes = Buffer.byteLength(key, 'utf8')
        expect(result.ok).toBe(bytes >= 1 && bytes <= 128)
        if (!result.ok) return
        expect(result.value).toBe(key)
        expect(JSON.parse(JSON.stringify({ [key]: key }))).toEqual({ [key]: key })
        expect(Buffer.from(key, 'utf8').toString('utf8')).toBe(key)
      }),
    )
  })

  it('draws the line at exactly 128 bytes, counting multi-byte characters as bytes', () => {
    expect(validateKey('😀'.repeat(32), DEFAULT_LIMITS).ok).toBe(true) // 128 bytes, 64 UTF-16 units
    const tooLong = validateKey(`${'😀'.repeat(32)}a`, DEFAULT_LIMITS)
    expect(tooLong).toMatchObject({
      ok: false,
      failure: { code: 'INVALID_ARGUMENT', field: 'key', rule: 'maxKeyBytes', limit: 128 },
    })
    if (!tooLong.ok) expect(tooLong.failure.message).toContain('129 bytes')
    expect(validateKey('é'.repeat(64), DEFAULT_LIMITS).ok).toBe(true)
    expect(validateKey('é'.repeat(65), DEFAULT_LIMITS).ok).toBe(false)
  })

  it('takes keys that look special to JavaScript as plain data', () => {
    for (const key of ['__proto__', 'constructor', 'toString', ' ', '\u200b', '\u0000', '\u0301']) {
      expect(validateKey(key, DEFAULT_LIMITS)).toEqual({ ok: true, value: key })
    }
  })

  it('rejects empty keys, lone surrogates and non-strings with the rule and the offending value', () => {
    expect(validateKey('', DEFAULT_LIMITS)).toMatchObject({
      ok: false,
      failure: { rule: 'notEmpty', value: '' },
    })
    expect(validateKey('a\ud800', DEFAULT_LIMITS)).toMatchObject({
      ok: false,
      failure: { code: 'INVALID_ARGUMENT', rule: 'wellFormedUnicode', value: 'a\ud800' },
    })
    fc.assert(
      fc.property(nonStrings, (key) => {
        expect(validateKey(key, DEFAULT_LIMITS)).toMatchObject({
          ok: false,
          failure: { code: 'INVALID_ARGUMENT', field: 'key', rule: 'type', value: key },
        })
      }),
    )
  })

  it('follows configured limits', () => {
    const limits = resolveLimits({ maxKeyBytes: 4 })
    expect(validateKey('abcd', limits).ok).toBe(true)
    expect(validateKey('abcde', limits)).toMatchObject({
      ok: false,
      failure: { rule: 'maxKeyBytes', limit: 4 },
    })
  })
})

describe('validateValue', () => {
  it('accepts every well-formed string, including the empty one, and it round-trips through JSON', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (value) => {
        const result = validateValue(value, DEFAULT_LIMITS)
        expect(result).toEqual({ ok: true, value })
        expect(JSON.parse(JSON.stringify(value))).toBe(value)
      }),
    )
  })

  it('allows 1,048,575 characters and refuses one more', () => {
    expect(validateValue('v'.repeat(1_048_575), DEFAULT_LIMITS).ok).toBe(true)
    expect(validateValue('v'.repeat(1_048_576), DEFAULT_LIMITS)).toMatchObject({
      ok: false,
      failure: { code: 'INVALID_ARGUMENT', field: 'value', rule: 'maxValueLength', limit: 1_048_575 },
    })
  })

  it('rejects non-strings and lone surrogates with their code', () => {
    fc.assert(
      fc.property(nonStrings, (value) => {
        expect(validateValue(value, DEFAULT_LIMITS)).toMatchObject({ ok: false, failure: { rule: 'type' } })
      }),
    )
    expect(validateValue('\udc00', DEFAULT_LIMITS)).toMatchObject({
      ok: false,
      failure: { rule: 'wellFormedUnicode' },
    })
  })
})

describe('validateDatasetName', () => {
  const nameChar = fc.constantFrom(...'abcXYZ019_.:-'.split(''))

  it('accepts 1..128 characters of [a-zA-Z0-9_.:-] and nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: nameChar, maxLength: 140 }), fc.string({ maxLength: 140 })),
        (name) => {
          const expected = /^[a-zA-Z0-9_.:-]{1,128}$/.test(name)
          const result = validateDatasetName(name, DEFAULT_LIMITS)
          expect(result.ok).toBe(expected)
          if (!result.ok) {
            expect(result.failure.code).toBe('INVALID_ARGUMENT')
            expect(result.failure.field).toBe('datasetName')
            expect(result.failure.value).toBe(name)
            expect(['notEmpty', 'maxDatasetNameLength', 'pattern']).toContain(result.failure.rule)
          }
        },
      ),
    )
  })

  it('names the offending name in the message', () => {
    const result = validateDatasetName('my settings', DEFAULT_LIMITS)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.failure.message).toContain('"my settings"')
    expect(validateDatasetName('a'.repeat(128), DEFAULT_LIMITS).ok).toBe(true)
    expect(validateDatasetName('a'.repeat(129), DEFAULT_LIMITS)).toMatchObject({
      ok: false,
      failure: { rule: 'maxDatasetNameLength', limit: 128 },
    })
  })
})

describe('identity and pool ids', () => {
  it('accept REGION:GUID forms and refuse others', () => {
    expect(validateIdentityId('us-east-1:6f3c8a4e-1d2b-4c5d-9e8f-0a1b2c3d4e5f').ok).toBe(true)
    expect(validateIdentityPoolId('eu-west-1:6F3C8A4E-1D2B-4C5D-9E8F-0A1B2C3D4E5F').ok).toBe(true)
    for (const bad of ['', 'no-colon', 'us-east-1:xyz', `us-east-1:${'a'.repeat(60)}`, 42]) {
      expect(validateIdentityId(bad)).toMatchObject({ ok: false, failure: { field: 'identityId' } })
    }
  })
})
