import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { HttpRequest } from '@smithy/protocol-http'
import { ALGORITHM_IDENTIFIER, getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4'
import { CognitoError } from '../errors.js'
import type { Principal } from './principal.js'

/**
 * An incoming request as the HTTP layer received it, before any decoding. Signatures cover the
 * bytes the client sent, so the path and query must be the raw, still percent-encoded text.
 */
export interface SignedRequest {
  readonly method: string
  /** The path as received, still percent-encoded (`/identitypools/us-east-1%3A…`). */
  readonly rawPath: string
  /** The text after `?` as received (no leading `?`); `''` when there is none. */
  readonly rawQuery: string
  readonly headers: Headers | Readonly<Record<string, string>>
  /** The exact body bytes; empty for GET and DELETE. */
  readonly body: Uint8Array
  /** The `Host` header as received, port included (`127.0.0.1:8080`); used for the signed `host`. */
  readonly host: string
}

/** What a credential lookup yields: the secret to re-sign with and who the key acts as. */
export interface ResolvedCredentials {
  readonly secretAccessKey: string
  readonly principal: Principal
}

/** Finds the secret of an access key id (and its session token, for temporary credentials). */
export type CredentialLookup = (
  accessKeyId: string,
  sessionToken: string | undefined,
) => Promise<ResolvedCredentials | undefined>

/** The SigV4 service name every request must be signed for. */
export const SIGNING_SERVICE = 'cognito-sync'

/** How far a request's signing time may be from the server's clock, as AWS allows. */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000

/**
 * SHA-256 and HMAC-SHA256 over node:crypto, shaped like the `sha256` constructor the Smithy signer
 * takes. The signer's default pure-JS hash is an order of magnitude slower, and the verifier hashes
 * every request body.
 */
export class Sha256 {
  readonly #secret: string | ArrayBuffer | ArrayBufferView | undefined
  #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#secret = secret
    this.#hash = Sha256.#create(secret)
  }

  static #create(secret: string | ArrayBuffer | ArrayBufferView | undefined) {
    if (secret === undefined) return createHash('sha256')
    return createHmac('sha256', typeof secret === 'string' ? secret : toBytes(secret))
  }

  update(data: Uint8Array | string): void {
    this.#hash.update(typeof data === 'string' ? data : toBytes(data))
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()))
  }

  reset(): void {
    this.#hash = Sha256.#create(this.#secret)
  }
}

const toBytes = (data: ArrayBuffer | ArrayBufferView): Uint8Array =>
  ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data)

/** Exposes the signer's canonicalisation, so verification follows exactly the SDKs' rules. */
class VerifyingSigner extends SignatureV4 {
  canonicalRequest(request: HttpRequest, headers: Record<string, string>, payloadHash: string): string {
    return this.createCanonicalRequest(request, headers, payloadHash)
  }

  stringToSign(longDate: string, scope: string, canonicalRequest: string): Promise<string> {
    return this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM_IDENTIFIER)
  }
}

/**
 * Cognito Sync, like every non-S3 service, escapes the already percent-encoded path once more
 * (`%3A` → `%253A`) in the canonical request: `uriEscapePath: true` over the raw path. The checksum
 * header is never added: clients that do not send it (botocore) did not sign it.
 */
const canonicalizer = new VerifyingSigner({
  service: SIGNING_SERVICE,
  region: 'unused',
  credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
  sha256: Sha256,
  uriEscapePath: true,
  applyChecksum: false,
})

const refuse = (message: string): CognitoError => new CognitoError('NotAuthorizedException', message)

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
const SIGNATURE = /^[0-9a-f]{64}$/
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const REGION = /^[a-z0-9-]{1,64}$/
const ACCESS_KEY_ID = /^[A-Za-z0-9._+-]{1,128}$/
/** Query parameters of presigned URLs; this server accepts only header authentication. */
const PRESIGN_PARAMS = new Set(['x-amz-signature', 'x-amz-credential', 'x-amz-algorithm'])

