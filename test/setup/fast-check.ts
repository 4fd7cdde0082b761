import fc from 'fast-check'

/**
 * Every property runs at least 1,000 cases; `PUSHSYNC_FC_RUNS` raises it (for a soak run) and
 * `PUSHSYNC_FC_SEED` replays a failure. In the browser project there is no `process`: the defaults apply.
 */
const env: Record<string, string | undefined> =
  typeof process === 'undefined' ? {} : (process.env as Record<string, string | undefined>)
const runs = Math.max(1000, Number(env.PUSHSYNC_FC_RUNS ?? 0) || 0)
const seed = env.PUSHSYNC_FC_SEED === undefined ? undefined : Number(env.PUSHSYNC_FC_SEED)

fc.configureGlobal({ numRuns: runs, ...(seed === undefined ? {} : { seed }) })
