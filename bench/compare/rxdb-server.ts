/**
 * The RxDB side's server, in a process of its own: a memory-storage RxDatabase served with RxDB's
 * own WebSocket replication server (`startWebsocketServer` from rxdb/plugins/replication-websocket).
 * `cold` is seeded with the workload's records. With `--page FILE` it also serves that browser
 * bundle as `/rxdb.html` + `/rxdb.js` on the same origin (IndexedDB needs a real origin).
 *
 * Prints `listening on ws://HOST:PORT/rxdb` when ready.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRxDatabase } from 'rxdb'
import { startWebsocketServer } from 'rxdb/plugins/replication-websocket'
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory'
import { KEY_VALUE_SCHEMA, RXDB_COLLECTIONS, RXDB_SOCKET_PATH } from './rxdb-schema.js'
import { COLD_RECORDS, coldKey, coldValue } from './workload.js'

const pageIndex = process.argv.indexOf('--page')
const page = pageIndex < 0 ? undefined : readFileSync(process.argv[pageIndex + 1] as string, 'utf8')

const database = await createRxDatabase({
  name: 'server',
  storage: getRxStorageMemory(),
  multiInstance: false,
})
await database.addCollections(
  Object.fromEntries(RXDB_COLLECTIONS.map((name) => [name, { schema: KEY_VALUE_SCHEMA }])),
)
await database.collections.cold?.bulkInsert(
  Array.from({ length: COLD_RECORDS }, (_, i) => ({ id: coldKey(i), value: coldValue(i) })),
)

const http = createServer((request, response) => {
  if (page !== undefined && request.url === '/rxdb.js') {
    response.writeHead(200, { 'content-type': 'text/javascript' }).end(page)
  } else if (page !== undefined && request.url?.startsWith('/rxdb.html')) {
    response
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(
        '<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/rxdb.js"></script>',
      )
  } else {
    response.writeHead(404).end()
  }
})
startWebsocketServer({ database, server: http, path: RXDB_SOCKET_PATH })
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
const { port } = http.address() as AddressInfo
process.stdout.write(`listening on ws://127.0.0.1:${port}${RXDB_SOCKET_PATH}\n`)
process.on('SIGTERM', () => {
  http.closeAllConnections()
  void database.close().finally(() => process.exit(0))
})
