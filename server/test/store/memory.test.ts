import { createMemoryStore } from '../../src/store/memory.js'
import { runStoreConformance } from './store.suite.js'

runStoreConformance('memory', async () => createMemoryStore())
