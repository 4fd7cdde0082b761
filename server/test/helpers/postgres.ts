import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * The PostgreSQL server the tests use: PUSHSYNC_TEST_POSTGRES_URL, default the machine's own.
 * Without a reachable one the tests skip and say why, unless PUSHSYNC_REQUIRE_POSTGRES=1 (set by
 * CI), which makes its absence a failure.
 */
export const ADMIN_URL = process.env.PUSHSYNC_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Why PostgreSQL cannot be used here, or undefined when it can; `skipping` names what then skips. */
export async function postgresUnreachable(skipping: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 })
  let why: string | undefined
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    why = (error as Error).message
  } finally {
    await client.end().catch(() => undefined)
  }
  if (why === undefined) return undefined
  const message = `PostgreSQL is not reachable at ${ADMIN_URL.replace(/:[^/@:]*@/, ':***@')} (${why}); set PUSHSYNC_TEST_POSTGRES_URL`
  if (process.env.PUSHSYNC_REQUIRE_POSTGRES === '1')
    throw new Error(`${message}; PUSHSYNC_REQUIRE_POSTGRES=1 makes the PostgreSQL tests mandatory`)
  console.warn(`[pushsync] skipping ${skipping}: ${message}`)
  return why
}

/** A database name of its own for one test file, and its URL on the same server. */
export function testDatabase(): { name: string; url: string } {
  const name = `pushsync_test_${randomBytes(6).toString('hex')}`
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return { name, url: url.toString() }
}
