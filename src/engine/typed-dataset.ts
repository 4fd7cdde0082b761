import { SyncError } from '../errors.js'
import type { Dataset } from './dataset.js'
import type { DatasetValues, WatchOptions } from './dataset-view.js'
import type { SyncEventEmitter } from './events.js'
import type { StandardIssue, StandardSchemaV1 } from './standard-schema.js'

/**
 * A dataset whose values are JSON checked by a Standard Schema (zod, valibot, arktype...). On the
 * device and on the wire they stay strings, the JSON text, so AWS SDK clients and the Cognito
 * transport read and write the same records.
 */
export interface TypedDataset<TInput, TOutput = TInput>
  extends Omit<Dataset, 'get' | 'getAll' | 'put' | 'putAll' | 'watch' | 'getSnapshot'> {
  /**
   * The value of `key`, checked by the schema; undefined when absent. A stored value the schema
   * refuses (another device wrote it, or an older version of the app) rejects with VALUE_INVALID
   * and a `valueInvalid` event; the record itself is left as it is.
   */
  get(key: string): Promise<TOutput | undefined>
  /** Every value the schema accepts; each one it refuses is left out and announced by `valueInvalid`. */
  getAll(): Promise<DatasetValues<TOutput>>
  /** Checks `value` and writes its JSON text; a refused value rejects with INVALID_ARGUMENT and changes nothing. */
  put(key: string, value: TInput): Promise<void>
  /** All or nothing. */
  putAll(values: Readonly<Record<string, TInput>>): Promise<void>
  /** As `Dataset.watch`, with the values the schema accepts. */
  watch(listener: (values: DatasetValues<TOutput>) => void, options?: WatchOptions): () => void
  /** As `Dataset.watch(key, ...)`; a refused value is told as undefined and announced by `valueInvalid`. */
  watch(key: string, listener: (value: TOutput | undefined) => void, options?: WatchOptions): () => void
  /** As `Dataset.getSnapshot`, with the values the schema accepts. */
  getSnapshot(): DatasetValues<TOutput> | undefined
  /** The same dataset with its values as the JSON text stored and sent. */
  readonly text: Dataset
}

type Decoded<TOutput> =
  | { readonly ok: true; readonly value: TOutput }
  | { readonly ok: false; readonly issues: readonly StandardIssue[] }

/** Decoded values kept per JSON text, so an unchanged value is not checked again on every change. */
const DECODED_CACHE_SIZE = 2048

