/**
 * Several tabs of one app: managers sharing one database (a SQLite file, one connection per tab)
 * and a memory tab group, against the real server. One tab leads and talks to the network; the
 * others hand it their syncs and see every tab's changes at once.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { betterSqlite3Driver, createSqliteStorage } from '../../adapters/storage/sqlite/index.js'
import type { PushSink, PushSource, SyncEvents, SyncManager } from '../../src/index.js'
import { isSyncError } from '../../src/index.js'
import { createMemoryTabGroup, type MemoryTabGroup } from '../../src/testing/index.js'
import { interceptTransport, startServer, type TestServer } from './harness.js'

let server: TestServer
let directory: string
let identity: { identityId: string; token: string }
let group: MemoryTabGroup
const open: SyncManager[] = []

beforeEach(async () => {
  server = await startServer()
  identity = await server.newIdentity()
  directory = mkdtempSync(join(tmpdir(), 'pushsync-tabs-'))
  group = createMemoryTabGroup()
})

afterEach(async () => {
  for (const manager of open.splice(0)) await manager.close().catch(() => {})
  await server.close()
  rmSync(directory, { recursive: true, force: true })
})

/** A tab: its own connection to the shared database, a transport that counts its requests. */
function tab(options: { logger?: Pick<Console, 'warn'> } = {}) {
  const requests: string[] = []
  const transport = interceptTransport(server.transport(identity), (call) => {
    requests.push(call.method)
    return call.proceed()
  })
  const manager = server.device(identity, {
    storage: createSqliteStorage({ driver: betterSqlite3Driver(new Database(join(directory, 'app.db'))) }),
    transport,
    tabs: group.coordinator(),
    ...options,
  })
  open.push(manager)
  const changes: Array<SyncEvents['datasetChanged'][0]> = []
  manager.on('datasetChanged', (event) => void changes.push(event))
  return { manager, requests, changes }
}

/** Another device of the identity, on its own database, without tabs. */
function otherDevice() {
  const manager = server.device(identity)
  open.push(manager)
  return manager
}

const leaderOf = async <T extends { manager: SyncManager }>(...tabs: T[]): Promise<T> => {
  await vi.waitFor(() => expect(tabs.filter((t) => t.manager.isLeader)).toHaveLength(1))
  const leader = tabs.find((t) => t.manager.isLeader)
  if (leader === undefined) throw new Error('no leader')
  return leader
}

