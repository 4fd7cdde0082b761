/** Sync counts: how a dataset's count moves on the server and what each device remembers. */
import { memoryDevice } from './devices.js'
import { signInAsGuest } from './sign-in.js'

export async function syncCounts(endpoint: string, identityPoolId: string): Promise<number[]> {
  const session = await signInAsGuest(endpoint, identityPoolId)
  const phone = memoryDevice(endpoint, session)
  const laptop = memoryDevice(endpoint, session)
  const seen: number[] = []

  // #region counts
  const notes = await phone.openOrCreateDataset('notes')
  seen.push(await notes.getLastSyncCount()) // 0: never synced

  await notes.putAll({ a: '1', b: '2' })
  const first = await notes.synchronize() // one UpdateRecords: the dataset's count becomes 1
  seen.push(first.lastSyncCount) // 1

  await notes.put('a', '3')
  await notes.synchronize()
  seen.push(await notes.getLastSyncCount()) // 2

  // Another device pulls everything after its own count (0 here) and ends at the server's count.
  const onLaptop = await laptop.openOrCreateDataset('notes')
  seen.push((await onLaptop.synchronize()).lastSyncCount) // 2
  // #endregion counts

  await phone.close()
  await laptop.close()
  return seen
}
