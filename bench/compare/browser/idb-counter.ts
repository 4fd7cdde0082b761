/**
 * An init script for benchmark pages: counts IndexedDB transactions (and how many are readwrite),
 * IndexedDB requests (each call on a store, an index or a cursor that answers with a request) and
 * localStorage calls, from before the page's own scripts run; and keeps a timeline of what a write
 * set off: transactions beginning and completing, requests sent and answered, stream chunks read,
 * WebSocket messages sent and received. `__storageCounts.take()` answers both since the last take.
 * A string, not a function: a page gets it verbatim, with nothing a compiler added.
 */
export const STORAGE_COUNTER_SCRIPT = `(() => {
  const counts = { transactions: 0, readwrite: 0, requests: 0, localStorage: 0 }
  let timeline = []
  const now = () => performance.timeOrigin + performance.now()
  const note = (what) => timeline.push([now(), what])
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
      const mode = args[1] === 'readwrite' ? 'readwrite' : 'readonly'
      if (mode === 'readwrite') counts.readwrite++
      const stores = [].concat(args[0]).join(', ')
      const tx = transaction.apply(this, args)
      note('IndexedDB ' + mode + ' transaction begins (' + stores + ')')
      tx.addEventListener('complete', () => note('IndexedDB ' + mode + ' transaction complete'))
      return tx
    }
    const reads = ['get', 'getAll', 'getAllKeys', 'getKey', 'count', 'openCursor', 'openKeyCursor']
    count(IDBObjectStore.prototype, [...reads, 'put', 'add', 'delete', 'clear'], 'requests')
    count(IDBIndex.prototype, reads, 'requests')
    count(IDBCursor.prototype, ['continue', 'advance', 'continuePrimaryKey', 'update', 'delete'], 'requests')
  }
  if (typeof Storage !== 'undefined') {
    count(Storage.prototype, ['getItem', 'setItem', 'removeItem', 'key', 'clear'], 'localStorage')
  }
  const pageFetch = globalThis.fetch
  globalThis.fetch = function (input, init) {
    const url = new URL(typeof input === 'string' ? input : input.url, location.href)
    const what = ((init && init.method) || 'GET') + ' ' + url.pathname.split('/').slice(-2).join('/')
    note('fetch ' + what)
    const answer = pageFetch.apply(this, arguments)
    answer.then(() => note('response head of ' + what), () => {})
    return answer
  }
  const read = ReadableStreamDefaultReader.prototype.read
  ReadableStreamDefaultReader.prototype.read = function (...args) {
    const chunk = read.apply(this, args)
    chunk.then((result) => { if (!result.done) note('stream chunk read') }, () => {})
    return chunk
  }
  const PageWebSocket = globalThis.WebSocket
  globalThis.WebSocket = class extends PageWebSocket {
    constructor(...args) {
      super(...args)
      this.addEventListener('message', () => note('WebSocket message received'))
    }
    send(data) {
      note('WebSocket message sent')
      return super.send(data)
    }
  }
  globalThis.__storageCounts = {
    take() {
      const taken = { ...counts, timeline }
      for (const field of Object.keys(counts)) counts[field] = 0
      timeline = []
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
  /** Page-clock times (`performance.timeOrigin + performance.now()`) and what happened then. */
  readonly timeline: ReadonlyArray<readonly [number, string]>
}