interface ParsedAuthorization {
  readonly accessKeyId: string
  readonly date: string
  readonly region: string
  readonly scope: string
  readonly signedHeaders: readonly string[]
  readonly signature: string
}

/**
 * Verifies an AWS Signature Version 4 `Authorization` header and returns the principal of the key
 * that signed the request.
 *
 * Rules: algorithm `AWS4-HMAC-SHA256`; credential scope `DATE/REGION/cognito-sync/aws4_request` (any
 * region); `x-amz-date` (or, failing that, `date`) signed, within {@link MAX_CLOCK_SKEW_MS} of `now`
 * and on the scope's day; `host` signed; the body hashed here and, when the client sent
 * `x-amz-content-sha256`, equal to it (the signer would otherwise trust that header and a swapped
 * body would verify). The request is then canonicalised by the Smithy signer over the raw path,
 * the query and only the headers named in `SignedHeaders`, and the signatures compared in constant
 * time.
 *
 * Every refusal is a `NotAuthorizedException` `CognitoError`, whatever the header holds. Errors
 * thrown by `lookup` itself (a failing store) propagate unchanged.
 *
 * @param now - the server's clock, epoch milliseconds
 */
export async function verifySigV4(
  request: SignedRequest,
  lookup: CredentialLookup,
  now: number,
): Promise<Principal> {
  const prepared = await prepareSigV4(request, lookup, now)
  await prepared.verifyBody(request.body)
  return prepared.principal
}

/** A request's headers, before its body was read. */
export type SignedRequestHead = Omit<SignedRequest, 'body'>

/** What the headers of a signed request established; the body remains to be checked. */
export interface PreparedSigV4 {
  /** Who the signing key acts as. Not proven until `verifyBody` resolves. */
  readonly principal: Principal
  /** Checks the body against the signature; rejects with NotAuthorizedException. */
  verifyBody(body: Uint8Array): Promise<void>
}

/**
 * The part of {@link verifySigV4} that needs no body: the `Authorization` header's fields, the
 * signing date and its window, the signed headers, and the key, looked up. When the client sent
 * `x-amz-content-sha256`, the signature itself is checked too, over the hash it claims; the body
 * then only has to match that hash. Every refusal here comes before a body byte is read.
 */
