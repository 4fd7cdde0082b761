import type { OutboxRow, RecordRow, StoreReadiness, StoreTx } from './contract.js'

/**
 * What every store implementation needs the same way: page sizes, the guard against a store call
 * that outlives its transaction, the one-at-a-time transaction queue of the single-connection
 * stores, and the batch rules that make a batch write equal to writing its rows one by one.
 */

/**
 * `undefined` is no limit; a negative one returns nothing, like a limit of 0. (SQLite reads a
 * negative LIMIT as none, and LIMIT takes integers only.)
 */
export const pageSize = (limit: number | undefined): number =>
  limit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.trunc(limit))

/**
 * Whether a transaction is still open. A call that outlives its callback (a forgotten await) would
 * otherwise run in the next transaction on the connection, or in none, past a rollback.
 */
export class TransactionScope {
  #open = true

  end(): void {
    this.#open = false
  }

  check(): void {
    if (!this.#open) throw new Error('The transaction has ended; a store call ran after its callback settled')
  }
}

/**
 * Transactions one at a time, in the order they were asked for: what a store with one connection
 * (SQLite, memory) gives instead of locks, which serialises every identity as `lock` asks. A failed
 * transaction does not stop the next.
 */
export function serialTransactions(begin: <T>(fn: (tx: StoreTx) => Promise<T>) => Promise<T>) {
  let tail: Promise<unknown> = Promise.resolve()
  let closed = false
  return {
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(new Error('The store is closed'))
      const result = tail.then(() => begin(fn))
      tail = result.catch(() => undefined)
      return result
    },
    /** Refuses new transactions and waits for the ones already asked for. */
    async close(): Promise<void> {
      closed = true
      await tail
    },
    get closed(): boolean {
      return closed
    },
  }
}

export const CLOSED: StoreReadiness = { ready: false, reason: 'the store is closed' }

/** Records of one batch, the last row of a key winning, as one put after another would leave them. */
export function lastPerKey(rows: readonly RecordRow[]): RecordRow[] {
  const byKey = new Map<string, RecordRow>()
  for (const row of rows) byKey.set(row.key, row)
  return [...byKey.values()]
}

/**
 * Outbox rows of one batch: of one (device, dataset), the first row of the highest sync count, as
 * one put after another would leave it (a row replaces a pending one only with a higher count).
 */
export function newestPerPush(rows: readonly OutboxRow[]): OutboxRow[] {
  const byPush = new Map<string, OutboxRow>()
  for (const row of rows) {
    const key = JSON.stringify([row.deviceId, row.datasetName])
    const kept = byPush.get(key)
    if (kept === undefined || row.syncCount > kept.syncCount) byPush.set(key, row)
  }
  return [...byPush.values()]
}
