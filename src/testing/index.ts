export { createMemoryTabGroup, type MemoryTabGroup } from './memory-tabs.js'
// Free of any test runner: `pushsync/testing/merge` loads these without vitest.
export * from './merge/index.js'
export { runStorageConformance, type StorageFixture } from './storage-conformance.js'
export { runTabCoordinatorConformance, type TabCoordinatorFixture } from './tab-conformance.js'
export {
  runTransportConformance,
  type TransportFixture,
  type TransportFixtureDevice,
  type TransportFixtureServer,
} from './transport-conformance.js'
