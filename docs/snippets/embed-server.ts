import { createSyncServer } from '@pushsync/server'

const server = await createSyncServer({ db: 'pushsync.db', allowUnauthenticated: true })
const { url } = await server.listen(8787, '127.0.0.1')
console.log(`listening on ${url}`)

// close() lets open requests finish, then closes the database.
process.once('SIGTERM', () => void server.close())
