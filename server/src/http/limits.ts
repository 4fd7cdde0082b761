/**
 * What one server process lets its clients hold, by default. Figures behind them (memory per
 * connection, per buffered byte) are in docs/server/operations.md.
 */

/** Request body bytes buffered at once across all requests: eight bodies of the 8 MiB limit. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024
/** Connections open at once, live event streams included. */
export const DEFAULT_MAX_CONNECTIONS = 10_000
/** Time a client has to send its request's headers. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
/** Time a client has to send a whole request, body included. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
