/**
 * `pushsync/testing` as a third party uses it, under the vitest and fast-check releases of the
 * project that installed it: the conformance suites against the memory adapters, and
 * `checkConflictResolver` from `pushsync/testing/merge` (fast-check only) passing a sound resolver
 * and catching one that depends on the order devices sync in. Copied into the packaging test's
 * projects as a `.test.ts` file.
 */
import { lastWriterWins, localWins } from 'pushsync/core'
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createMemoryTabGroup, runStorageConformance, runTabCoordinatorConformance } from 'pushsync/testing'
import { ConflictResolverCheckError, checkConflictResolver } from 'pushsync/testing/merge'
import { describe, expect, it } from 'vitest'

runStorageConformance({ name: 'memory', create: async () => createMemoryStorage() })

const groups = new Map<string, ReturnType<typeof createMemoryTabGroup>>()
runTabCoordinatorConformance({
  name: 'memory',
  create(group) {
    let tabs = groups.get(group)
    if (tabs === undefined) {
      tabs = createMemoryTabGroup()
      groups.set(group, tabs)
    }
    return tabs.coordinator()
  },
})

describe('checkConflictResolver', () => {
  it('passes lastWriterWins', async () => {
    await expect(checkConflictResolver(lastWriterWins)).resolves.toBeUndefined()
  })

  it('catches localWins, whose result depends on who syncs first', async () => {
    await expect(checkConflictResolver(localWins, { orderIndependent: true })).rejects.toBeInstanceOf(
      ConflictResolverCheckError,
    )
  })
})
