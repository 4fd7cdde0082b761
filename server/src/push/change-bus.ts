import type { StoreBus } from '../store/contract.js'
import type { ChangeListener, DatasetChange } from './change.js'

/** Keeps a change's message well under what a bus carries (NOTIFY: 8000 bytes). */
const MAX_MESSAGE_BYTES = 7000

/**
 * Connects this process to the others sharing its store: every change committed here is published
 * on the bus, and every change another process published is handed to `deliver` (this process's
 * live connections and push dispatcher), as if it had been committed here. A change too big for
 * the bus travels without its records: devices then pull, as after any push.
 */
export function joinChangeBus(
  bus: StoreBus,
  deliver: (change: DatasetChange) => void,
): { readonly listener: ChangeListener; stop(): void } {
  const stop = bus.subscribe((message) => {
    const change = readChange(message)
    if (change !== undefined) deliver(change)
  })
  return {
    listener: {
      afterCommit(change) {
        let message = JSON.stringify(change)
        if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) {
          const { written: _, ...lighter } = change
          message = JSON.stringify(lighter)
        }
        bus.publish(message)
      },
    },
    stop,
  }
}

/** A change as another process of this server wrote it; anything else is dropped. */
function readChange(message: string): DatasetChange | undefined {
  let value: unknown
  try {
    value = JSON.parse(message)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const change = value as Partial<Record<keyof DatasetChange, unknown>>
  const text = (field: unknown) => typeof field === 'string'
  if (!text(change.identityPoolId) || !text(change.identityId) || !text(change.datasetName)) return undefined
  if (typeof change.syncCount !== 'number' || !Number.isSafeInteger(change.syncCount)) return undefined
  if (change.kind !== 'updated' && change.kind !== 'deleted') return undefined
  if (change.originDeviceId !== null && !text(change.originDeviceId)) return undefined
  return value as DatasetChange
}
