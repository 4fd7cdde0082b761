/**
 * How long the core takes to plan the pull of a whole dataset: `npm run bench:core`.
 *
 * Each dataset has N local records (a tenth of them dirty) and a pull that changes every record
 * (half of the dirty ones with the same value, half differently, so both the adopt and the conflict
 * paths run). Reports the median and p95 of many runs after a warm-up.
 */
import { performance } from 'node:perf_hooks'
import { type PullResult, planPull, planPush, type SyncRecord } from '../src/core/index.js'

function dataset(size: number): { local: SyncRecord[]; pull: PullResult } {
  const local: SyncRecord[] = []
  const records: PullResult['records'][number][] = []
  for (let i = 0; i < size; i++) {
    const key = `record-${i.toString().padStart(5, '0')}`
    const dirty = i % 10 === 0
    local.push({
      key,
      value: `local value ${i}`,
      syncCount: 1,
      lastModifiedDate: 1_000,
      lastModifiedBy: 'device-a',
      deviceLastModifiedDate: 1_000 + i,
      dirty,
    })
    records.push({
      key,
      value: dirty && i % 20 === 0 ? `local value ${i}` : `remote value ${i}`,
      syncCount: 2,
      lastModifiedDate: 2_000,
      lastModifiedBy: 'device-b',
      deviceLastModifiedDate: 2_000 + i,
    })
  }
  const pull: PullResult = {
    records,
    datasetSyncCount: 2,
    datasetExists: true,
    datasetDeletedAfterRequestedSyncCount: false,
    mergedDatasetNames: [],
  }
  return { local, pull }
}

function measure(label: string, runs: number, task: () => unknown): void {
  for (let i = 0; i < Math.min(200, runs); i++) task()
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    task()
    samples.push(performance.now() - start)
  }
  samples.sort((a, b) => a - b)
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN
  console.log(
    `${label.padEnd(32)} median ${at(0.5).toFixed(3)} ms   p95 ${at(0.95).toFixed(3)} ms   (${runs} runs)`,
  )
}

console.log(`node ${process.version}, ${process.arch}`)
for (const size of [1_024, 10_000]) {
  const { local, pull } = dataset(size)
  const plan = planPull(local, pull, 1)
  if (plan.apply.length + plan.conflicts.length === 0) throw new Error('the pull planned nothing')
  measure(`planPull ${size} records`, size > 5_000 ? 300 : 2_000, () => planPull(local, pull, 1))
  measure(`planPush ${size} records`, size > 5_000 ? 300 : 2_000, () => planPush(local))
}
