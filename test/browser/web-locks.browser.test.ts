/**
 * The tab coordinator conformance suite against the Web Locks adapter in real Chromium. Several
 * coordinators in one page behave as several tabs: the lock queue and the channel are per origin,
 * and a BroadcastChannel delivers to every other channel object of its name.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createWebLocksTabCoordinator } from '../../adapters/tabs/web-locks/index.js'
import { runTabCoordinatorConformance } from '../../src/testing/index.js'

runTabCoordinatorConformance({
  name: 'web-locks (Chromium)',
  create: (group) => createWebLocksTabCoordinator({ name: group }),
})

describe('web-locks: a leader that stops answering', () => {
  const tabs: Array<() => void> = []
  afterEach(() => {
    for (const stop of tabs.splice(0)) stop()
  })
  const start = (name: string, lifecycle?: EventTarget) => {
    const leadership: boolean[] = []
    const coordinator = createWebLocksTabCoordinator({
      name,
      checkIntervalMs: 100,
      leaderTimeoutMs: 200,
      ...(lifecycle ? { lifecycle } : {}),
    })
    tabs.push(
      coordinator.start({
        onLeadershipChange: (leader) => void leadership.push(leader),
        onMessage: () => {},
      }),
    )
    return leadership
  }

  it('is replaced when it holds the lock without answering, and learns it lost the lock', async () => {
    const name = `silent-${Date.now()}`
    // A tab that took the lock and then stopped running: it holds the lock, but answers nothing.
    let held!: () => void
    const silent = navigator.locks.request(
      `${name}:leader`,
      () => new Promise<void>((resolve) => (held = resolve)),
    )
    const outcome = silent.then(
      () => 'released',
      (error: Error) => error.name,
    )
    await vi.waitFor(() => expect(held).toBeDefined())
    const follower = start(name)
    await vi.waitFor(() => expect(follower).toEqual([true]), { timeout: 3000, interval: 20 })
    expect(await outcome).toBe('AbortError')
  })

  it('is not replaced while it answers', async () => {
    const name = `answering-${Date.now()}`
    const leader = start(name)
    await vi.waitFor(() => expect(leader).toEqual([true]))
    const follower = start(name)
    // Ten checks' worth of time: every check is answered.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(leader).toEqual([true])
    expect(follower).toEqual([])
  })

  it('gives the lead up when its page freezes and follows after it resumes', async () => {
    const name = `frozen-${Date.now()}`
    const page = new EventTarget()
    const leader = start(name, page)
    await vi.waitFor(() => expect(leader).toEqual([true]))
    const follower = start(name)
    page.dispatchEvent(new Event('freeze'))
    expect(leader).toEqual([true, false])
    await vi.waitFor(() => expect(follower).toEqual([true]))
    page.dispatchEvent(new Event('resume'))
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(leader).toEqual([true, false])
    expect(follower).toEqual([true])
  })
})
