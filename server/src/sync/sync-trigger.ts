import { validateKey, validateValue } from 'pushsync/core'
import { CognitoError } from '../errors.js'
import { type OutboundFetch, OutboundRefusedError } from '../ops/outbound.js'
import type { RecordRow } from '../store/contract.js'
import type { OperationContext } from './context.js'

/** What Cognito sent a sync-trigger Lambda (spec §8), and what the trigger sends back. */
export interface SyncTriggerEvent {
  version: 2
  eventType: 'SyncTrigger'
  region: string
  identityPoolId: string
  identityId: string
  datasetName: string
  datasetRecords: Record<
    string,
    { oldValue: string | null; newValue: string | null; op: 'replace' | 'remove' }
  >
}

/** Runs a trigger: a function given to the server, or a call to the URL a pool configured. */
export type SyncTriggerHook = (event: SyncTriggerEvent) => Promise<unknown>

/** Cognito gave the Lambda 5 seconds, not adjustable. */
export const SYNC_TRIGGER_TIMEOUT_MS = 5000

/**
 * A trigger that POSTs the event to `url` and reads the answer's JSON. The server passes a fetch
 * that holds to its outbound rules (no private or local addresses, after DNS too).
 */
export function urlSyncTrigger(url: string, fetchImpl: OutboundFetch = fetch): SyncTriggerHook {
  return async (event) => {
    let response: Response
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(SYNC_TRIGGER_TIMEOUT_MS),
      })
    } catch (error) {
      // A URL whose name resolves to a private address is the pool's configuration at fault.
      if (error instanceof OutboundRefusedError)
        throw new CognitoError(
          'InvalidLambdaFunctionOutputException',
          `The sync trigger cannot be called: ${error.message}`,
          {
            cause: error,
          },
        )
      throw new CognitoError('LambdaThrottledException', 'The sync trigger did not answer in time; retry', {
        cause: error,
      })
    }
    if (response.status === 429 || response.status >= 500) {
      throw new CognitoError(
        'LambdaThrottledException',
        `The sync trigger answered ${response.status}; retry`,
      )
    }
    if (!response.ok) {
      throw new CognitoError(
        'InvalidLambdaFunctionOutputException',
        `The sync trigger answered ${response.status}`,
      )
    }
    try {
      return (await response.json()) as unknown
    } catch {
      throw invalidOutput('its answer is not JSON')
    }
  }
}

/** Runs a hook under the 5-second limit, so a function given to the server is held to it too. */
export async function runSyncTrigger(hook: SyncTriggerHook, event: SyncTriggerEvent): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CognitoError('LambdaThrottledException', 'The sync trigger did not answer in time; retry'),
        ),
      SYNC_TRIGGER_TIMEOUT_MS,
    )
  })
  try {
    return await Promise.race([hook(structuredClone(event)), timeout])
  } catch (error) {
    if (error instanceof CognitoError) throw error
    throw new CognitoError('InvalidLambdaFunctionOutputException', 'The sync trigger failed', {
      cause: error,
    })
  } finally {
    clearTimeout(timer)
  }
}

/** The event for a request: every live record of the dataset, with the request's changes applied. */
export function buildSyncTriggerEvent(
  base: Omit<SyncTriggerEvent, 'version' | 'eventType' | 'datasetRecords'>,
  live: readonly RecordRow[],
  patches: ReadonlyArray<{ readonly key: string; readonly value: string | null }>,
): SyncTriggerEvent {
  const records: SyncTriggerEvent['datasetRecords'] = {}
  const set = (key: string, entry: SyncTriggerEvent['datasetRecords'][string]) =>
    Object.defineProperty(records, key, {
      value: entry,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  for (const row of live)
    if (row.value !== null) set(row.key, { oldValue: row.value, newValue: row.value, op: 'replace' })
  const old = new Map(live.map((row) => [row.key, row.value]))
  for (const patch of patches) {
    set(patch.key, {
      oldValue: old.get(patch.key) ?? null,
      newValue: patch.value,
      op: patch.value === null ? 'remove' : 'replace',
    })
  }
  return { version: 2, eventType: 'SyncTrigger', ...base, datasetRecords: records }
}

/**
 * Reads the trigger's answer: the same event, where only `datasetRecords` may differ. Each record
 * there is the value the key should have (`op: 'remove'` or a null value deletes); keys left out
 * keep what the request asked. Returns the keys whose outcome the trigger changed.
 */
export function readSyncTriggerOutput(
  event: SyncTriggerEvent,
  output: unknown,
  context: Pick<OperationContext, 'limits'>,
): Map<string, string | null> {
  if (typeof output !== 'object' || output === null || Array.isArray(output))
    throw invalidOutput('it is not an object')
  const answer = output as Record<string, unknown>
  for (const field of [
    'version',
    'eventType',
    'region',
    'identityPoolId',
    'identityId',
    'datasetName',
  ] as const) {
    if (answer[field] !== event[field]) throw invalidOutput(`it changed ${field}`)
  }
  const records = answer.datasetRecords
  if (typeof records !== 'object' || records === null || Array.isArray(records)) {
    throw invalidOutput('datasetRecords is not an object')
  }
  const changes = new Map<string, string | null>()
  for (const [key, entry] of Object.entries(records)) {
    if (typeof entry !== 'object' || entry === null) throw invalidOutput(`record ${key} is not an object`)
    const { newValue, op } = entry as Record<string, unknown>
    if (op !== 'replace' && op !== 'remove') throw invalidOutput(`record ${key} has op ${String(op)}`)
    if (!validateKey(key, context.limits).ok) throw invalidOutput(`record key ${key} is not valid`)
    let value: string | null = null
    if (op === 'replace' && newValue !== null) {
      const valid = validateValue(newValue, context.limits)
      if (!valid.ok) throw invalidOutput(`record ${key} has an invalid newValue`)
      value = valid.value
    }
    const asked = Object.hasOwn(event.datasetRecords, key) ? event.datasetRecords[key] : undefined
    const askedValue = asked === undefined ? undefined : asked.op === 'remove' ? null : asked.newValue
    if (askedValue === undefined ? value !== null : value !== askedValue) changes.set(key, value)
  }
  return changes
}

function invalidOutput(why: string): CognitoError {
  return new CognitoError(
    'InvalidLambdaFunctionOutputException',
    `The sync trigger's output is malformed: ${why}`,
  )
}
