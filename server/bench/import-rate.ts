/**
 * The import rate: 100,000 Cognito Streams records' worth of dataset records loaded into a fresh
 * SQLite file by `runImport`, in the two shapes a pool's stream holds: bulk publish (one stream
 * record per dataset, ten records each) and synchronizations (one record each). Prints records/s.
 *
 *   npx tsx --tsconfig server/tsconfig.json server/bench/import-rate.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runImport } from '../src/import/command.js'
import { openSqliteStore } from '../src/store/sqlite.js'

const POOL = 'us-east-1:0b0b0b0b-0000-4000-8000-000000000000'
const TOTAL = 100_000
const dir = mkdtempSync(join(tmpdir(), 'pushsync-import-bench-'))

function streamRecords(perStreamRecord: number): string {
  const lines: string[] = []
  const datasets = TOTAL / perStreamRecord
  for (let d = 0; d < datasets; d++) {
    const identity = `us-east-1:${String(Math.floor(d / 5)).padStart(8, '0')}-0000-4000-8000-000000000000`
    const records = Array.from({ length: perStreamRecord }, (_, k) => ({
      key: `key-${k}`,
      value: `value ${d} ${k} `.padEnd(40, '.'),
      syncCount: 1,
      lastModifiedDate: 1_700_000_000_000 + d,
      deviceLastModifiedDate: null,
      op: 'replace',
    }))
    lines.push(
      JSON.stringify({
        identityPoolId: POOL,
        identityId: identity,
        dataSetName: perStreamRecord === 1 ? `set-${d % 5}-${Math.floor(d / 5)}` : `set-${d % 5}`,
        operation: 'replace',
        kinesisSyncRecords: records,
        lastModifiedDate: 1_700_000_000_000 + d,
        kinesisSyncRecordsURL: null,
        payloadType: 'Inline',
        syncCount: 1,
      }),
    )
  }
  return lines.join('\n')
}

for (const [shape, perStreamRecord] of [
  ['bulk publish, 10 records per stream record', 10],
  ['synchronizations, 1 record per stream record', 1],
] as const) {
  const file = join(dir, `${perStreamRecord}.ndjson`)
  writeFileSync(file, streamRecords(perStreamRecord))
  const store = openSqliteStore(join(dir, `${perStreamRecord}.db`))
  const result = await runImport(store, { db: '', pool: undefined, source: { kind: 'file', path: file } })
  const again = await runImport(store, { db: '', pool: undefined, source: { kind: 'file', path: file } })
  await store.close()
  console.log(
    `${shape}: ${result.records} records in ${result.seconds.toFixed(2)} s = ${Math.round(result.records / result.seconds)} records/s` +
      ` (re-run over the same file: ${again.records} stored, ${again.skipped} already there, ${again.seconds.toFixed(2)} s)`,
  )
}
