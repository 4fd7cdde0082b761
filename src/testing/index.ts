export { runStorageConformance, type StorageFixture } from './storage-conformance.js'
export {
  runTransportConformance,
  type TransportFixture,
  type TransportFixtureDevice,
  type TransportFixtureServer,
} from './transport-conformance.js'
