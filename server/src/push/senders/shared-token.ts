/**
 * A credential that concurrent sends share (an APNs provider token, an FCM access token): fetched
 * once, reused while fresh, and dropped when the provider refuses it, unless a concurrent send has
 * already replaced it.
 */
export function sharedToken<TToken extends object>(
  fetchToken: () => Promise<TToken>,
  isFresh: (token: TToken) => boolean,
) {
  let cached: TToken | undefined
  let pending: Promise<TToken> | undefined
  return {
    get(): Promise<TToken> {
      if (cached !== undefined && isFresh(cached)) return Promise.resolve(cached)
      pending ??= fetchToken()
        .then((value) => {
          cached = value
          return value
        })
        .finally(() => {
          pending = undefined
        })
      return pending
    },
    discard(rejected: TToken): void {
      if (cached === rejected) cached = undefined
    },
  }
}
