/**
 * A real sync server with test pages on its origin: `/<name>.html` loads the browser bundle of
 * `test/browser/pages/<name>.ts`; every other request goes to the sync server, so pages use the
 * API, SSE included, without CORS.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { serve } from '@hono/node-server'
import { createSyncServer, type SyncServer } from '../../../server/src/server.js'
import { createMemoryStore } from '../../../server/src/store/memory.js'
import { newIdentity, POOL } from '../../adapters/transport/sync-server.js'
import { bundleForBrowser } from './bundle.js'

export { POOL }

export interface PageServer {
  readonly url: string
  readonly sync: SyncServer
  /** A guest identity and its bearer token, as an app gets them from Cognito Identity. */
  newIdentity(): Promise<{ identityId: string; token: string }>
  close(): Promise<void>
}

export async function startPageServer(pages: readonly string[]): Promise<PageServer> {
  const scripts = new Map<string, string>()
  for (const page of pages) {
    scripts.set(page, await bundleForBrowser(fileURLToPath(new URL(`../pages/${page}.ts`, import.meta.url))))
  }
  const sync = await createSyncServer({
    db: createMemoryStore(),
    allowUnauthenticated: true,
    tokenSecret: 'browser-tests',
    sseHeartbeatMs: 1000,
  })
  const fetch = (request: Request): Response | Promise<Response> => {
    const { pathname } = new URL(request.url)
    const page = /^\/([a-z-]+)\.(html|js)$/.exec(pathname)
    const script = page === null ? undefined : scripts.get(page[1] as string)
    if (page === null || script === undefined) return sync.fetch(request)
    if (page[2] === 'js') return new Response(script, { headers: { 'content-type': 'text/javascript' } })
    const html = `<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/${page[1]}.js"></script>`
    return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })
  }
  // Without `createServer`, @hono/node-server makes a node:http server.
  const http = await new Promise<Server>((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(server as Server))
  })
  const { port } = http.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    sync,
    newIdentity: () => guestIdentity(url),
    async close() {
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await sync.close()
    },
  }
}

/** A guest identity and its bearer token from the server at `url`, through Cognito Identity. */
export async function guestIdentity(url: string): Promise<{ identityId: string; token: string }> {
  const { identityId, sessionToken } = await newIdentity(url)
  return { identityId, token: sessionToken }
}

// Run as a program (`tsx test/browser/support/page-server.ts tab ...`), it serves those pages in a
// process of its own, prints its URL and runs until killed: benchmarks measure it apart from the
// process that drives the browser.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startPageServer(process.argv.slice(2))
  process.stdout.write(`${server.url}\n`)
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
}
