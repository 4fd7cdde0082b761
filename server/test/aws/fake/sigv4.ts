import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/**
 * AWS Signature Version 4 as AWS checks it, written from the specification for the fake services
 * (independent of the server's own verifier): the canonical request over the raw path escaped once
 * more, the sorted query, the signed headers and the body's hash; the string to sign over the
 * credential scope; the key derived from the secret through date, region and service.
 */

export interface SignedBy {
  readonly accessKeyId: string
  readonly region: string
  readonly service: string
  /** `x-amz-security-token`, for temporary credentials. */
  readonly sessionToken: string | undefined
}

export type SignatureCheck =
  | { readonly ok: true; readonly signedBy: SignedBy }
  | { readonly ok: false; readonly code: string; readonly message: string }

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()

/** RFC 3986 escaping, as SigV4 wants it (encodeURIComponent leaves `!'()*` alone). */
const uriEscape = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return ''
  return rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf('=')
      const name = decodeURIComponent(at < 0 ? pair : pair.slice(0, at))
      const value = at < 0 ? '' : decodeURIComponent(pair.slice(at + 1).replace(/\+/g, '%20'))
      return [uriEscape(name), uriEscape(value)] as const
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&')
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;:-]+), ?Signature=([0-9a-f]{64})$/

/**
 * Checks a request's signature with the secret `secretFor` finds for its key; the error codes are
 * the ones AWS answers (`IncompleteSignature`, `SignatureDoesNotMatch`, `InvalidClientTokenId`...).
 */
export function checkSignature(
  request: {
    readonly method: string
    readonly url: string
    readonly headers: IncomingHttpHeaders
    readonly body: Buffer
  },
  secretFor: (accessKeyId: string) => string | undefined,
  now = Date.now(),
): SignatureCheck {
  const header = request.headers.authorization
  const match = typeof header === 'string' ? AUTHORIZATION.exec(header) : null
  if (match === null)
    return { ok: false, code: 'IncompleteSignature', message: 'Authorization header is not SigV4' }
  const [, accessKeyId, day, region, service, signedList, signature] = match as unknown as string[]
  const secret = secretFor(accessKeyId as string)
  if (secret === undefined)
    return {
      ok: false,
      code: 'InvalidClientTokenId',
      message: 'The security token included in the request is invalid.',
    }
  const signed = (signedList as string).split(';')
  // Over HTTP/2 the host travels as `:authority`, and is signed under that name.
  if (!signed.includes('host') && !signed.includes(':authority'))
    return { ok: false, code: 'IncompleteSignature', message: 'host is not signed' }
  if (!signed.includes('x-amz-date'))
    return { ok: false, code: 'IncompleteSignature', message: 'x-amz-date is not signed' }
  const amzDate = String(request.headers['x-amz-date'] ?? '')
  const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (stamp === null || amzDate.slice(0, 8) !== day)
    return { ok: false, code: 'IncompleteSignature', message: 'x-amz-date does not match the scope' }
  const [year, month, date, hour, minute, second] = stamp.slice(1).map(Number) as number[]
  const at = Date.UTC(year ?? 0, (month ?? 1) - 1, date, hour, minute, second)
  if (Math.abs(now - at) > 15 * 60_000)
    return { ok: false, code: 'SignatureDoesNotMatch', message: 'Signature expired' }
  const bodyHash = sha256(request.body)
  const claimed = request.headers['x-amz-content-sha256']
  if (typeof claimed === 'string' && claimed !== bodyHash)
    return { ok: false, code: 'SignatureDoesNotMatch', message: 'x-amz-content-sha256 is not the body hash' }

  const queryAt = request.url.indexOf('?')
  const rawPath = queryAt < 0 ? request.url : request.url.slice(0, queryAt)
  const rawQuery = queryAt < 0 ? '' : request.url.slice(queryAt + 1)
  const canonicalHeaders = signed
    .map((name) => {
      const value = request.headers[name]
      const text = Array.isArray(value) ? value.join(',') : (value ?? '')
      return `${name}:${text.trim().replace(/\s+/g, ' ')}\n`
    })
    .join('')
  const canonical = [
    request.method,
    rawPath
      .split('/')
      .map((segment) => uriEscape(segment))
      .join('/'),
    canonicalQuery(rawQuery),
    canonicalHeaders,
    signedList,
    typeof claimed === 'string' ? claimed : bodyHash,
  ].join('\n')
  const scope = `${day}/${region}/${service}/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')
  const key = hmac(
    hmac(hmac(hmac(`AWS4${secret}`, day as string), region as string), service as string),
    'aws4_request',
  )
  const expected = hmac(key, toSign)
  if (!timingSafeEqual(expected, Buffer.from(signature as string, 'hex')))
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided.',
    }
  const token = request.headers['x-amz-security-token']
  if (token !== undefined && !signed.includes('x-amz-security-token'))
    return { ok: false, code: 'IncompleteSignature', message: 'x-amz-security-token is not signed' }
  return {
    ok: true,
    signedBy: {
      accessKeyId: accessKeyId as string,
      region: region as string,
      service: service as string,
      sessionToken: typeof token === 'string' ? token : undefined,
    },
  }
}
