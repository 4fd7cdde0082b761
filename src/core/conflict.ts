import type { Limits } from './limits.js'
import type { SyncRecord } from './model.js'
import type { Conflict } from './pull.js'
import { cleanRecord } from './records.js'
import { ok, type Result } from './result.js'
import { type ValidationFailure, validateValue } from './validate.js'

/** How one conflict ends: the server's record, the device's, or a new value (`null` removes). */
export type Resolution =
  | { readonly kind: 'remote' }
  | { readonly kind: 'local' }
  | { readonly kind: 'value'; readonly value: string | null }

/** Decides a conflict. Resolvers are pure: the same conflict always gets the same resolution. */
export type ConflictResolver = (conflict: Conflict) => Resolution

/** The server's record wins. */
export const remoteWins: ConflictResolver = () => ({ kind: 'remote' })

/** The device's record wins. */
export const localWins: ConflictResolver = () => ({ kind: 'local' })

/**
 * The later write wins. It compares the device clocks of the two writes: the local record's
 * `deviceLastModifiedDate` against the remote record's `DeviceLastModifiedDate`, or, when the remote
 * writer sent none, the server's `LastModifiedDate`. Device clocks can be skewed; apps that cannot
 * accept that should pick another resolver. A tie goes to the server so that every device decides
 * the same way.
 */
export const lastWriterWins: ConflictResolver = ({ local, remote }) => {
  const remoteTime = remote.deviceLastModifiedDate ?? remote.lastModifiedDate
  return local.deviceLastModifiedDate > remoteTime ? { kind: 'local' } : { kind: 'remote' }
}

/**
 * The row a resolution stores. Whatever wins is based on the remote sync count, so the next push of a
 * kept local change (or a new value) is accepted by the server, unless the record changes again
 * meanwhile, which is a new conflict.
 */
export function resolveConflict(
  conflict: Conflict,
  resolution: Resolution,
  context: { readonly now: number; readonly limits: Limits },
): Result<SyncRecord, ValidationFailure> {
  const { local, remote } = conflict
  if (resolution.kind === 'remote') return ok(cleanRecord(remote))
  if (resolution.kind === 'value') {
    if (resolution.value !== null) {
      const valid = validateValue(resolution.value, context.limits)
      if (!valid.ok) return valid
    }
    if (resolution.value === remote.value) return ok(cleanRecord(remote))
    return ok(rebase(local, remote, resolution.value, context.now))
  }
  return ok(rebase(local, remote, local.value, local.deviceLastModifiedDate))
}

function rebase(
  local: SyncRecord,
  remote: Conflict['remote'],
  value: string | null,
  deviceLastModifiedDate: number,
): SyncRecord {
  return {
    key: local.key,
    value,
    syncCount: remote.syncCount,
    lastModifiedDate: remote.lastModifiedDate,
    lastModifiedBy: remote.lastModifiedBy,
    deviceLastModifiedDate,
    dirty: true,
  }
}
