/**
 * The PouchDB side's server, in a process of its own: express-pouchdb (CouchDB's HTTP API, in the
 * mode PouchDB needs) on express 4, over PouchDB with memory storage, as PouchDB's documentation
 * sets one up. Prints `listening on http://HOST:PORT/db` when ready.
 */
import type { AddressInfo } from 'node:net'
import express from 'express'
import expressPouchdb from 'express-pouchdb'
import { Pouch } from './pouchdb-setup.js'

const app = express()
app.use(
  '/db',
  expressPouchdb(Pouch.defaults({ adapter: 'memory' }), { mode: 'minimumForPouchDB', inMemoryConfig: true }),
)
const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`listening on http://127.0.0.1:${port}/db\n`)
})
process.on('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
