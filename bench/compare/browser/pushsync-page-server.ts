/**
 * pushsync-server with the pushsync benchmark page on its origin, in a process of its own:
 * `/pushsync.html` loads the bundle of pushsync-page.ts; every other request goes to the sync server
 * (memory store, guests allowed), so the page uses the API, SSE and the socket without CORS. Prints
 * `listening on URL` when ready.
 */
import { fileURLToPath } from 'node:url'
import { createSyncServer } from '../../../server/src/server.js'
import { createMemoryStore } from '../../../server/src/store/memory.js'
import { bundleForBrowser } from '../../../test/browser/support/bundle.js'

const script = await bundleForBrowser(fileURLToPath(new URL('./pushsync-page.ts', import.meta.url)))
const html =
  '<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/pushsync.js"></script>'
// The page is served by the sync server itself (its `site`), so its WebSocket upgrades are too.
const sync = await createSyncServer({
  db: createMemoryStore(),
  allowUnauthenticated: true,
  tokenSecret: 'browser-bench',
  site(request) {
    const { pathname } = new URL(request.url)
    if (pathname === '/pushsync.js')
      return new Response(script, { headers: { 'content-type': 'text/javascript' } })
    if (pathname === '/pushsync.html')
      return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })
    return undefined
  },
})
const { url } = await sync.listen(0, '127.0.0.1')
process.stdout.write(`listening on ${url}\n`)
process.on('SIGTERM', () => {
  void sync.close().then(() => process.exit(0))
})