export async function prepareSigV4(
  request: SignedRequestHead,
  lookup: CredentialLookup,
  now: number,
): Promise<PreparedSigV4> {
  const header = readHeader(request.headers, 'authorization')
  if (header === undefined || header.trim() === '') {
    throw refuse('Missing Authentication Token: the request carries no Authorization header.')
  }
  const auth = parseAuthorization(header)

  const amzDate = readHeader(request.headers, 'x-amz-date')
  const longDate =
    amzDate === undefined ? fromHttpDate(readHeader(request.headers, 'date')) : fromAmzDate(amzDate)
  const dateHeader = amzDate === undefined ? 'date' : 'x-amz-date'
  if (!auth.signedHeaders.includes(dateHeader)) {
    throw refuse(`The '${dateHeader}' header must be among the SignedHeaders.`)
  }
  if (longDate.text.slice(0, 8) !== auth.date) {
    throw refuse(
      `Credential should be scoped to a valid date: '${longDate.text.slice(0, 8)}', not '${auth.date}'.`,
    )
  }
  if (longDate.ms < now - MAX_CLOCK_SKEW_MS) {
    throw refuse(`Signature expired: ${longDate.text} is more than 15 minutes earlier than the server time.`)
  }
  if (longDate.ms > now + MAX_CLOCK_SKEW_MS) {
    throw refuse(
      `Signature not yet current: ${longDate.text} is more than 15 minutes later than the server time.`,
    )
  }
  const claimedHeader = readHeader(request.headers, 'x-amz-content-sha256')
  const claimedHash = claimedHeader?.toLowerCase()

  const signedHeaders: Record<string, string> = {}
  for (const name of auth.signedHeaders) {
    const value = name === 'host' && request.host !== '' ? request.host : readHeader(request.headers, name)
    if (value === undefined) throw refuse(`The signed header '${name}' is missing from the request.`)
    signedHeaders[name] = value
  }

  let httpRequest: HttpRequest
  let canonicalHeaders: Record<string, string>
  try {
    const query = parseQuery(request.rawQuery)
    httpRequest = new HttpRequest({
      method: request.method,
      path: request.rawPath,
      query,
      headers: signedHeaders,
    })
    canonicalHeaders = getCanonicalHeaders(httpRequest, undefined, new Set(auth.signedHeaders))
  } catch (error) {
    if (error instanceof CognitoError) throw error
    throw refuse('The request path or query string is not valid percent-encoded text.')
  }

  const sessionToken = readHeader(request.headers, 'x-amz-security-token')
  const resolved = await lookup(auth.accessKeyId, sessionToken)
  if (resolved === undefined) throw refuse('The security token included in the request is invalid.')

  // A signer holding the resolved secret computes the signature exactly as the SDKs do.
  const signer = new SignatureV4({
    service: SIGNING_SERVICE,
    region: auth.region,
    credentials: {
      accessKeyId: auth.accessKeyId,
      secretAccessKey: resolved.secretAccessKey,
      ...(sessionToken === undefined ? {} : { sessionToken }),
    },
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  })
  const checkSignature = async (payloadHash: string): Promise<void> => {
    let canonicalRequest: string
    try {
      canonicalRequest = canonicalizer.canonicalRequest(httpRequest, canonicalHeaders, payloadHash)
    } catch {
      throw refuse('The request path or query string is not valid percent-encoded text.')
    }
    const stringToSign = await canonicalizer.stringToSign(longDate.text, auth.scope, canonicalRequest)
    const expected = await signer.sign(stringToSign, {
      signingDate: new Date(longDate.ms),
      signingRegion: auth.region,
      signingService: SIGNING_SERVICE,
    })
    if (!timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(auth.signature, 'hex'))) {
      throw refuse(
        'The request signature we calculated does not match the signature you provided. ' +
          'Check your AWS Secret Access Key and signing method.',
      )
    }
  }
  // The claimed hash is what was signed: the signature can be checked before the body arrives.
  if (claimedHash !== undefined) await checkSignature(claimedHash)
  return {
    principal: resolved.principal,
    async verifyBody(body) {
      const bodyHash = createHash('sha256').update(body).digest('hex')
      if (claimedHash === undefined) return checkSignature(bodyHash)
      // The signer would trust the header: a swapped body must not verify.
      if (claimedHash !== bodyHash) {
        throw refuse("The provided 'x-amz-content-sha256' header does not match what was computed.")
      }
    },
  }
}

/** Reads one header, case-insensitively, from either shape the HTTP layer may hand over. */
function readHeader(headers: Headers | Readonly<Record<string, string>>, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function' && typeof (headers as Headers).has === 'function') {
    return (headers as Headers).get(name) ?? undefined
  }
  const values: string[] = []
  for (const [key, value] of Object.entries(headers as Record<string, string>)) {
    if (key.toLowerCase() === name && typeof value === 'string') values.push(value)
  }
  return values.length === 0 ? undefined : values.join(', ')
}

