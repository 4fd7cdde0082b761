// The container's HEALTHCHECK: exits 0 when pushsync-server inside answers GET /readyz with 2xx
// (it is serving and its database is reachable), 1 otherwise. Plain Node, no dependencies.
//
//   node healthcheck.mjs       (the port comes from PUSHSYNC_PORT, default 8787)
const port = process.env.PUSHSYNC_PORT || '8787'
const url = `http://127.0.0.1:${port}/readyz`

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) })
  if (!response.ok) {
    console.error(`${url}: HTTP ${response.status}`)
    process.exit(1)
  }
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}
