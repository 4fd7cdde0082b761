import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'

/** Where and with what a run was measured: printed with the table and drawn on the chart. */
export interface Machine {
  readonly cores: number
  readonly cpu: string
  readonly node: string
  readonly versions: Readonly<Record<string, string>>
  readonly date: string
  readonly commit: string
  /** The 1-minute load average when the run started: others' work on a shared machine shows here. */
  readonly loadAtStart: number
}

const repoRoot = new URL('../../', import.meta.url)

function packageVersion(name: string): string {
  try {
    // Read from the install, not resolved through `exports`: not every package exports its manifest.
    const manifest = readFileSync(new URL(`node_modules/${name}/package.json`, repoRoot), 'utf8')
    return (JSON.parse(manifest) as { version: string }).version
  } catch {
    return '?'
  }
}

function cpuModel(): string {
  try {
    const line = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    return line?.[1]?.trim() ?? 'unknown CPU'
  } catch {
    return 'unknown CPU'
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

export function describeMachine(): Machine {
  const own = JSON.parse(readFileSync(new URL('package.json', repoRoot), 'utf8')) as { version: string }
  return {
    cores: availableParallelism(),
    cpu: cpuModel(),
    node: process.version,
    versions: {
      pushsync: own.version,
      rxdb: packageVersion('rxdb'),
      'pouchdb-core': packageVersion('pouchdb-core'),
      'express-pouchdb': packageVersion('express-pouchdb'),
      ws: packageVersion('ws'),
      'better-sqlite3': packageVersion('better-sqlite3'),
      'fake-indexeddb': packageVersion('fake-indexeddb'),
      '@aws-sdk/client-cognito-sync': packageVersion('@aws-sdk/client-cognito-sync'),
    },
    date: new Date().toISOString().slice(0, 10),
    commit: commit(),
    loadAtStart: loadavg()[0] ?? Number.NaN,
  }
}

/** The machine, then the versions: two lines, short enough for the chart's width. */
export function machineLines(machine: Machine): [string, string] {
  const versions = Object.entries(machine.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ')
  return [
    `Measured ${machine.date} on ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, commit ${machine.commit}, load average ${machine.loadAtStart.toFixed(2)} at the start`,
    versions,
  ]
}
