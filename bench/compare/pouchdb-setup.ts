import httpAdapter from 'pouchdb-adapter-http'
import memoryAdapter from 'pouchdb-adapter-memory'
import PouchDB, { type PouchDBStatic } from 'pouchdb-core'
import replication from 'pouchdb-replication'

/** PouchDB as the benchmark uses it on both sides: memory storage, HTTP remotes, replication. */
export const Pouch: PouchDBStatic = PouchDB.plugin(memoryAdapter).plugin(httpAdapter).plugin(replication)
