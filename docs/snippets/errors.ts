/** Errors: every failure is a SyncError with a code. */
import { createSyncManager, isSyncError, type SyncErrorCode } from 'pushsync'
import { createMemoryStorage } from 'pushsync/storage/memory'

export async function refusedWrites(): Promise<{ codes: SyncErrorCode[]; rule: unknown }> {
  const manager = createSyncManager({
    identityPoolId: 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00',
    storage: createMemoryStorage(),
  })
  const ds = await manager.openOrCreateDataset('settings')
  const codes: SyncErrorCode[] = []
  let rule: unknown

  // #region catch
  try {
    await ds.put('k'.repeat(200), 'a key over 128 bytes')
  } catch (error) {
    if (isSyncError(error, 'INVALID_ARGUMENT')) {
      rule = error.details.rule // 'maxKeyBytes': which rule, with `limit` and `value`
      codes.push(error.code)
    }
  }

  // Without a signed-in identity the data stays local and a sync is refused.
  await ds.put('theme', 'dark')
  await ds.synchronize().catch((error: unknown) => {
    if (isSyncError(error)) codes.push(error.code) // 'TRANSPORT_AUTH', error.retryable === false
  })
  // #endregion catch

  await manager.close()
  return { codes, rule }
}
