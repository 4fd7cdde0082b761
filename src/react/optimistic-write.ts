import { useCallback, useState } from 'react'

/** What `useRecord` writes through: the dataset store. */
export interface RecordWriter {
  getSnapshot(): unknown
  write(key: string, value: unknown): Promise<void>
}

/** The value a component set and shows until the store has it. */
interface Written {
  readonly writer: RecordWriter
  readonly key: string
  readonly value: unknown
  /** Writes of this component not settled yet. */
  readonly inFlight: number
  /** The store's snapshot when the last write settled: the value stands until a newer one. */
  readonly settledAt: unknown
}

const NOT_SETTLED = Symbol('not settled')

/**
 * A setter that shows its value at once. A local write takes a moment (an IndexedDB transaction,
 * then a read of the records it changed) before the store has it; an input whose value waited for
 * that would jump back under the user's fingers (a controlled text field would lose keystrokes).
 * So the value written is shown while writes are in flight, and after the last one until the store
 * publishes a newer snapshot (its own commit, or another device's change that came later). A
 * refused write shows the stored value again, and its promise rejects.
 */
export function useOptimisticWrite(
  writer: RecordWriter,
  key: string,
  stored: unknown,
): [shown: unknown, setValue: (value: unknown) => Promise<void>] {
  const [written, setWritten] = useState<Written | undefined>(undefined)

  const setValue = useCallback(
    (value: unknown): Promise<void> => {
      const mine = (state: Written | undefined): state is Written =>
        state !== undefined && state.writer === writer && state.key === key
      setWritten((state) => ({
        writer,
        key,
        value,
        inFlight: (mine(state) ? state.inFlight : 0) + 1,
        settledAt: NOT_SETTLED,
      }))
      const settle = (failed: boolean) =>
        setWritten((state) => {
          if (!mine(state)) return state
          const inFlight = state.inFlight - 1
          if (inFlight > 0) return { ...state, inFlight }
          return failed ? undefined : { ...state, inFlight, settledAt: writer.getSnapshot() }
        })
      return writer.write(key, value).then(
        () => settle(false),
        (error: unknown) => {
          settle(true)
          throw error
        },
      )
    },
    [writer, key],
  )

  const pending =
    written !== undefined &&
    written.writer === writer &&
    written.key === key &&
    (written.inFlight > 0 || written.settledAt === writer.getSnapshot())
  return [pending ? written.value : stored, setValue]
}
