/**
 * An init script for benchmark pages: counts IndexedDB transactions (and how many are readwrite),
 * IndexedDB requests (each call on a store, an index or a cursor that answers with a request) and
 * localStorage calls, from before the page's own scripts run. `__storageCounts.take()` answers the
 * counts since the last take. A string, not a function: a page gets it verbatim, with nothing a
 * compiler added.
 */
export const STORAGE_COUNTER_SCRIPT = `(() => {
  const counts = { transactions: 0, readwrite: 0, requests: 0, localStorage: 0 }
  const count = (proto, names, field) => {
    for (const name of names) {
      const original = proto[name]
      if (typeof original !== 'function') continue
      proto[name] = function (...args) {
        counts[field]++
        return original.apply(this, args)
      }
    }
  }
  if (typeof IDBDatabase !== 'undefined') {
    const transaction = IDBDatabase.prototype.transaction
    IDBDatabase.prototype.transaction = function (...args) {
      counts.transactions++
      if (args[1] === 'readwrite') counts.readwrite++
      return transaction.apply(this, args)
    }
    const reads = ['get', 'getAll', 'getAllKeys', 'getKey', 'count', 'openCursor', 'openKeyCursor']
    count(IDBObjectStore.prototype, [...reads, 'put', 'add', 'delete', 'clear'], 'requests')
    count(IDBIndex.prototype, reads, 'requests')
    count(IDBCursor.prototype, ['continue', 'advance', 'continuePrimaryKey', 'update', 'delete'], 'requests')
  }
  if (typeof Storage !== 'undefined') {
    count(Storage.prototype, ['getItem', 'setItem', 'removeItem', 'key', 'clear'], 'localStorage')
  }
  globalThis.__storageCounts = {
    take() {
      const taken = { ...counts }
      for (const field of Object.keys(counts)) counts[field] = 0
      return taken
    },
  }
})()`

/** What `__storageCounts.take()` answers. */
export interface StorageCounts {
  readonly transactions: number
  readonly readwrite: number
  readonly requests: number
  readonly localStorage: number
}
