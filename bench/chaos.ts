/**
 * The chaos run: `npm run chaos` (not part of `npm test`, which runs a short slice of it:
 * server/test/chaos/chaos.test.ts).
 *
 * 1. Writers against the real server command on a SQLite file, then on PostgreSQL with two
 *    processes, through 20 cycles of a process killed (SIGKILL) and started again, one to two
 *    seconds of writes apart: every acknowledged write must be there afterwards, with its sync
 *    count.
 * 2. Devices (pushsync's engine, the HTTP transport) of one identity syncing through a TCP proxy
 *    that delays, drops, resets, half-opens and truncates their connections, while the server is
 *    killed and devices restart mid-sync: once the network heals, every device and the server must
 *    hold what each device wrote last.
 * 3. The engine's model test at 10,000 runs (`PUSHSYNC_FC_RUNS=10000`).
 *
 * Prints acknowledged, lost and divergent counts; exits 1 when anything was lost or diverged.
 * PostgreSQL is the machine's own (PUSHSYNC_BENCH_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres); without it that part is skipped and says so.
 * `--quick` runs each part for a fraction of the time.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { type DevicesReport, devicesRound } from '../server/test/chaos/devices.js'
import { type WritersReport, writersRound } from '../server/test/chaos/writers.js'

const quick = process.argv.includes('--quick')
const scale = quick ? 0.15 : 1
const dir = mkdtempSync(join(tmpdir(), 'pushsync-chaos-run-'))
const writerReports: WritersReport[] = []
const deviceReports: DevicesReport[] = []
let model: { passed: boolean; seconds: number; summary: string } | undefined

async function postgresDatabase(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const adminUrl = process.env.PUSHSYNC_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 })
  try {
    await admin.connect()
  } catch (error) {
    console.log(`PostgreSQL is not reachable (${(error as Error).message}): its writers are skipped`)
    return undefined
  }
  const name = `pushsync_chaos_${process.pid}`
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

/** The engine's model test, in a process of its own, at 10,000 runs. */
function engineModel(): Promise<{ passed: boolean; seconds: number; summary: string }> {
  const started = performance.now()
  return new Promise((resolve) => {
    // 10,000 runs of a property take minutes on a small machine: more than a test's usual minute.
    const args = [
      'vitest',
      'run',
      '--project',
      'node',
      '--testTimeout=1800000',
      'test/engine/engine.model.test.ts',
    ]
    const child = spawn('npx', args, {
      env: { ...process.env, PUSHSYNC_FC_RUNS: quick ? '1000' : '10000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('exit', (code) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI colours vitest writes
      const plain = output.replace(/\u001b\[[0-9;]*m/g, '')
      const summary = /Tests\s+(.*)/.exec(plain)?.[1]?.trim() ?? `exit code ${code}`
      resolve({ passed: code === 0, seconds: (performance.now() - started) / 1000, summary })
    })
  })
}

try {
  const killEveryMs: [number, number] = [1000, 2000]
  const kills = quick ? 3 : 20
  console.log(
    `chaos run${quick ? ' (quick)' : ''}: 8 writers through ${kills} kill cycles per store, 1-2 s of writes between a restart and the next kill`,
  )
  writerReports.push(
    await writersRound({
      db: join(dir, 'writers.db'),
      label: 'writers, SQLite file, 1 process',
      processes: 1,
      writers: 8,
      kills,
      killEveryMs,
    }),
  )
  const database = await postgresDatabase()
  if (database !== undefined) {
    try {
      writerReports.push(
        await writersRound({
          db: database.url,
          label: 'writers, PostgreSQL, 2 processes',
          processes: 2,
          writers: 8,
          kills,
          killEveryMs,
        }),
      )
    } finally {
      await database.drop()
    }
  }
  deviceReports.push(
    await devicesRound({
      label: 'devices through the fault proxy',
      devices: 6,
      rounds: Math.max(6, Math.round(40 * scale)),
      datasets: 3,
      weights: { pass: 6, delay: 3, drop: 1, reset: 1, halfOpen: 1, truncate: 1 },
      serverKills: quick ? 1 : 6,
      restartChance: 0.15,
      requestTimeoutMs: 2000,
    }),
  )
  model = await engineModel()
} finally {
  rmSync(dir, { recursive: true, force: true })
}

console.log('')
console.log('part                                   kills  acknowledged  unanswered  lost  divergent')
for (const r of writerReports) {
  console.log(
    `${r.label.padEnd(38)} ${String(r.kills).padStart(5)}  ${String(r.acknowledged).padStart(12)}  ${String(r.unanswered).padStart(10)}  ${String(r.lost).padStart(4)}  ${String(r.divergent).padStart(9)}`,
  )
}
for (const r of deviceReports) {
  console.log(
    `${r.label.padEnd(38)} ${String(r.serverKills).padStart(5)}  ${String(r.acknowledged).padStart(12)}  ${'-'.padStart(10)}  ${String(r.lost).padStart(4)}  ${String(r.divergent).padStart(9)}`,
  )
  console.log(
    `  ${r.devices} devices, ${r.deviceRestarts} device restarts, ${r.failedSyncs} failed syncs; connections by fault: ${JSON.stringify(r.faults)}`,
  )
}
if (model !== undefined)
  console.log(
    `engine model test (${quick ? '1,000' : '10,000'} runs): ${model.passed ? 'passed' : 'FAILED'} in ${model.seconds.toFixed(0)} s (${model.summary})`,
  )
const bad =
  [...writerReports, ...deviceReports].some((r) => r.lost > 0 || r.divergent > 0) || model?.passed !== true
process.exitCode = bad ? 1 : 0
