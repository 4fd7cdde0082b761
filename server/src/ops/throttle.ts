/**
 * Token buckets that keep hostile or broken clients from costing much: every key (a client
 * address, an identity) holds up to `burst` tokens, refilled at `rate` per second; a request takes
 * one or is refused with the time until the next one.
 *
 * Memory is bounded: each kind of bucket remembers at most `maxKeys` keys and forgets the least
 * recently used beyond that, so a client rotating addresses evicts buckets instead of growing the
 * map. A forgotten key starts again with a full bucket, which is the price of the bound: an
 * attacker who fills the map can reset a throttled key, never exhaust the server's memory.
 */

export interface TokenBucketSettings {
  /** Tokens added per second (fractions allowed: 0.2 is one every 5 seconds). */
  readonly rate: number
  /** Tokens a full bucket holds: the requests a quiet key may make at once. */
  readonly burst: number
}

export interface ThrottleOptions {
  /**
   * `GetId` without `Logins` (a new guest identity), per client address; IPv6 addresses count per
   * /64, the block one host usually gets. `false` turns it off.
   */
  readonly guestGetId?: TokenBucketSettings | false
  /** Requests per identity, counted once a request is authenticated. `false` turns it off. */
  readonly identity?: TokenBucketSettings | false
  /** Keys each kind of bucket remembers before it forgets the least recently used (default 100000). */
  readonly maxKeys?: number
}

/** The command's figures (`createSyncServer` throttles only when given `throttle`). */
export const DEFAULT_THROTTLE = {
  guestGetId: { rate: 0.2, burst: 30 },
  identity: { rate: 10, burst: 100 },
  maxKeys: 100_000,
} as const satisfies ThrottleOptions

export type ThrottleKind = 'guestGetId' | 'identity'

export interface RequestThrottle {
  /**
   * Takes a token of `key`'s bucket of that kind: 0 when the request may go on, else the
   * milliseconds until it could. A kind that is off always answers 0.
   */
  take(kind: ThrottleKind, key: string, now: number): number
  /** Keys remembered per kind. */
  sizes(): Record<ThrottleKind, number>
}

export function createRequestThrottle(options: ThrottleOptions): RequestThrottle {
  const maxKeys = options.maxKeys ?? DEFAULT_THROTTLE.maxKeys
  const bucketsOf = (settings: TokenBucketSettings | false | undefined) =>
    settings === undefined || settings === false ? undefined : createTokenBuckets(settings, maxKeys)
  const buckets: Record<ThrottleKind, TokenBuckets | undefined> = {
    guestGetId: bucketsOf(options.guestGetId),
    identity: bucketsOf(options.identity),
  }
  return {
    take: (kind, key, now) => buckets[kind]?.take(key, now) ?? 0,
    sizes: () => ({ guestGetId: buckets.guestGetId?.size ?? 0, identity: buckets.identity?.size ?? 0 }),
  }
}

export interface TokenBuckets {
  /** 0 when `key` had a token (now taken), else the milliseconds until it has one. */
  take(key: string, now: number): number
  /** Keys remembered. */
  readonly size: number
}

interface Bucket {
  readonly key: string
  tokens: number
  /** When `tokens` was last brought up to date, in epoch milliseconds. */
  at: number
  /** Neighbours in recency order: `newer` toward the most recently used, `older` toward eviction. */
  newer: Bucket | undefined
  older: Bucket | undefined
}

export function createTokenBuckets(settings: TokenBucketSettings, maxKeys: number): TokenBuckets {
  const { rate, burst } = settings
  if (!(Number.isFinite(rate) && rate > 0))
    throw new RangeError(`rate must be a positive number, not ${rate}`)
  if (!(Number.isSafeInteger(burst) && burst >= 1))
    throw new RangeError(`burst must be a positive integer, not ${burst}`)
  if (!(Number.isSafeInteger(maxKeys) && maxKeys >= 1))
    throw new RangeError(`maxKeys must be a positive integer, not ${maxKeys}`)
  // A map for lookups and a linked list for recency, so that using a key and evicting the least
  // recently used one are both constant time. (Evicting through the Map's insertion order would
  // not be: V8 keeps deleted entries as holes, and finding the first live one walks over them.)
  const buckets = new Map<string, Bucket>()
  let newest: Bucket | undefined
  let oldest: Bucket | undefined

  const unlink = (bucket: Bucket) => {
    if (bucket.newer === undefined) newest = bucket.older
    else bucket.newer.older = bucket.older
    if (bucket.older === undefined) oldest = bucket.newer
    else bucket.older.newer = bucket.newer
    bucket.newer = undefined
    bucket.older = undefined
  }
  const pushNewest = (bucket: Bucket) => {
    bucket.older = newest
    if (newest === undefined) oldest = bucket
    else newest.newer = bucket
    newest = bucket
  }

  return {
    take(key, now) {
      let bucket = buckets.get(key)
      if (bucket === undefined) {
        if (buckets.size >= maxKeys && oldest !== undefined) {
          const evicted = oldest
          unlink(evicted)
          buckets.delete(evicted.key)
        }
        bucket = { key, tokens: burst, at: now, newer: undefined, older: undefined }
        buckets.set(key, bucket)
      } else {
        unlink(bucket)
        // A clock that steps back refills nothing rather than draining the bucket.
        const elapsed = Math.max(0, now - bucket.at)
        bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * rate) / 1000)
        bucket.at = now
      }
      pushNewest(bucket)
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return 0
      }
      return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / rate))
    },
    get size() {
      return buckets.size
    },
  }
}
