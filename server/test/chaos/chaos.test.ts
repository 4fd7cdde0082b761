import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ADMIN_URL, postgresUnreachable, testDatabase } from '../helpers/postgres.js'
import { devicesRound } from './devices.js'
import { writersRound } from './writers.js'

/**
 * A short round of the chaos run (`bench/chaos.ts` runs the long one): writers while their server
 * is killed, on a SQLite file and on PostgreSQL, and devices through a faulty network. Nothing
 * acknowledged may be lost, and everyone must agree in the end.
 */
vi.setConfig({ testTimeout: 120_000 })

const unreachable = await postgresUnreachable('the PostgreSQL chaos round')
const dir = mkdtempSync(join(tmpdir(), 'pushsync-chaos-slice-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('chaos, a short round', () => {
  it('loses no acknowledged write on a SQLite file while the server is killed', async () => {
    const report = await writersRound({
      db: join(dir, 'writers.db'),
      label: 'SQLite file',
      processes: 1,
      writers: 4,
      kills: 2,
      killEveryMs: [500, 1000],
    })
    expect(report.kills).toBeGreaterThanOrEqual(1)
    expect(report.acknowledged).toBeGreaterThan(0)
    expect({ lost: report.lost, divergent: report.divergent }).toEqual({ lost: 0, divergent: 0 })
  })

  describe.skipIf(unreachable !== undefined)('on PostgreSQL', () => {
    const { name, url } = testDatabase()
    let admin: pg.Client | undefined
    beforeAll(async () => {
      admin = new pg.Client({ connectionString: ADMIN_URL })
      await admin.connect()
      await admin.query(`CREATE DATABASE ${name}`)
    })
    afterAll(async () => {
      await admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin?.end()
    })

    it('loses no acknowledged write with two processes, one killed at a time', async () => {
      const report = await writersRound({
        db: url,
        label: 'PostgreSQL',
        processes: 2,
        writers: 4,
        kills: 2,
        killEveryMs: [500, 1000],
      })
      expect(report.kills).toBeGreaterThanOrEqual(1)
      expect(report.acknowledged).toBeGreaterThan(0)
      expect({ lost: report.lost, divergent: report.divergent }).toEqual({ lost: 0, divergent: 0 })
    })
  })

  it('brings devices to one state through a faulty network, a server kill and restarts', async () => {
    const report = await devicesRound({
      label: 'devices',
      devices: 3,
      rounds: 6,
      datasets: 2,
      weights: { pass: 4, delay: 2, drop: 1, reset: 1, halfOpen: 1, truncate: 1 },
      serverKills: 1,
      restartChance: 0.2,
      requestTimeoutMs: 1500,
    })
    expect(report.acknowledged).toBeGreaterThan(0)
    expect({ lost: report.lost, divergent: report.divergent }).toEqual({ lost: 0, divergent: 0 })
  })
})
