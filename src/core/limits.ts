/**
 * Cognito Sync's limits, as defaults an app (or a self-hosted server) may raise or lower.
 */
export interface Limits {
  /** Dataset names are 1..N characters of `[a-zA-Z0-9_.:-]`. */
  readonly maxDatasetNameLength: number
  /** Record keys are 1..N bytes of UTF-8. */
  readonly maxKeyBytes: number
  /** Values are at most N UTF-16 code units (JavaScript string length). */
  readonly maxValueLength: number
  /** Live (non-tombstone) records per dataset. */
  readonly maxRecordsPerDataset: number
  /** UTF-8 bytes of keys plus values of the live records of one dataset. */
  readonly maxDatasetBytes: number
  /** Datasets per identity. */
  readonly maxDatasetsPerIdentity: number
}

/** Amazon Cognito Sync's limits: 128-character names, 128-byte keys, 1,024 records and 1 MB per dataset, 20 datasets. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxDatasetNameLength: 128,
  maxKeyBytes: 128,
  maxValueLength: 1_048_575,
  maxRecordsPerDataset: 1024,
  maxDatasetBytes: 1024 * 1024,
  maxDatasetsPerIdentity: 20,
})

/** Fills the limits an app did not set with Cognito's defaults. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides })
}
