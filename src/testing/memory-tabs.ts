import type { TabCoordinator, TabSink } from '../contracts/tab-coordinator.js'

/**
 * Tabs of one browser profile, simulated in memory: every coordinator the group makes is one tab.
 * The first started tab leads until it stops; then the longest-waiting tab takes over, as with a
 * Web Lock's queue. Messages arrive asynchronously and as
 * copies (structured clones), as on a BroadcastChannel. For tests of code that runs in several tabs.
 */
export interface MemoryTabGroup {
  /** A new tab's coordinator. */
  coordinator(): TabCoordinator
  /** The index (in creation order) of the tab that leads now, if any. */
  leader(): number | undefined
}

export function createMemoryTabGroup(): MemoryTabGroup {
  interface Member {
    readonly index: number
    sink?: TabSink | undefined
  }
  const members: Member[] = []
  /** Started members, the leader first, the others in the order they started. */
  let queue: Member[] = []
  let leading: Member | undefined

  const later = (task: () => void) => setTimeout(task, 0)
  const elect = () => {
    const next = queue[0]
    if (next === leading) return
    leading = next
    if (next !== undefined) later(() => next === leading && next.sink?.onLeadershipChange(true))
  }

  return {
    coordinator() {
      const member: Member = { index: members.length }
      members.push(member)
      return {
        name: 'tabs:memory',
        start(sink) {
          if (member.sink !== undefined) throw new Error('this tab has already started')
          member.sink = sink
          queue.push(member)
          elect()
          return () => {
            if (member.sink === undefined) return
            member.sink = undefined
            queue = queue.filter((other) => other !== member)
            elect()
          }
        },
        broadcast(message) {
          if (member.sink === undefined) return
          for (const other of queue) {
            if (other === member) continue
            const copy = structuredClone(message)
            later(() => other.sink?.onMessage(copy))
          }
        },
      }
    },
    leader: () => leading?.index,
  }
}
