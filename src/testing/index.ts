export { runStorageConformance, type StorageFixture } from './storage-conformance.js'
