import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { BlockList, isIP } from 'node:net'
import { Readable } from 'node:stream'

/**
 * Where the server may send requests whose address a client or an admin chose: Web Push endpoints
 * (a guest registers any subscription it likes) and sync trigger URLs. Without these rules a
 * guest could aim the server at its own loopback services, the private network behind it, or a
 * cloud's metadata service (169.254.169.254), whose answers carry credentials.
 */
export interface OutboundPolicy {
  /**
   * For local development and tests only: `http:` URLs, and loopback, private and link-local
   * addresses, are allowed, and Web Push endpoints may be on any host.
   */
  readonly allowPrivateNetworks: boolean
  /**
   * The hosts a Web Push endpoint may name: exact names, `*.example.com` for any name under
   * example.com, or `*` for any public host.
   */
  readonly webPushHosts: readonly string[]
}

/** The push services of the browsers that support Web Push: Chrome and the Chromium family, Firefox, Safari, Edge. */
export const DEFAULT_WEB_PUSH_HOSTS: readonly string[] = [
  'fcm.googleapis.com',
  'android.googleapis.com',
  'updates.push.services.mozilla.com',
  '*.push.apple.com',
  '*.notify.windows.com',
]

export const DEFAULT_OUTBOUND: OutboundPolicy = {
  allowPrivateNetworks: false,
  webPushHosts: DEFAULT_WEB_PUSH_HOSTS,
}

/** The development policy: anything goes, local push services included. */
export const LOCAL_OUTBOUND: OutboundPolicy = { allowPrivateNetworks: true, webPushHosts: ['*'] }

const ranges = (kind: string, v4: readonly string[], v6: readonly string[]) => {
  const list = new BlockList()
  for (const net of v4) {
    const [address = '', prefix] = net.split('/')
    list.addSubnet(address, Number(prefix), 'ipv4')
  }
  for (const net of v6) {
    const [address = '', prefix] = net.split('/')
    list.addSubnet(address, Number(prefix), 'ipv6')
  }
  return { kind, list }
}

/**
 * Addresses that are not the public internet (IANA's special-purpose registries). IPv4-mapped IPv6
 * addresses (`::ffff:10.0.0.1`) match their IPv4 ranges; NAT64 and 6to4 addresses are read for the
 * IPv4 address they carry (see `embeddedIpv4`).
 */
const NON_PUBLIC = [
  ranges('a loopback address', ['127.0.0.0/8'], ['::1/128']),
  ranges('a link-local address (cloud metadata services live there)', ['169.254.0.0/16'], ['fe80::/10']),
  ranges(
    'a private address',
    ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'],
    ['fc00::/7', 'fec0::/10'],
  ),
  ranges(
    'a reserved address',
    [
      '0.0.0.0/8',
      '192.0.0.0/24',
      '192.0.2.0/24',
      '192.88.99.0/24',
      '198.18.0.0/15',
      '198.51.100.0/24',
      '203.0.113.0/24',
      '224.0.0.0/4',
      '240.0.0.0/4',
    ],
    ['::/96', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:db8::/32', 'ff00::/8'],
  ),
]

/**
 * Why `address` (an IP address in text) is not a public internet address, or undefined when it is.
 * Text that is not an address is refused too.
 */
export function nonPublicAddress(address: string): string | undefined {
  const family = isIP(address)
  if (family === 0) return 'not an IP address'
  const type = family === 4 ? 'ipv4' : 'ipv6'
  for (const { kind, list } of NON_PUBLIC) if (list.check(address, type)) return kind
  if (family === 6) {
    const inner = embeddedIpv4(address)
    if (inner !== undefined) return nonPublicAddress(inner)
  }
  return undefined
}

/** The IPv4 address a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address carries. */
function embeddedIpv4(address: string): string | undefined {
  const words = ipv6Words(address)
  if (words === undefined) return undefined
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0))
    return v4(words[6] ?? 0, words[7] ?? 0)
  if (words[0] === 0x2002) return v4(words[1] ?? 0, words[2] ?? 0)
  return undefined
}

/** The eight 16-bit words of an IPv6 address. */
function ipv6Words(address: string): number[] | undefined {
  let text = address.toLowerCase()
  // A trailing dotted IPv4 part counts for two words.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const part = (s: string) => (s === '' ? [] : s.split(':').map((w) => Number.parseInt(w, 16)))
  const left = part(head)
  const right = tail === undefined ? [] : part(tail)
  const missing = 8 - left.length - right.length
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined
  return [...left, ...Array<number>(missing).fill(0), ...right]
}

/** Host names that only ever mean this machine or its private network. */
const LOCAL_NAMES = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa|localdomain)$/

/** Whether `host` (lower case, no port) matches an allow-list entry. */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) => {
    const pattern = entry.toLowerCase()
    if (pattern === '*') return true
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
    return host === pattern
  })
}

/**
 * Why a URL may not be called under `policy`, judging by its text alone (the addresses a name
 * resolves to are checked when the request is made), or undefined when it may. `hosts`, when
 * given, is the allow-list the URL's host must be on; `httpAllowed` lets `http:` through even
 * without the development switch (sync triggers: an admin's choice).
 */
