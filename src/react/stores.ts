import type { ConnectivitySource, Dataset, StandardSchemaV1, SyncManager, TypedDataset } from '../index.js'
import { DatasetStore } from './dataset-store.js'
import { StatusStore } from './status-store.js'

/** The stores of one manager, by dataset name (and schema, for typed values). */
interface ManagerStores {
  readonly texts: Map<string, DatasetStore>
  readonly typed: Map<string, WeakMap<StandardSchemaV1, DatasetStore<unknown, TypedDataset<never, unknown>>>>
  readonly statuses: Map<string | undefined, StatusStore>
}

// Weak: a manager the app lets go of takes its stores (and their handles) with it.
const byManager = new WeakMap<SyncManager, ManagerStores>()

function storesOf(manager: SyncManager): ManagerStores {
  let stores = byManager.get(manager)
  if (stores === undefined) {
    stores = { texts: new Map(), typed: new Map(), statuses: new Map() }
    byManager.set(manager, stores)
  }
  return stores
}

/** The store of a dataset's string values: one per manager and name. */
export function textStore(manager: SyncManager, name: string): DatasetStore<string, Dataset> {
  const { texts } = storesOf(manager)
  let store = texts.get(name)
  if (store === undefined) {
    store = new DatasetStore(() => manager.openOrCreateDataset(name))
    texts.set(name, store)
  }
  return store
}

/** The store of a dataset's typed values: one per manager, name and schema object. */
export function typedStore(
  manager: SyncManager,
  name: string,
  schema: StandardSchemaV1,
): DatasetStore<unknown, TypedDataset<never, unknown>> {
  const { typed } = storesOf(manager)
  let bySchema = typed.get(name)
  if (bySchema === undefined) {
    bySchema = new WeakMap()
    typed.set(name, bySchema)
  }
  let store = bySchema.get(schema)
  if (store === undefined) {
    store = new DatasetStore(
      () => manager.openOrCreateDataset(name, { schema }) as Promise<TypedDataset<never, unknown>>,
    )
    bySchema.set(schema, store)
  }
  return store
}

/** The status store of a dataset, or of the manager alone when `name` is undefined. */
export function statusStore(manager: SyncManager, name: string | undefined): StatusStore {
  const { statuses } = storesOf(manager)
  let store = statuses.get(name)
  if (store === undefined) {
    store = new StatusStore(manager, name, name === undefined ? undefined : textStore(manager, name))
    statuses.set(name, store)
  }
  return store
}

/** A connectivity source as an external store of one boolean. */
export interface OnlineStore {
  readonly subscribe: (listener: () => void) => () => void
  readonly getSnapshot: () => boolean
}

const ALWAYS_ONLINE: OnlineStore = { subscribe: () => () => {}, getSnapshot: () => true }
const onlineStores = new WeakMap<ConnectivitySource, OnlineStore>()

/** One store per source, so `subscribe` keeps its identity across renders. */
export function onlineStore(connectivity: ConnectivitySource | undefined): OnlineStore {
  if (connectivity === undefined) return ALWAYS_ONLINE
  let store = onlineStores.get(connectivity)
  if (store === undefined) {
    store = {
      subscribe: (listener) => connectivity.subscribe(() => listener()),
      getSnapshot: () => connectivity.isOnline(),
    }
    onlineStores.set(connectivity, store)
  }
  return store
}
