import { createMemoryTabGroup, runTabCoordinatorConformance } from '../../../src/testing/index.js'

// One group per name, as a browser profile keeps one lock and one channel per name.
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
