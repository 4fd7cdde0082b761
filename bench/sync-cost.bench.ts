/**
 * What one write's synchronize costs in the engine, with no network: `npm run bench:sync-cost`.
 *
 * pushsync-server runs in this process and the HTTP transport calls its fetch handler directly, so
 * the time is the engine's and the server's work alone. Device A has a live push source, so each
 * sync is the one-round-trip one (a single UpdateRecords). It prints the median and p99 of
 * `synchronize()` after one `put`, and of the same UpdateRecords sent by hand with the session token
 * of the previous answer, for scale. Run it with `node --cpu-prof` (through tsx) to see where the
 * time goes.
 */
import { performance } from 'node:perf_hooks'
import type { PushSource } from '../src/index.js'
import { startServer } from '../test/engine/harness.js'

const WRITES = Number(process.env.WRITES ?? 3000)
const live: PushSource = {
  name: 'push:live',
  start(sink) {
    sink.onConnected?.()
    return () => {}
  },
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
const report = (label: string, samples: number[]) => {
  samples.sort((a, b) => a - b)
  console.log(
    `${label}: p50 ${percentile(samples, 0.5).toFixed(3)} ms  p99 ${percentile(samples, 0.99).toFixed(3)} ms`,
  )
}

const server = await startServer()
try {
  const who = await server.newIdentity()
  const device = server.device(who)
  device.addPushSource(live)
  const ds = await device.openOrCreateDataset('bench')
  await ds.put('k', 'start')
  await ds.synchronize()
  const syncs: number[] = []
  for (let i = 0; i < WRITES; i++) {
    await ds.put('k', `v${i}`)
    const start = performance.now()
    await ds.synchronize()
    syncs.push(performance.now() - start)
  }
  report(`synchronize() of one put, one round trip (${WRITES})`, syncs)

  // The same request by hand: the transport alone, each with the token the last answer gave.
  const transport = server.transport(who)
  const page = await transport.listRecords({ datasetName: 'raw', lastSyncCount: 0 })
  if (!page.ok) throw new Error('listRecords failed')
  let token = page.value.syncSessionToken
  let count = 0
  const raw: number[] = []
  for (let i = 0; i < WRITES; i++) {
    const start = performance.now()
    const answer = await transport.updateRecords({
      datasetName: 'raw',
      syncSessionToken: token,
      patches: [{ op: 'replace', key: 'k', value: `v${i}`, syncCount: count, deviceLastModifiedDate: i }],
    })
    raw.push(performance.now() - start)
    if (!answer.ok || answer.value.syncSessionToken === null) throw new Error('updateRecords failed')
    token = answer.value.syncSessionToken
    count = answer.value.records[0]?.syncCount ?? count
  }
  report(`transport.updateRecords alone (${WRITES})`, raw)
  await device.close()
} finally {
  await server.close()
}
