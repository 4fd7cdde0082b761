/**
 * The workload every library runs, and the shape of one measured row. All sizes are shared, so a
 * difference between rows is the libraries', not the data's.
 */

const envInt = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number`)
  return value
}

/** Measured writes per row (at least 300, so p99 rests on a few samples rather than one). */
export const WRITES = envInt('WRITES', 500)
/** Writes before measuring: connections warm, code paths compiled, caches filled. */
export const WARM_UP = envInt('WARM_UP', 50)
/** The rows take turns in this many rounds, so a change of load on the shared machine hits all alike. */
export const ROUNDS = envInt('ROUNDS', 5)
/**
 * Pause after each write, so every write starts from a quiet device (as a person's writes do) and
 * work one library defers (checkpoints, acknowledgements) is not billed to its next write.
 */
export const GAP_MS = envInt('GAP_MS', 10)
/** Records of the dataset (collection, database) a fresh device pulls: Cognito's limit per dataset. */
export const COLD_RECORDS = 1024
/** Cold pulls per row, after COLD_WARM_UP unmeasured ones. */
export const COLD_RUNS = envInt('COLD_RUNS', 15)
export const COLD_WARM_UP = envInt('COLD_WARM_UP', 2)

/** The key of the i-th write: a new key each time (an insert for the document stores). */
export const writeKey = (i: number): string => `write-${String(i).padStart(5, '0')}`
/** 64 characters, so every library moves the same bytes. */
export const writeValue = (i: number): string => `value of write ${i} `.padEnd(64, '.')
export const coldKey = (i: number): string => `key-${String(i).padStart(4, '0')}`
export const coldValue = (i: number): string => `value of record ${i} `.padEnd(64, '.')

export type Library = 'pushsync' | 'rxdb' | 'pouchdb' | 'baseline'
export type Group = 'round trip' | 'push to visible' | 'cold sync'

/** One row of the table: something timed over and over. */
export interface Probe {
  readonly label: string
  readonly group: Group
  readonly library: Library
  /** One timed sample in milliseconds; `i` is unique for the probe. */
  sample(i: number): Promise<number>
  /** Requests (or messages) the devices of this row have sent so far, where counted. */
  requests?(): number
  close(): Promise<void>
}

/** Two devices of one user, kept connected the way each library recommends for live sync. */
export interface LiveDevices {
  /** Resolves with `performance.now()` at the moment device B holds `value` under `key`. */
  expect(key: string, value: string): Promise<number>
  /** What an app does on device A to write one key and send it on its way. */
  write(key: string, value: string): Promise<void>
  requests?(): number
  close(): Promise<void>
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A push-to-visible row: from just before the write on A until B holds the value. */
export function liveProbe(label: string, library: Library, devices: LiveDevices): Probe {
  return {
    label,
    group: 'push to visible',
    library,
    async sample(i) {
      const key = writeKey(i)
      const value = writeValue(i)
      // Armed before the write, so an arrival faster than `write` resolving is not missed.
      const seen = devices.expect(key, value)
      const start = performance.now()
      await devices.write(key, value)
      const at = await withTimeout(seen, 10_000, `${label}: write ${i}`)
      await sleep(GAP_MS)
      return at - start
    },
    ...(devices.requests === undefined ? {} : { requests: devices.requests }),
    close: () => devices.close(),
  }
}

/** A cold-sync row: each sample is a fresh device pulling COLD_RECORDS records. */
export function coldProbe(
  label: string,
  library: Library,
  pull: (i: number) => Promise<number>,
  close: () => Promise<void> = async () => {},
): Probe {
  return {
    label,
    group: 'cold sync',
    library,
    async sample(i) {
      const ms = await withTimeout(pull(i), 60_000, `${label}: cold pull ${i}`)
      await sleep(GAP_MS)
      return ms
    },
    close,
  }
}
