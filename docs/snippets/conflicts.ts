/** Conflicts: two devices change one record before either synchronizes. */
import { type ConflictResolver, lastWriterWins } from 'pushsync'
import { memoryDevice } from './devices.js'
import { signInAsGuest } from './sign-in.js'

// #region resolver
// A manager-wide resolver: a pure function from a conflict to a resolution.
export const longestWins: ConflictResolver = (conflict) => {
  const local = conflict.local.value ?? ''
  const remote = conflict.remote.value ?? ''
  if (local.length === remote.length) return lastWriterWins(conflict)
  return local.length > remote.length ? { kind: 'local' } : { kind: 'remote' }
}
// #endregion resolver

export async function conflicts(
  endpoint: string,
  identityPoolId: string,
): Promise<{ phone: string | undefined; laptop: string | undefined; seen: string[] }> {
  const session = await signInAsGuest(endpoint, identityPoolId)
  const phone = memoryDevice(endpoint, session)
  const laptop = memoryDevice(endpoint, session, { conflictResolver: longestWins })
  const seen: string[] = []

  const onPhone = await phone.openOrCreateDataset('shopping')
  await onPhone.put('list', 'milk')
  await onPhone.synchronize()
  const onLaptop = await laptop.openOrCreateDataset('shopping')
  await onLaptop.synchronize()

  // #region on-conflict
  // Both devices edit the list; the phone synchronizes first.
  await onPhone.put('list', 'milk, eggs')
  await onLaptop.put('list', 'milk, bread')
  await onPhone.synchronize()

  // The laptop's edit is based on a sync count the server has moved past: a conflict.
  await onLaptop.synchronize({
    onConflict(conflicts) {
      for (const conflict of conflicts) {
        seen.push(`${conflict.key}: ${conflict.local.value} / ${conflict.remote.value}`)
        // Keep both edits. Also possible: resolveWithLocal(), resolveWithRemote().
        conflict.resolveWithValue('milk, eggs, bread')
      }
    },
  })
  await onPhone.synchronize() // the merged list reaches the phone
  // #endregion on-conflict

  const result = { phone: await onPhone.get('list'), laptop: await onLaptop.get('list'), seen }
  await phone.close()
  await laptop.close()
  return result
}