describe('tabs sharing one database', () => {
  it('lets only the leading tab talk to the server; a follower’s sync is run there', async () => {
    const [a, b, c] = [tab(), tab(), tab()]
    const leader = await leaderOf(a, b, c)
    const follower = [a, b, c].find((t) => t !== leader) as typeof a
    const ds = await follower.manager.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    const result = await ds.synchronize()
    expect(result).toMatchObject({ pushed: 1, lastSyncCount: 1 })
    expect(follower.requests).toEqual([])
    expect(leader.requests).toContain('updateRecords')
    for (const t of [a, b, c]) if (t !== leader) expect(t.requests).toEqual([])
    expect(ds.getStatus()).toMatchObject({ pendingChanges: 0, syncing: false, lastError: null })
    // The server has it: another device reads it.
    const phone = otherDevice()
    const onPhone = await phone.openOrCreateDataset('settings')
    await onPhone.synchronize()
    expect(await onPhone.get('theme')).toBe('dark')
  })

  it('tells every other tab of a local write at once, with its keys, and updates their pending count', async () => {
    const [a, b] = [tab(), tab()]
    await leaderOf(a, b)
    const onA = await a.manager.openOrCreateDataset('settings')
    const onB = await b.manager.openOrCreateDataset('settings')
    await onA.putAll({ theme: 'dark', font: 'serif' })
    await vi.waitFor(() =>
      expect(b.changes).toContainEqual({ dataset: 'settings', keys: ['theme', 'font'], source: 'local' }),
    )
    await vi.waitFor(() => expect(onB.getStatus().pendingChanges).toBe(2))
    expect(await onB.getAll()).toEqual({ font: 'serif', theme: 'dark' })
    // A's own event is A's: it is not echoed back from B.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(a.changes.filter((event) => event.source === 'local')).toHaveLength(1)
  })

  it('shows the changes the leader pulled in every tab', async () => {
    const [a, b] = [tab(), tab()]
    const leader = await leaderOf(a, b)
    const follower = leader === a ? b : a
    const phone = otherDevice()
    const onPhone = await phone.openOrCreateDataset('settings')
    await onPhone.put('language', 'fr')
    await onPhone.synchronize()

    await (await leader.manager.openOrCreateDataset('settings')).synchronize()
    await vi.waitFor(() =>
      expect(follower.changes).toContainEqual({ dataset: 'settings', keys: ['language'], source: 'remote' }),
    )
    const onFollower = await follower.manager.openOrCreateDataset('settings')
    expect(await onFollower.get('language')).toBe('fr')
    expect(await onFollower.getLastSyncCount()).toBe(1)
  })

  it('hands the lead on when the leader closes; a sync asked while no tab leads is answered by the next', async () => {
    const [a, b, c] = [tab(), tab(), tab()]
    const first = await leaderOf(a, b, c)
    const rest = [a, b, c].filter((t) => t !== first)
    const asking = rest[0] as typeof a
    const ds = await asking.manager.openOrCreateDataset('settings')
    await ds.put('k', 'v')
    // The leader goes away before the request reaches it; the request waits for the next leader.
    const closing = first.manager.close()
    const syncing = ds.synchronize()
    await closing
    await expect(syncing).resolves.toMatchObject({ pushed: 1, lastSyncCount: 1 })
    const second = await leaderOf(...rest)
    expect(second.requests).toContain('updateRecords')
  })

  it('syncs on taking the lead what the tabs wrote while no tab led', async () => {
    const [a, b] = [tab(), tab()]
    const first = await leaderOf(a, b)
    const other = first === a ? b : a
    await first.manager.close()
    const ds = await other.manager.openOrCreateDataset('settings')
    await ds.put('written', 'while leaderless')
    const phone = otherDevice()
    const onPhone = await phone.openOrCreateDataset('settings')
    await vi.waitFor(async () => {
      await onPhone.synchronize()
      expect(await onPhone.get('written')).toBe('while leaderless')
    })
  })

  it('runs push sources only in the leading tab, and starts them in the next leader', async () => {
    const [a, b] = [tab(), tab()]
    const started: string[] = []
    const sinks = new Map<string, PushSink>()
    const source = (name: string): PushSource => ({
      name: `push:${name}`,
      start(sink) {
        started.push(`start ${name}`)
        sinks.set(name, sink)
        return () => void started.push(`stop ${name}`)
      },
    })
    a.manager.addPushSource(source('a'))
    b.manager.addPushSource(source('b'))
    const first = await leaderOf(a, b)
    const firstName = first === a ? 'a' : 'b'
    const nextName = first === a ? 'b' : 'a'
    await vi.waitFor(() => expect(started).toEqual([`start ${firstName}`]))
    await first.manager.close()
    await vi.waitFor(() =>
      expect(started).toEqual([`start ${firstName}`, `stop ${firstName}`, `start ${nextName}`]),
    )
  })

  it('decides conflicts in the leading tab and shows them in every tab', async () => {
    const warnings: unknown[] = []
    const [a, b] = [tab(), tab({ logger: { warn: (message: unknown) => void warnings.push(message) } })]
    const leader = await leaderOf(a, b)
    const follower = leader === a ? b : a
    const conflicts: Array<SyncEvents['conflict'][0]> = []
    follower.manager.on('conflict', (event) => void conflicts.push(event))
    const phone = otherDevice()
    const onPhone = await phone.openOrCreateDataset('settings')
    await onPhone.put('theme', 'light')
    await onPhone.synchronize()

    const ds = await follower.manager.openOrCreateDataset('settings')
    // This tab's write is the later one by the device clocks.
    follower.manager.clock.time = phone.clock.time + 1000
    await ds.put('theme', 'dark')
    const onConflict = vi.fn()
    await ds.synchronize({ onConflict })
    expect(onConflict).not.toHaveBeenCalled()
    await vi.waitFor(() => expect(conflicts).toHaveLength(1))
    expect(conflicts[0]?.conflicts[0]).toMatchObject({ key: 'theme' })
    // Last writer wins in the leader: this tab's write came after the phone's.
    expect(await ds.get('theme')).toBe('dark')
    if (follower === b) expect(String(warnings[0])).toMatch(/callbacks given to synchronize were not called/)
  })

  it('rejects a follower’s sync with the leader’s typed error when the server refuses it', async () => {
    const [a, b] = [tab(), tab()]
    const leader = await leaderOf(a, b)
    const follower = leader === a ? b : a
    await server.close()
    const ds = await follower.manager.openOrCreateDataset('settings')
    await ds.put('k', 'v')
    const error = await ds.synchronize().catch((caught: unknown) => caught)
    expect(isSyncError(error)).toBe(true)
    expect(ds.getStatus().lastError).toBe(error)
    expect(ds.getStatus().pendingChanges).toBe(1)
  })

  it('rejects a sync still waiting for a leader with SYNC_CANCELLED when its own tab closes', async () => {
    // A leader that never answers (a tab of an older app version, say): requests wait for it.
    const stopSilent = group.coordinator().start({ onLeadershipChange: () => {}, onMessage: () => {} })
    const follower = tab()
    await vi.waitFor(() => expect(group.leader()).toBe(0))
    const ds = await follower.manager.openOrCreateDataset('settings')
    await ds.put('k', 'v')
    const syncing = ds.synchronize().catch((caught: unknown) => caught)
    await new Promise((resolve) => setTimeout(resolve, 20))
    await follower.manager.close()
    const error = await syncing
    expect(isSyncError(error, 'SYNC_CANCELLED')).toBe(true)
    expect(follower.requests).toEqual([])
    stopSilent()
  })
})
