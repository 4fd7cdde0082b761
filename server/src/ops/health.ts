import type { StoreReadiness } from '../store/contract.js'

/**
 * `/readyz` asks the store at most this often: probes arriving together (or an unauthenticated
 * client hammering the path) share one look at the database.
 */
const READINESS_REUSE_MS = 1000
/** A store that has not answered by then is not ready: a probe must not hang with it. */
const READINESS_TIMEOUT_MS = 2000

export interface HealthAnswer {
  readonly status: 200 | 503
  readonly body: { readonly status: 'ok' | 'ready' | 'unready'; readonly reason?: string }
}

/** `/healthz`: the process answers. Nothing else is looked at, so a slow database never restarts it. */
export const liveness = (): HealthAnswer => ({ status: 200, body: { status: 'ok' } })

/**
 * `/readyz`: whether requests can be served now: the store answers, its schema is migrated, and on
 * PostgreSQL the change bus listens (see `SyncStore.readiness`).
 */
export function createReadinessCheck(
  readiness: () => Promise<StoreReadiness>,
  timeoutMs = READINESS_TIMEOUT_MS,
): () => Promise<HealthAnswer> {
  let last: { at: number; answer: Promise<HealthAnswer> } | undefined
  const check = async (): Promise<HealthAnswer> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<StoreReadiness>((resolve) => {
      timer = setTimeout(
        () => resolve({ ready: false, reason: `the store did not answer within ${timeoutMs} ms` }),
        timeoutMs,
      )
    })
    try {
      const found = await Promise.race([readiness(), timeout])
      return found.ready
        ? { status: 200, body: { status: 'ready' } }
        : { status: 503, body: { status: 'unready', reason: found.reason } }
    } catch (error) {
      return { status: 503, body: { status: 'unready', reason: (error as Error).message } }
    } finally {
      clearTimeout(timer)
    }
  }
  return () => {
    const at = performance.now()
    if (last === undefined || at - last.at > READINESS_REUSE_MS) last = { at, answer: check() }
    return last.answer
  }
}
