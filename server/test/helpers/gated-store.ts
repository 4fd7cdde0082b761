import type { StoreTx, SyncStore } from '../../src/store/contract.js'

/** A gate armed on a store: see gatedStore. */
export interface StoreGate {
  /** Resolves once a transaction that listed an identity's datasets has committed. */
  readonly reached: Promise<void>
  /** Lets that transaction's caller go on. */
  release(): void
}

/**
 * A store whose next transaction that lists datasets (the opening read of a live channel) holds its
 * caller, once committed, until the test releases it: other transactions run meanwhile, so a test
 * can commit a change between that read and what the caller does with it.
 */
export function gatedStore(inner: SyncStore): { readonly store: SyncStore; arm(): StoreGate } {
  let armed: { reached: () => void; released: Promise<void> } | undefined
  const store: SyncStore = {
    kind: inner.kind,
    close: () => inner.close(),
    readiness: () => inner.readiness(),
    async transaction(fn, options) {
      let listed = false
      const result = await inner.transaction((tx) => {
        const watched = new Proxy(tx, {
          get(target, property) {
            if (property === 'listDatasets') listed = true
            const value = Reflect.get(target, property, target)
            return typeof value === 'function' ? value.bind(target) : value
          },
        }) as StoreTx
        return fn(watched)
      }, options)
      const gate = armed
      if (listed && gate !== undefined) {
        armed = undefined
        gate.reached()
        await gate.released
      }
      return result
    },
  }
  return {
    store,
    arm() {
      let reached!: () => void
      let release!: () => void
      const gate: StoreGate = {
        reached: new Promise<void>((resolve) => {
          reached = resolve
        }),
        release: () => release(),
      }
      armed = {
        reached,
        released: new Promise<void>((resolve) => {
          release = resolve
        }),
      }
      return gate
    },
  }
}
