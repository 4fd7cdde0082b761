/**
 * The library's conformance suites as a third party runs them from `pushsync/testing`, under the
 * vitest and fast-check releases of the project that installed it. Copied into the packaging test's
 * projects as a `.test.ts` file.
 */
import { createMemoryStorage } from 'pushsync/storage/memory'
import { createMemoryTabGroup, runStorageConformance, runTabCoordinatorConformance } from 'pushsync/testing'

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
