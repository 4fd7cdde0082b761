import pg, { type PoolConfig } from 'pg'
import type { StoreBus } from './contract.js'
import { CLAIM_LOCK_SPACE } from './sql/statements.js'

/** NOTIFY carries at most 8000 bytes; a message near that is dropped rather than cut. */
const MAX_NOTIFY_BYTES = 7900
/** A broken session is reopened after this pause. */
const REOPEN_DELAY_MS = 1000

/**
 * A PostgreSQL store's own long-lived connection, the one thing of a process that PostgreSQL sees
 * come and go with it. It carries two things:
 *
 * - the bus: LISTEN on the store's channel (publishing is one `pg_notify` through the pool);
 *   messages are signed with the store's id, so a process does not hear itself;
 * - the process's presence: a session advisory lock (space {@link CLAIM_LOCK_SPACE}, second key the
 *   claim holder). Outbox rows this process claims name that holder, and count as claimed exactly
 *   while the lock is held. When the process dies, its connection closes, PostgreSQL drops the lock
 *   with it, and other processes take the rows over at once.
 *
 * A session that breaks loses both: the holder is unset at once (the process then claims nothing),
 * and the session is reopened after a pause, with a new holder.
 */
export interface StoreSession {
  readonly bus: StoreBus
  /** This process's claim holder while the session holds its lock; undefined meanwhile. */
  holder(): number | undefined
  /** `up` while the session is open with its lock (and its LISTEN, once anyone subscribed). */
  state(): 'up' | 'down'
  /** Settles once the first attempt to open has finished, whether it worked or not. */
  readonly opened: Promise<void>
  close(): Promise<void>
}

export function openStoreSession(
  config: PoolConfig,
  channel: string,
  origin: string,
  pool: pg.Pool,
): StoreSession {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel))
    throw new Error(`busChannel must be a lowercase SQL name, not ${channel}`)
  const listeners = new Set<(message: string) => void>()
  let client: pg.Client | undefined
  let holder: number | undefined
  /** Whether `client` has run its LISTEN. */
  let listening = false
  let closed = false
  let retry: ReturnType<typeof setTimeout> | undefined
  let firstListen: (() => void) | undefined
  const listened = new Promise<void>((resolve) => {
    firstListen = resolve
  })

  const deliver = (payload: string): void => {
    const space = payload.indexOf(' ')
    if (space < 0 || payload.slice(0, space) === origin) return
    const message = payload.slice(space + 1)
    for (const listener of [...listeners]) {
      try {
        listener(message)
      } catch {
        // One subscriber's failure is not another's.
      }
    }
  }

  const listenOn = async (open: pg.Client): Promise<void> => {
    if (listening || listeners.size === 0) return
    await open.query(`LISTEN ${channel}`)
    if (client === open) listening = true
  }

  const open = async (): Promise<void> => {
    if (closed || client !== undefined) return
    const next = new pg.Client(config)
    client = next
    const reopen = () => {
      if (client !== next) return
      client = undefined
      holder = undefined
      listening = false
      next.end().catch(() => undefined)
      if (!closed) retry = setTimeout(() => void open(), REOPEN_DELAY_MS)
    }
    next.on('error', reopen)
    next.on('end', reopen)
    next.on('notification', (notification) => {
      if (notification.channel === channel) deliver(notification.payload ?? '')
    })
    try {
      await next.connect()
      const taken = await takeHolder(next)
      if (client !== next) return
      holder = taken
      await listenOn(next)
    } catch {
      reopen()
    } finally {
      if (listeners.size > 0) firstListen?.()
    }
  }

  const opened = open()

  return {
    bus: {
      publish(message) {
        const payload = `${origin} ${message}`
        if (closed || Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) return
        pool.query('SELECT pg_notify($1, $2)', [channel, payload]).catch(() => undefined)
      },
      subscribe(listener) {
        listeners.add(listener)
        const current = client
        if (current !== undefined && holder !== undefined) {
          // Open: it listens from now on.
          listenOn(current)
            .catch(() => undefined)
            .finally(() => firstListen?.())
        } else if (current === undefined) {
          // Down: the reopened session will listen; the first attempt is over.
          void opened.then(() => firstListen?.())
        }
        // Being opened: it listens once connected (see open).
        return () => void listeners.delete(listener)
      },
      listening: () => listened,
    },
    holder: () => holder,
    state: () => (holder !== undefined && (listening || listeners.size === 0) ? 'up' : 'down'),
    opened,
    async close() {
      closed = true
      firstListen?.()
      if (retry !== undefined) clearTimeout(retry)
      const current = client
      client = undefined
      holder = undefined
      // Ending the connection drops the lock: the rows this process claimed are free at once.
      await current?.end().catch(() => undefined)
    },
  }
}

/**
 * A claim holder no other live process has: a random positive 31-bit number whose session lock
 * this connection could take (another process's lock makes it try another).
 */
async function takeHolder(client: pg.Client): Promise<number> {
  for (;;) {
    const candidate = 1 + Math.floor(Math.random() * 0x7ffffffe)
    const { rows } = await client.query<{ taken: boolean }>(
      'SELECT pg_try_advisory_lock($1::int, $2::int) AS taken',
      [CLAIM_LOCK_SPACE, candidate],
    )
    if (rows[0]?.taken === true) return candidate
  }
}
