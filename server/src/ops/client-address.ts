import { isIP } from 'node:net'

/**
 * The address a request came from, as a throttling key. Without `trustProxy` it is the socket's
 * peer, which a client cannot choose. With it, the server sits behind one reverse proxy that
 * appends the address it saw to `X-Forwarded-For`: the last entry is that address (entries before
 * it are whatever the client sent, so they are never read). A request without a usable header
 * falls back to the socket's peer.
 */
export function clientAddress(
  headers: Headers,
  socketAddress: string | undefined,
  trustProxy: boolean,
): string | undefined {
  if (trustProxy) {
    const forwarded = headers.get('x-forwarded-for')
    const last = forwarded?.slice(forwarded.lastIndexOf(',') + 1).trim()
    if (last !== undefined && isIP(last) !== 0) return last
  }
  return socketAddress
}

/**
 * The key an address is throttled under: an IPv4 address as it is (also when it arrives mapped
 * into IPv6, `::ffff:192.0.2.1`); an IPv6 address by its /64 prefix, since one host usually holds
 * a whole /64 and could otherwise rotate through it; anything else (no socket, as when the handler
 * is called in-process) under one shared key.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined) return mapped[1]
  switch (isIP(address)) {
    case 4:
      return address
    case 6:
      return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`
    default:
      return 'unknown'
  }
}

/** The eight groups of an IPv6 address, lower case without leading zeros; a zone id is dropped. */
function ipv6Groups(address: string): string[] {
  const bare = address.split('%')[0] ?? address
  const [head = '', tail] = bare.split('::')
  const part = (text: string) => (text === '' ? [] : text.split(':'))
  const left = part(head)
  const right = tail === undefined ? [] : part(tail)
  // An embedded IPv4 tail (`::1.2.3.4`) stands for two groups.
  const expand = (groups: string[]) =>
    groups.flatMap((group) => {
      if (!group.includes('.')) return [group]
      const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number)
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
    })
  const l = expand(left)
  const r = expand(right)
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - l.length - r.length }, () => '0')
  return [...l, ...zeros, ...r].map((group) => Number.parseInt(group, 16).toString(16))
}
