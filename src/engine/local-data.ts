import type { StorageAdapter } from '../contracts/storage.js'
import { planIdentityChange } from '../core/identity.js'

/**
 * Gives the local data of identity `from` to identity `to` (spec §7.2), in one transaction: data
 * kept before sign-in changes owner; another identity's datasets are kept as `NAME.OLDID`, their
 * records new and pending, for the app to fold in (a sync reports them as merged). The old
 * identity's push registrations go: they were made for it.
 */
export async function moveLocalData(storage: StorageAdapter, from: string, to: string): Promise<void> {
  if (from === to) return
  await storage.write(async (tx) => {
    const taken = new Set((await tx.listDatasets(to)).map((meta) => meta.name))
    for (const meta of await tx.listDatasets(from)) {
      const records = await tx.listRecords(from, meta.name)
      const plan = planIdentityChange(meta.name, records, from, taken)
      taken.add(plan.name)
      await tx.putDataset({
        ...meta,
        identityId: to,
        name: plan.name,
        ...(plan.resetSync ? { lastSyncCount: 0, lastSyncDate: 0 } : {}),
      })
      await tx.putRecords(to, plan.name, plan.records)
      await tx.deleteDataset(from, meta.name)
    }
    for (const device of await tx.listDevices(from)) await tx.deleteDevice(from, device.platform)
  })
}

/** Removes everything this device keeps for `identityId`, pending changes and registrations included. */
export async function wipeLocalData(storage: StorageAdapter, identityId: string): Promise<void> {
  await storage.write(async (tx) => {
    for (const meta of await tx.listDatasets(identityId)) await tx.deleteDataset(identityId, meta.name)
    for (const device of await tx.listDevices(identityId)) await tx.deleteDevice(identityId, device.platform)
  })
}
