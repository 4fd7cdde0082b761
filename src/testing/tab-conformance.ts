/**
 * The multi-tab conformance suite: every `TabCoordinator` runs it. Each coordinator a fixture makes
 * stands for one tab; the suite starts several in one group and checks the election and the
 * channel.
 *
 * @module
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { TabCoordinator, TabSink } from '../contracts/tab-coordinator.js'

export interface TabCoordinatorFixture {
  /** Shown in the suite's title, such as `'memory'` or `'web-locks (Chromium)'`. */
  name: string
  /** One tab's coordinator in the group `group`; tabs of one group elect one leader. */
  create(group: string): TabCoordinator
  /** How long an election may take, in ms (default 2000). */
  settleMs?: number
}

/** A started tab as the suite sees it: what its sink was told. */
interface Tab {
  readonly coordinator: TabCoordinator
  readonly leadership: boolean[]
  readonly messages: unknown[]
  stop: () => void
}

/** Registers the suite's tests with vitest; call it at the top level of a test file. */
export function runTabCoordinatorConformance(fixture: TabCoordinatorFixture): void {
  const settle = { timeout: fixture.settleMs ?? 2000, interval: 10 }

  describe(`tab coordinator conformance (${fixture.name})`, () => {
    const started: Tab[] = []
    let groups = 0
    const newGroup = () => `pushsync-conformance-${Date.now()}-${++groups}`

    const startTab = (group: string): Tab => {
      const coordinator = fixture.create(group)
      const leadership: boolean[] = []
      const messages: unknown[] = []
      const sink: TabSink = {
        onLeadershipChange: (leader) => void leadership.push(leader),
        onMessage: (message) => void messages.push(message),
      }
      const tab: Tab = { coordinator, leadership, messages, stop: coordinator.start(sink) }
      started.push(tab)
      return tab
    }
    const isLeader = (tab: Tab) => tab.leadership.at(-1) === true
    const leaders = (tabs: readonly Tab[]) => tabs.filter(isLeader)
    /** Waits until exactly one of `tabs` leads, then checks it stays so for a moment. */
    const soleLeader = async (tabs: readonly Tab[]): Promise<Tab> => {
      await vi.waitFor(() => expect(leaders(tabs)).toHaveLength(1), settle)
      await new Promise((resolve) => setTimeout(resolve, 50))
      const [leader] = leaders(tabs)
      expect(leaders(tabs)).toHaveLength(1)
      if (leader === undefined) throw new Error('no leader')
      return leader
    }

    afterEach(() => {
      for (const tab of started.splice(0)) tab.stop()
    })

    it('elects exactly one leader among the started tabs of a group', async () => {
      const group = newGroup()
      const tabs = [startTab(group), startTab(group), startTab(group)]
      const leader = await soleLeader(tabs)
      // Nobody was told it leads while another one did: followers were never told `true`.
      for (const tab of tabs) if (tab !== leader) expect(tab.leadership).not.toContain(true)
    })

    it('hands the lead to one of the others when the leader stops', async () => {
      const group = newGroup()
      const tabs = [startTab(group), startTab(group), startTab(group)]
      const first = await soleLeader(tabs)
      first.stop()
      const rest = tabs.filter((tab) => tab !== first)
      const second = await soleLeader(rest)
      second.stop()
      await soleLeader(rest.filter((tab) => tab !== second))
    })

    it('keeps the leader when a follower stops', async () => {
      const group = newGroup()
      const tabs = [startTab(group), startTab(group), startTab(group)]
      const leader = await soleLeader(tabs)
      for (const tab of tabs) if (tab !== leader) tab.stop()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(leader.leadership).toEqual([true])
    })

    it('lets a tab that starts later follow the running leader', async () => {
      const group = newGroup()
      const first = startTab(group)
      await soleLeader([first])
      const late = startTab(group)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(late.leadership).toEqual([])
      expect(first.leadership).toEqual([true])
    })

    it('delivers a broadcast to every other started tab once, as a copy, and not to the sender', async () => {
      const group = newGroup()
      const [a, b, c] = [startTab(group), startTab(group), startTab(group)]
      if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable')
      const message = { kind: 'changed', keys: ['__proto__', 'x'], nested: { n: 1 } }
      a.coordinator.broadcast(message)
      await vi.waitFor(() => {
        expect(b.messages).toEqual([message])
        expect(c.messages).toEqual([message])
      }, settle)
      expect(b.messages[0]).not.toBe(message)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(a.messages).toEqual([])
      expect(b.messages).toHaveLength(1)
    })

    it('tells a stopped tab nothing more and carries nothing it broadcasts', async () => {
      const group = newGroup()
      const [a, b] = [startTab(group), startTab(group)]
      if (a === undefined || b === undefined) throw new Error('unreachable')
      const leader = await soleLeader([a, b])
      const other = leader === a ? b : a
      other.stop()
      other.stop()
      leader.coordinator.broadcast({ n: 1 })
      other.coordinator.broadcast({ n: 2 })
      leader.stop()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(other.messages).toEqual([])
      expect(leader.messages).toEqual([])
      expect(other.leadership).toEqual([])
      // Stopping tells the stopping tab nothing either.
      expect(leader.leadership).toEqual([true])
    })

    it('keeps groups apart: each elects its own leader and hears only its own tabs', async () => {
      const [one, two] = [newGroup(), newGroup()]
      const a = startTab(one)
      const b = startTab(two)
      await soleLeader([a])
      await soleLeader([b])
      a.coordinator.broadcast('for one')
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(b.messages).toEqual([])
    })
  })
}
