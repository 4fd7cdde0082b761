import type { StorageReadTx } from '../contracts/storage.js'
import type { SyncRecord } from '../core/model.js'

/** Past this many keys one read of the whole dataset is cheaper than a read per key. */
export const KEYS_READ_ONE_BY_ONE = 32

/**
 * The stored rows of `keys` that exist: read one by one when they are few (a write of a few keys,
 * a pull of a few changes, in a dataset of up to 1,024 records), else with one read of the whole
 * dataset, filtered.
 */
export async function readRows(
  tx: StorageReadTx,
  identityId: string,
  dataset: string,
  keys: ReadonlySet<string>,
): Promise<SyncRecord[]> {
  if (keys.size > KEYS_READ_ONE_BY_ONE)
    return (await tx.listRecords(identityId, dataset)).filter((row) => keys.has(row.key))
  const rows = await Promise.all([...keys].map((key) => tx.getRecord(identityId, dataset, key)))
  return rows.filter((row): row is SyncRecord => row !== undefined)
}
