/**
 * pushsync-server with the pushsync benchmark page on its origin, in a process of its own:
 * `/pushsync.html` loads the bundle of pushsync-page.ts; every other request goes to the sync server
 * (memory store, guests allowed), so the page uses the API and SSE without CORS. Prints
 * `listening on URL` when ready.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import { createSyncServer } from '../../../server/src/server.js'
import { createMemoryStore } from '../../../server/src/store/memory.js'
import { bundleForBrowser } from '../../../test/browser/support/bundle.js'

const script = await bundleForBrowser(fileURLToPath(new URL('./pushsync-page.ts', import.meta.url)))
const sync = await createSyncServer({
  db: createMemoryStore(),
  allowUnauthenticated: true,
  tokenSecret: 'browser-bench',
})
const html =
  '<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/pushsync.js"></script>'
const fetch = (request: Request): Response | Promise<Response> => {
  const { pathname } = new URL(request.url)
  if (pathname === '/pushsync.js')
    return new Response(script, { headers: { 'content-type': 'text/javascript' } })
  if (pathname === '/pushsync.html')
    return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })
  return sync.fetch(request)
}
const http = await new Promise<Server>((resolve) => {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(server as Server))
})
const { port } = http.address() as AddressInfo
process.stdout.write(`listening on http://127.0.0.1:${port}\n`)
process.on('SIGTERM', () => {
  http.closeAllConnections()
  http.close(() => void sync.close().then(() => process.exit(0)))
})
