/**
 * A device comes back online with changes in 20 datasets: `npm run bench:reconnect`.
 *
 * pushsync-server listens on loopback with a SQLite file. One device (memory storage, the HTTP
 * transport, a connectivity source the bench switches) writes one key in each of 20 datasets while
 * offline, then goes online; the manager synchronizes what is pending by itself. Measured per
 * round: the most requests in flight at once, the requests sent, and the time from the switch until
 * every dataset is clean. Median of the rounds. Each request also waits `--rtt` ms (default 5) on
 * the way, as a mobile network would, so that requests overlap the way they do outside loopback.
 * `--concurrency N` sets the manager's `backgroundConcurrency` (default: the manager's own).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { createMemoryStorage } from '../adapters/storage/memory/index.js'
import { createHttpTransport } from '../adapters/transport/http/index.js'
import { createSyncServer } from '../server/src/server.js'
import type { Transport } from '../src/index.js'
import { createSyncManager } from '../src/index.js'
import { newIdentity, POOL } from '../test/adapters/transport/sync-server.js'
import { interceptTransport } from '../test/engine/harness.js'

const DATASETS = 20
const ROUNDS = 7

const { values } = parseArgs({
  options: { rtt: { type: 'string', default: '5' }, concurrency: { type: 'string' } },
})
const rttMs = Number(values.rtt)
const concurrency =
  values.concurrency === undefined ? {} : { backgroundConcurrency: Number(values.concurrency) }

/** Counts requests in flight at once and delays each by the round trip. */
function counted(inner: Transport) {
  const counts = { now: 0, most: 0, total: 0 }
  const transport = interceptTransport(inner, async (call) => {
    counts.now++
    counts.total++
    counts.most = Math.max(counts.most, counts.now)
    try {
      await new Promise((resolve) => setTimeout(resolve, rttMs))
      return await call.proceed()
    } finally {
      counts.now--
    }
  })
  return { transport, counts }
}

async function round(url: string) {
  const who = await newIdentity(url)
  const { transport, counts } = counted(
    createHttpTransport({
      endpoint: url,
      identityPoolId: POOL,
      identityId: who.identityId,
      getToken: () => who.sessionToken,
    }),
  )
  let online = false
  const listeners = new Set<(online: boolean) => void>()
  const manager = createSyncManager({
    identityPoolId: POOL,
    identityId: who.identityId,
    storage: createMemoryStorage(),
    transport,
    ...concurrency,
    connectivity: {
      isOnline: () => online,
      subscribe(listener) {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
    },
  })
  const datasets = []
  for (let index = 0; index < DATASETS; index++) {
    const ds = await manager.openOrCreateDataset(`dataset-${index}`)
    await ds.put('key', `value ${index}`)
    datasets.push(ds)
  }
  const started = performance.now()
  online = true
  for (const listener of [...listeners]) listener(true)
  while (datasets.some((ds) => ds.getStatus().pendingChanges > 0)) {
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  const elapsed = performance.now() - started
  await manager.close()
  return { elapsed, most: counts.most, total: counts.total }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

const directory = mkdtempSync(join(tmpdir(), 'pushsync-reconnect-'))
const server = await createSyncServer({
  db: join(directory, 'bench.db'),
  allowUnauthenticated: true,
  tokenSecret: 'reconnect-bench',
})
try {
  const { url } = await server.listen(0)
  await round(url) // warm-up
  const rounds = []
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round(url))
  console.log(
    `reconnect with ${DATASETS} datasets holding changes (${ROUNDS} rounds, +${rttMs} ms per request)`,
  )
  console.log(
    `  requests in flight at once: ${median(rounds.map((r) => r.most))} (max ${Math.max(...rounds.map((r) => r.most))})`,
  )
  console.log(`  requests sent: ${median(rounds.map((r) => r.total))}`)
  console.log(
    `  until every dataset is clean: ${median(rounds.map((r) => r.elapsed)).toFixed(1)} ms (median)`,
  )
} finally {
  await server.close()
  rmSync(directory, { recursive: true, force: true })
}
