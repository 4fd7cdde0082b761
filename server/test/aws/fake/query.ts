import { randomUUID } from 'node:crypto'
import type { FakeRequest, FakeResponse } from './account.js'

/**
 * The AWS Query protocol of SNS and STS: `POST /` with a form body (`Action`, `Version`, members
 * flattened as `Name.entry.N.key`), answered with XML, errors as `<ErrorResponse>`.
 */

export function readForm(request: FakeRequest): URLSearchParams | undefined {
  const type = String(request.headers['content-type'] ?? '')
  if (
    request.method !== 'POST' ||
    request.url !== '/' ||
    !type.startsWith('application/x-www-form-urlencoded')
  )
    return undefined
  return new URLSearchParams(request.body.toString('utf8'))
}

/** A flattened map: `Prefix.entry.N.<keyName>` / `Prefix.entry.N.<valueName>`. */
export function readMap(form: URLSearchParams, prefix: string, keyName = 'key', valueName = 'value') {
  const map = new Map<string, string>()
  for (let n = 1; form.has(`${prefix}.entry.${n}.${keyName}`); n++)
    map.set(
      form.get(`${prefix}.entry.${n}.${keyName}`) ?? '',
      form.get(`${prefix}.entry.${n}.${valueName}`) ?? '',
    )
  return map
}

export const xmlEscape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function queryResult(namespace: string, action: string, result: string): FakeResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() },
    body: `<${action}Response xmlns="${namespace}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  }
}

export function queryError(namespace: string, status: number, code: string, message: string): FakeResponse {
  const type = status >= 500 ? 'Receiver' : 'Sender'
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() },
    body: `<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  }
}
