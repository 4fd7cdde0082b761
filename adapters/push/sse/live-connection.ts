/**
 * What the SSE push source and the WebSocket transport's socket do alike for a connection that
 * lives until stopped: check where it goes, and take a fresh bearer token for each connect.
 */
import { SyncError } from '../../../src/errors.js'

/** Refuses an endpoint, pool or identity that is not a non-empty string: INVALID_ARGUMENT of `adapter`. */
export function requireConnectionTarget(
  target: { readonly endpoint: unknown; readonly identityPoolId: unknown; readonly identityId: unknown },
  adapter: string,
): void {
  for (const name of ['endpoint', 'identityPoolId', 'identityId'] as const) {
    const value = target[name]
    if (typeof value !== 'string' || value === '') {
      throw new SyncError('INVALID_ARGUMENT', `${name} must be a non-empty string`, { adapter })
    }
  }
}

/** The token for one connection, or what to report (as TRANSPORT_AUTH) when there is none. */
export async function connectionToken(
  getToken: () => string | Promise<string>,
): Promise<{ readonly token: string } | { readonly failure: string; readonly cause: unknown }> {
  try {
    const token = await getToken()
    if (typeof token !== 'string') throw new TypeError(`getToken returned ${typeof token}, not a string`)
    return { token }
  } catch (error) {
    return { failure: `getToken failed: ${describeError(error)}`, cause: error }
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
