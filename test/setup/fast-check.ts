import fc from 'fast-check'

/**
 * Every property runs at least 1,000 cases; `PUSHSYNC_FC_RUNS` raises it (for a soak run) and
 * `PUSHSYNC_FC_SEED` replays a failure.
 */
const runs = Math.max(1000, Number(process.env.PUSHSYNC_FC_RUNS ?? 0) || 0)
const seed = process.env.PUSHSYNC_FC_SEED === undefined ? undefined : Number(process.env.PUSHSYNC_FC_SEED)

fc.configureGlobal({ numRuns: runs, ...(seed === undefined ? {} : { seed }) })