/** Wraps a dataset of JSON text in the schema's types. */
export function createTypedDataset<TInput, TOutput>(
  text: Dataset,
  schema: StandardSchemaV1<TInput, TOutput>,
  events: SyncEventEmitter,
): TypedDataset<TInput, TOutput> {
  const validate = schema['~standard'].validate
  const decoded = new Map<string, Promise<Decoded<TOutput>>>()

  const decode = (raw: string): Promise<Decoded<TOutput>> => {
    let known = decoded.get(raw)
    if (known === undefined) {
      known = (async (): Promise<Decoded<TOutput>> => {
        let parsed: unknown
        try {
          parsed = JSON.parse(raw)
        } catch {
          return { ok: false, issues: [{ message: 'the value is not JSON text' }] }
        }
        const result = await validate(parsed)
        return result.issues === undefined
          ? { ok: true, value: result.value }
          : { ok: false, issues: result.issues }
      })()
      if (decoded.size >= DECODED_CACHE_SIZE) decoded.clear()
      decoded.set(raw, known)
    }
    return known
  }

  const reportInvalid = (key: string, value: string, issues: readonly StandardIssue[]) =>
    events.emit('valueInvalid', { dataset: text.name, key, value, issues })

  /** The JSON text of `value`, checked as it will be read back. */
  const encode = async (key: string, value: TInput): Promise<string> => {
    let raw: string | undefined
    try {
      raw = JSON.stringify(value)
    } catch (error) {
      throw new SyncError(
        'INVALID_ARGUMENT',
        `the value of ${JSON.stringify(key)} cannot be written as JSON`,
        {
          cause: error,
          details: { key },
        },
      )
    }
    if (typeof raw !== 'string') {
      throw new SyncError('INVALID_ARGUMENT', `the value of ${JSON.stringify(key)} is not a JSON value`, {
        details: { key },
      })
    }
    const back = await decode(raw)
    if (!back.ok) {
      throw new SyncError(
        'INVALID_ARGUMENT',
        `the schema refuses the value of ${JSON.stringify(key)}: ${describe(back.issues)}`,
        {
          details: { key, issues: back.issues },
        },
      )
    }
    return raw
  }

  /** The values the schema accepts, reporting the others. */
  const decodeAll = async (values: DatasetValues): Promise<DatasetValues<TOutput>> => {
    const typed: Record<string, TOutput> = Object.create(null)
    for (const [key, raw] of Object.entries(values)) {
      const result = await decode(raw)
      if (result.ok) typed[key] = result.value
      else reportInvalid(key, raw, result.issues)
    }
    return Object.freeze(typed)
  }

  // The snapshot of the values the schema accepts, for the raw snapshot it was made from.
  let snapshot: { readonly from: DatasetValues; readonly values: DatasetValues<TOutput> } | undefined

  return {
    ...text,
    text,
    async get(key) {
      const raw = await text.get(key)
      if (raw === undefined) return undefined
      const result = await decode(raw)
      if (result.ok) return result.value
      reportInvalid(key, raw, result.issues)
      throw new SyncError(
        'VALUE_INVALID',
        `the stored value of ${JSON.stringify(key)} does not pass the schema: ${describe(result.issues)}`,
        {
          details: { dataset: text.name, key, issues: result.issues },
        },
      )
    },
    getAll: async () => decodeAll(await text.getAll()),
    put: async (key, value) => text.put(key, await encode(key, value)),
    async putAll(values) {
      if (typeof values !== 'object' || values === null) {
        throw new SyncError('INVALID_ARGUMENT', 'putAll takes an object of values')
      }
      const encoded: Record<string, string> = Object.create(null)
      for (const [key, value] of Object.entries(values)) encoded[key] = await encode(key, value)
      await text.putAll(encoded)
    },
    watch(
      keyOrListener: string | ((values: DatasetValues<TOutput>) => void),
      listenerOrOptions?: ((value: TOutput | undefined) => void) | WatchOptions,
      keyOptions?: WatchOptions,
    ) {
      if (typeof keyOrListener === 'function') {
        const listener = keyOrListener
        let latest: DatasetValues | undefined
        return text.watch(
          (values) => {
            latest = values
            decodeAll(values).then(
              (typed) => {
                // A newer change may have arrived while this one was checked: only the newest counts.
                if (latest !== values) return
                snapshot = { from: values, values: typed }
                listener(typed)
              },
              (error: unknown) => events.listenerFailed('watch', error),
            )
          },
          listenerOrOptions as WatchOptions | undefined,
        )
      }
      const key = keyOrListener
      if (typeof listenerOrOptions !== 'function') {
        throw new SyncError('INVALID_ARGUMENT', 'watch takes a listener, or a key and a listener')
      }
      const listener = listenerOrOptions
      let latest: string | undefined
      return text.watch(
        key,
        (raw) => {
          latest = raw
          if (raw === undefined) {
            listener(undefined)
            return
          }
          decode(raw).then(
            (result) => {
              if (latest !== raw) return
              if (!result.ok) reportInvalid(key, raw, result.issues)
              listener(result.ok ? result.value : undefined)
            },
            (error: unknown) => events.listenerFailed('watch', error),
          )
        },
        keyOptions,
      )
    },
    getSnapshot() {
      const current = text.getSnapshot()
      if (current === undefined) return undefined
      return snapshot?.from === current ? snapshot.values : snapshot?.values
    },
  }
}

function describe(issues: readonly StandardIssue[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => issue.message)
    .join('; ')
}
