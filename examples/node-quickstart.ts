/**
 * A tour of the core and the memory storage, run by `npm start`: a device writes offline, works out
 * what to push, stores the server's answer, then decides what to do about two pushes.
 */
import { createMemoryStorage } from '../adapters/storage/memory/index.js'
import {
  applyPushResult,
  createDatasetMeta,
  DEFAULT_LIMITS,
  decidePushSync,
  encodePushPayload,
  planLocalWrite,
  planPush,
  type RemoteRecord,
} from '../src/core/index.js'

const identityPoolId = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const identityId = 'us-east-1:6f3c8a4e-1d2b-4c5d-9e8f-0a1b2c3d4e5f'
const storage = createMemoryStorage()
const context = { now: Date.parse('2026-01-01T12:00:00Z'), limits: DEFAULT_LIMITS }

// 1. Offline: open a dataset and write to it. The writes are dirty until the server has them.
await storage.write(async (tx) => {
  const meta = createDatasetMeta(identityId, 'settings', await tx.listDatasets(identityId), context)
  if (!meta.ok) throw new Error(meta.failure.message)
  const changes = [
    { key: 'theme', value: 'dark' },
    { key: 'language', value: 'en' },
  ]
  const plan = planLocalWrite(meta.value, [], changes, context)
  if (!plan.ok) throw new Error(plan.failure.message)
  await tx.putDataset(plan.value.meta)
  await tx.putRecords(identityId, 'settings', plan.value.records)
})

// 2. A bad write is refused with a typed failure, and nothing is stored.
const settings = await storage.read((tx) => tx.getDataset(identityId, 'settings'))
if (settings === undefined) throw new Error('the dataset was not stored')
const refused = planLocalWrite(settings, [], [{ key: 'k'.repeat(200), value: 'too long a key' }], context)
if (!refused.ok)
  console.log(`refused: ${refused.failure.code} (${refused.failure.rule}): ${refused.failure.message}`)

// 3. Online: the patches UpdateRecords would get, each based on the record's server sync count.
const records = await storage.read((tx) => tx.listRecords(identityId, 'settings'))
const push = planPush(records)
console.log(
  'patches to push:',
  push.patches.map((p) => `${p.op} ${p.key}=${p.value} @${p.syncCount}`).join(', '),
)

// 4. The server accepted them as dataset sync count 1; store its answer conditionally.
const returned: RemoteRecord[] = push.patches.map((p) => ({
  key: p.key,
  value: p.value,
  syncCount: 1,
  lastModifiedDate: context.now,
  lastModifiedBy: identityId,
  deviceLastModifiedDate: p.deviceLastModifiedDate,
}))
await storage.write(async (tx) => {
  const meta = await tx.getDataset(identityId, 'settings')
  if (meta === undefined) throw new Error('the dataset disappeared')
  const current = await tx.listRecords(identityId, 'settings')
  const result = applyPushResult({
    snapshot: push.snapshot,
    current,
    returned,
    seenDatasetSyncCount: 0,
    lastSyncCount: 0,
  })
  await tx.putRecords(identityId, 'settings', result.records)
  await tx.putDataset({ ...meta, lastSyncCount: result.lastSyncCount })
})
const after = await storage.read(async (tx) => ({
  meta: await tx.getDataset(identityId, 'settings'),
  dirty: await tx.listRecords(identityId, 'settings', { dirtyOnly: true }),
}))
console.log(`lastSyncCount ${after.meta?.lastSyncCount}, ${after.dirty.length} records left to push`)

// 5. Pushes: one about the change the device already has, one about a newer change.
const state = { identityPoolId, identityId, lastSyncCount: after.meta?.lastSyncCount ?? 0, syncing: false }
for (const syncCount of [1, 2]) {
  const fcmData = encodePushPayload(
    { source: 'cognito-sync', identityPoolId, identityId, datasetName: 'settings', syncCount },
    'flat-strings',
  )
  const decision = decidePushSync(state, fcmData)
  console.log(
    `push syncCount ${syncCount}: ${decision.action}${decision.action === 'ignore' ? ` (${decision.reason})` : ''}`,
  )
}
await storage.close()