function parseAuthorization(header: string): ParsedAuthorization {
  const match = /^AWS4-HMAC-SHA256\s+(\S[\s\S]*)$/.exec(header.trim())
  if (match?.[1] === undefined) {
    throw refuse("Authorization header requires the 'AWS4-HMAC-SHA256' algorithm.")
  }
  const fields = new Map<string, string>()
  for (const part of match[1].split(',')) {
    const item = part.trim()
    const eq = item.indexOf('=')
    const key = eq < 0 ? item : item.slice(0, eq)
    if (eq < 0 || !['Credential', 'SignedHeaders', 'Signature'].includes(key) || fields.has(key)) {
      throw refuse(`Authorization header is malformed near '${item.slice(0, 40)}'.`)
    }
    fields.set(key, item.slice(eq + 1))
  }
  const credential = fields.get('Credential')
  const signedHeaderList = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (credential === undefined || signedHeaderList === undefined || signature === undefined) {
    throw refuse("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
  }

  const [accessKeyId, date, region, service, terminator, ...rest] = credential.split('/')
  if (
    accessKeyId === undefined ||
    date === undefined ||
    region === undefined ||
    service === undefined ||
    terminator === undefined ||
    rest.length > 0 ||
    !ACCESS_KEY_ID.test(accessKeyId) ||
    !/^\d{8}$/.test(date) ||
    !REGION.test(region) ||
    terminator !== 'aws4_request'
  ) {
    throw refuse("Credential is malformed: expected 'ACCESS_KEY/YYYYMMDD/REGION/cognito-sync/aws4_request'.")
  }
  if (service !== SIGNING_SERVICE) {
    throw refuse(
      `Credential should be scoped to the service '${SIGNING_SERVICE}', not '${service.slice(0, 64)}'.`,
    )
  }

  const signedHeaders = signedHeaderList.split(';')
  for (const [i, name] of signedHeaders.entries()) {
    if (!HEADER_NAME.test(name))
      throw refuse('SignedHeaders must list lower-case header names separated by ;.')
    const previous = signedHeaders[i - 1]
    if (previous !== undefined && previous >= name) throw refuse('SignedHeaders must be sorted and distinct.')
  }
  if (!signedHeaders.includes('host')) throw refuse("The 'host' header must be among the SignedHeaders.")
  if (!SIGNATURE.test(signature)) throw refuse('Signature must be 64 lower-case hexadecimal digits.')

  return {
    accessKeyId,
    date,
    region,
    scope: `${date}/${region}/${service}/aws4_request`,
    signedHeaders,
    signature,
  }
}

/** Parses `x-amz-date` (`YYYYMMDDTHHMMSSZ`), rejecting impossible dates. */
function fromAmzDate(value: string): { text: string; ms: number } {
  const m = AMZ_DATE.exec(value.trim())
  if (m === null) throw refuse("The 'x-amz-date' header must have the form YYYYMMDDTHHMMSSZ.")
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  if (toAmzDate(ms) !== value.trim()) throw refuse("The 'x-amz-date' header is not a valid date.")
  return { text: value.trim(), ms }
}

/** Parses an HTTP `date` header, for clients that sign it instead of `x-amz-date`. */
function fromHttpDate(value: string | undefined): { text: string; ms: number } {
  if (value === undefined) throw refuse("The request must carry an 'x-amz-date' or 'date' header.")
  const ms = Date.parse(value)
  if (!Number.isFinite(ms) || ms < 0 || ms > 253402300799000) {
    throw refuse("The 'date' header is not a valid HTTP date.")
  }
  const whole = Math.floor(ms / 1000) * 1000
  return { text: toAmzDate(whole), ms: whole }
}

const toAmzDate = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z')

/**
 * Decodes the raw query into the map the signer canonicalises (it re-escapes keys and values the
 * SigV4 way). `+` stays a literal plus: SigV4 clients encode spaces as `%20`.
 */
function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null)
  if (rawQuery === '') return query
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq))
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1))
    if (PRESIGN_PARAMS.has(key.toLowerCase())) {
      throw refuse('Presigned (query string) authentication is not supported; sign the Authorization header.')
    }
    const existing = query[key]
    if (existing === undefined) query[key] = value
    else if (Array.isArray(existing)) existing.push(value)
    else query[key] = [existing, value]
  }
  return query
}