export function outboundUrlRefusal(
  text: string,
  policy: OutboundPolicy,
  options: { readonly hosts?: readonly string[]; readonly httpAllowed?: boolean } = {},
): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return 'is not a URL'
  }
  const httpAllowed = policy.allowPrivateNetworks || options.httpAllowed === true
  if (url.protocol !== 'https:' && !(httpAllowed && url.protocol === 'http:'))
    return `has scheme ${url.protocol}, not ${httpAllowed ? 'http: or https:' : 'https:'}`
  if (url.username !== '' || url.password !== '') return 'carries credentials'
  if (policy.allowPrivateNetworks) return undefined
  // The URL parser keeps IPv6 literals in brackets.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (isIP(host) !== 0) {
    const why = nonPublicAddress(host)
    if (why !== undefined) return `names ${host}, ${why}`
  } else if (LOCAL_NAMES.test(host) || !host.includes('.')) return `names ${host}, a local host name`
  if (options.hosts !== undefined) {
    if (!hostAllowed(host, options.hosts))
      return `names ${host}, which is not an allowed push service (${options.hosts.join(', ')})`
    // Push services listen on 443; another port of an allowed host is something else of it.
    if (url.port !== '') return `names port ${url.port}; push services use the default port`
  }
  return undefined
}

/** A request the policy refused; `code` lets callers tell it from network failures. */
export class OutboundRefusedError extends Error {
  override readonly name = 'OutboundRefusedError'
  readonly code = 'EOUTBOUNDREFUSED'
}

type Resolve = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void

export interface OutboundFetchOptions {
  /** Name resolution; DNS (`dns.lookup`) by default. Tests give their own. */
  readonly resolve?: Resolve
}

/** The part of `fetch` the senders use. */
export type OutboundFetch = (
  url: string,
  init: {
    readonly method: string
    readonly headers?: Headers | Readonly<Record<string, string>>
    readonly body?: Uint8Array<ArrayBuffer> | string
    readonly signal?: AbortSignal
    /** Redirects are never followed here; a `fetch` given instead is asked not to either. */
    readonly redirect?: 'manual'
  },
) => Promise<Response>

/**
 * A `fetch` for URLs clients chose, under `policy`: the URL's text is checked first, then every
 * address its host resolves to, inside the connection itself (Node's `lookup` hook), so a name that
 * resolves to a public address when checked and a private one when connected (DNS rebinding) gains
 * nothing. Redirects are never followed. A refusal rejects with {@link OutboundRefusedError}.
 */
export function createOutboundFetch(
  policy: OutboundPolicy,
  options: OutboundFetchOptions = {},
): OutboundFetch {
  const resolve: Resolve = options.resolve ?? ((host, opts, callback) => dnsLookup(host, opts, callback))
  const lookup: RequestOptions['lookup'] = (hostname, lookupOptions, callback) => {
    const family = typeof lookupOptions === 'object' ? lookupOptions.family : undefined
    resolve(
      hostname,
      { all: true, ...(typeof family === 'number' ? { family } : {}) },
      (error, addresses) => {
        if (error !== null) return callback(error, '', 0)
        if (!policy.allowPrivateNetworks) {
          for (const { address } of addresses) {
            const why = nonPublicAddress(address)
            if (why !== undefined)
              return callback(new OutboundRefusedError(`${hostname} resolves to ${address}, ${why}`), '', 0)
          }
        }
        const first = addresses[0]
        if (first === undefined)
          return callback(new OutboundRefusedError(`${hostname} resolves to nothing`), '', 0)
        if (typeof lookupOptions === 'object' && lookupOptions.all === true)
          return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses)
        callback(null, first.address, first.family)
      },
    )
  }
  return async (target, init) => {
    const refusal = outboundUrlRefusal(target, policy, { httpAllowed: true })
    if (refusal !== undefined) throw new OutboundRefusedError(`${redact(target)} ${refusal}`)
    const url = new URL(target)
    const headers: Record<string, string> = {}
    if (init.headers instanceof Headers)
      init.headers.forEach((value, name) => {
        headers[name] = value
      })
    else Object.assign(headers, init.headers)
    const body = init.body === undefined ? undefined : Buffer.from(init.body)
    if (body !== undefined) headers['content-length'] = String(body.byteLength)
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise<Response>((resolvePromise, reject) => {
      const request = send(url, {
        method: init.method,
        headers,
        lookup,
        ...(init.signal === undefined ? {} : { signal: init.signal }),
      })
      request.on('response', (response) => {
        const status = response.statusCode ?? 0
        if (status < 200 || status > 599) {
          response.destroy()
          return reject(new Error(`unexpected HTTP status ${status}`))
        }
        const empty = status === 204 || status === 205 || status === 304 || init.method === 'HEAD'
        if (empty) response.resume()
        resolvePromise(
          new Response(empty ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>), {
            status,
            headers: webHeaders(response.headers),
          }),
        )
      })
      request.on('error', reject)
      request.end(body)
    })
  }
}

function webHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) out.append(name, item)
  }
  return out
}

/** A URL as an error may show it: scheme, host and path, no query (a push endpoint's token may be in it). */
function redact(text: string): string {
  try {
    const url = new URL(text)
    return `${url.protocol}//${url.host}${url.pathname.length > 40 ? `${url.pathname.slice(0, 40)}…` : url.pathname}`
  } catch {
    return 'the URL'
  }
}
