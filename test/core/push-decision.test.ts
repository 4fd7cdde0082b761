import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, resolveLimits } from '../../src/core/limits.js'
import {
  decidePushSync,
  type PushDecision,
  type PushSyncState,
  pushedChangesToApply,
} from '../../src/core/push-decision.js'
import {
  encodePushPayload,
  type PushPayloadPlatform,
  type PushSyncUpdate,
} from '../../src/core/push-payload.js'

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/push/${name}`, import.meta.url), 'utf8'))
}

const PLATFORMS: readonly PushPayloadPlatform[] = ['flat-strings', 'apns', 'json']
const REASONS = ['malformed', 'not-cognito-sync', 'other-pool', 'other-identity', 'stale']

const chars = (set: string) => fc.constantFrom(...set)
const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'
const HEX = '0123456789abcdefABCDEF-'
const cognitoId = fc
  .tuple(
    fc.string({ unit: chars(WORD), minLength: 1, maxLength: 20 }),
    fc.string({ unit: chars(HEX), minLength: 1, maxLength: 34 }),
  )
  .map(([region, guid]) => `${region}:${guid}`)
const datasetName = fc.string({
  unit: chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-'),
  minLength: 1,
  maxLength: DEFAULT_LIMITS.maxDatasetNameLength,
})
// Small counts make equal and adjacent counts (the boundary of staleness) frequent.
const syncCount = fc.oneof(fc.nat(20), fc.nat(), fc.maxSafeNat())
const update: fc.Arbitrary<PushSyncUpdate> = fc.record({
  source: fc.constant('cognito-sync' as const),
  identityPoolId: cognitoId,
  identityId: cognitoId,
  datasetName,
  syncCount,
})
/** The update as a raw payload of some platform, or as the parsed object itself. */
const delivered = (u: PushSyncUpdate) =>
  fc.oneof(
    fc.constant<unknown>(u),
    fc.constantFrom(...PLATFORMS).map((p) => encodePushPayload(u, p)),
    fc.constantFrom(...PLATFORMS).map((p) => JSON.stringify(encodePushPayload(u, p))),
  )

/** A state of the same pool and identity as `u`, with its own count. */
function stateFor(u: PushSyncUpdate, lastSyncCount: number, syncing: boolean): PushSyncState {
  return { identityPoolId: u.identityPoolId, identityId: u.identityId, lastSyncCount, syncing }
}

const POOL = 'us-east-1:4f3e0a5c-2b8d-4e19-9a7b-1c6d2e8f0a34'
const IDENTITY = 'us-east-1:9b2c7d41-8e5f-4a63-b0d2-7f1e3c5a9d86'
const UPDATE: PushSyncUpdate = {
  source: 'cognito-sync',
  identityPoolId: POOL,
  identityId: IDENTITY,
  datasetName: 'settings',
  syncCount: 12,
}
const STATE: PushSyncState = { identityPoolId: POOL, identityId: IDENTITY, lastSyncCount: 11, syncing: false }

function ignored(reason: string, ...parts: string[]) {
  return {
    action: 'ignore',
    reason,
    message: expect.stringMatching(
      new RegExp(parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')),
    ),
  }
}

describe('decidePushSync: platform fixtures', () => {
  it.each([
    ['fcm-android-data.json', STATE],
    ['fcm-remote-message.json', STATE],
  ])('syncs on %s when its count is newer', (name, state) => {
    expect(decidePushSync(state, fixture(name))).toEqual({ action: 'sync' })
    expect(decidePushSync({ ...state, syncing: true }, fixture(name))).toEqual({ action: 'coalesce' })
    expect(decidePushSync({ ...state, lastSyncCount: 12 }, fixture(name))).toEqual(
      ignored('stale', 'syncCount 12', '"settings"', 'lastSyncCount 12'),
    )
  })

  it('syncs on an APNs userInfo', () => {
    const state: PushSyncState = {
      identityPoolId: 'eu-west-1:0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5',
      identityId: 'eu-west-1:7A6B5C4D-3E2F-1A0B-9C8D-7E6F5A4B3C2D',
      lastSyncCount: 56,
      syncing: false,
    }
    expect(decidePushSync(state, fixture('apns-user-info.json'))).toEqual({ action: 'sync' })
    expect(decidePushSync({ ...state, lastSyncCount: 57 }, fixture('apns-user-info.json'))).toEqual(
      ignored('stale', 'syncCount 57', 'lastSyncCount 57'),
    )
  })

  const bookmarks: PushSyncState = {
    identityPoolId: 'ap-northeast-1:5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9',
    identityId: 'ap-northeast-1:1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
    lastSyncCount: 3,
    syncing: false,
  }

  it('ignores a Web Push body already applied and syncs on the SSE event after it', () => {
    expect(decidePushSync(bookmarks, fixture('web-push-body.json'))).toEqual(
      ignored('stale', 'syncCount 3', 'lastSyncCount 3'),
    )
    const event = fixture('sse-event.json') as { data: string }
    expect(decidePushSync(bookmarks, event.data)).toEqual({ action: 'sync' })
  })

  it('ignores a push of another app feature as not-cognito-sync', () => {
    expect(decidePushSync(STATE, fixture('fcm-android-other-feature.json'))).toEqual(
      ignored('not-cognito-sync', 'source'),
    )
  })
})

describe('decidePushSync: each outcome', () => {
  it('syncs when newer and idle, coalesces when a sync is running', () => {
    expect(decidePushSync(STATE, UPDATE)).toEqual({ action: 'sync' })
    expect(decidePushSync({ ...STATE, syncing: true }, UPDATE)).toEqual({ action: 'coalesce' })
  })

  it('ignores a malformed payload, naming the field', () => {
    expect(decidePushSync(STATE, { ...UPDATE, syncCount: '1e3' })).toEqual(
      ignored('malformed', 'syncCount', '"1e3"'),
    )
    expect(decidePushSync(STATE, { ...UPDATE, datasetName: '' })).toEqual(ignored('malformed', 'datasetName'))
    expect(decidePushSync(STATE, 'not json')).toEqual(ignored('malformed', '"not json"'))
    expect(decidePushSync(STATE, null)).toEqual(ignored('malformed', 'null'))
  })

  it('ignores a hand-built update with an invalid count instead of trusting its type', () => {
    const forged = { ...UPDATE, syncCount: Number.POSITIVE_INFINITY } as PushSyncUpdate
    expect(decidePushSync(STATE, forged)).toEqual(ignored('malformed', 'syncCount', 'Infinity'))
  })

  it('ignores another source as not-cognito-sync', () => {
    expect(decidePushSync(STATE, { ...UPDATE, source: 'billing' })).toEqual(
      ignored('not-cognito-sync', 'source', '"billing"'),
    )
  })

  it('ignores another identity pool, before looking at the identity', () => {
    const other = 'eu-west-1:0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5'
    expect(decidePushSync(STATE, { ...UPDATE, identityPoolId: other, identityId: other })).toEqual(
      ignored('other-pool', 'identityPoolId', `"${other}"`, `"${POOL}"`),
    )
  })

  it('ignores another identity, before looking at the count', () => {
    const other = 'us-east-1:00000000-0000-0000-0000-000000000001'
    expect(decidePushSync(STATE, { ...UPDATE, identityId: other, syncCount: 0 })).toEqual(
      ignored('other-identity', 'identityId', `"${other}"`, `"${IDENTITY}"`),
    )
  })

  it('ignores an equal or older count as stale, even while syncing', () => {
    for (const syncing of [false, true]) {
      expect(decidePushSync({ ...STATE, lastSyncCount: 12, syncing }, UPDATE)).toEqual(
        ignored('stale', 'syncCount 12', 'lastSyncCount 12'),
      )
      expect(decidePushSync({ ...STATE, lastSyncCount: 40, syncing }, UPDATE)).toEqual(
        ignored('stale', 'syncCount 12', 'lastSyncCount 40'),
      )
    }
  })

  it('treats a never-synced dataset as older than any count but 0', () => {
    expect(decidePushSync({ ...STATE, lastSyncCount: 0 }, { ...UPDATE, syncCount: 1 })).toEqual({
      action: 'sync',
    })
    expect(decidePushSync({ ...STATE, lastSyncCount: 0 }, { ...UPDATE, syncCount: 0 })).toEqual(
      ignored('stale', 'syncCount 0', 'lastSyncCount 0'),
    )
  })

  it('syncs on any valid count, 0 included, while a local delete is pending', () => {
    const pending = { ...STATE, lastSyncCount: -1 }
    expect(decidePushSync(pending, { ...UPDATE, syncCount: 0 })).toEqual({ action: 'sync' })
    expect(decidePushSync({ ...pending, syncing: true }, { ...UPDATE, syncCount: 0 })).toEqual({
      action: 'coalesce',
    })
  })

  it('bounds the dataset name with the limits given', () => {
    const long = { ...UPDATE, datasetName: 'd'.repeat(150) }
    expect(decidePushSync(STATE, long)).toEqual(ignored('malformed', 'datasetName'))
    expect(decidePushSync(STATE, long, resolveLimits({ maxDatasetNameLength: 200 }))).toEqual({
      action: 'sync',
    })
  })
})

describe('decidePushSync: properties', () => {
  it('never decides sync or coalesce for a count at or below lastSyncCount', () => {
    fc.assert(
      fc.property(
        update.chain((u) => fc.tuple(fc.constant(u), delivered(u))),
        fc.nat(),
        fc.boolean(),
        ([u, payload], extra, syncing) => {
          const lastSyncCount = Math.min(u.syncCount + (extra % 3 === 0 ? 0 : extra), Number.MAX_SAFE_INTEGER)
          const decision = decidePushSync(stateFor(u, lastSyncCount, syncing), payload)
          expect(decision).toEqual(
            ignored('stale', `syncCount ${u.syncCount}`, `lastSyncCount ${lastSyncCount}`),
          )
        },
      ),
    )
  })

  it('always decides sync for a newer count, or coalesce while syncing', () => {
    fc.assert(
      fc.property(
        update.chain((u) =>
          fc.tuple(fc.constant(u), delivered(u), fc.integer({ min: -1, max: u.syncCount - 1 })),
        ),
        fc.boolean(),
        ([u, payload, lastSyncCount], syncing) => {
          const expected: PushDecision = syncing ? { action: 'coalesce' } : { action: 'sync' }
          expect(decidePushSync(stateFor(u, lastSyncCount, syncing), payload)).toEqual(expected)
        },
      ),
    )
  })

  it('always ignores another pool as other-pool, whatever the identity and counts', () => {
    fc.assert(
      fc.property(
        update.chain((u) => fc.tuple(fc.constant(u), delivered(u))),
        cognitoId,
        cognitoId,
        fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        ([u, payload], pool, identity, lastSyncCount, syncing) => {
          fc.pre(pool !== u.identityPoolId)
          const state = { identityPoolId: pool, identityId: identity, lastSyncCount, syncing }
          expect(decidePushSync(state, payload)).toEqual(
            ignored('other-pool', 'identityPoolId', JSON.stringify(u.identityPoolId), JSON.stringify(pool)),
          )
        },
      ),
    )
  })

  it('always ignores another identity of the same pool as other-identity, whatever the counts', () => {
    fc.assert(
      fc.property(
        update.chain((u) => fc.tuple(fc.constant(u), delivered(u))),
        cognitoId,
        fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        ([u, payload], identity, lastSyncCount, syncing) => {
          fc.pre(identity !== u.identityId)
          const state = { identityPoolId: u.identityPoolId, identityId: identity, lastSyncCount, syncing }
          expect(decidePushSync(state, payload)).toEqual(
            ignored('other-identity', 'identityId', JSON.stringify(u.identityId), JSON.stringify(identity)),
          )
        },
      ),
    )
  })

  it('decides the same for every platform shape of one update', () => {
    fc.assert(
      fc.property(
        update,
        fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        (u, lastSyncCount, syncing) => {
          const state = stateFor(u, lastSyncCount, syncing)
          const expected = decidePushSync(state, u)
          for (const p of PLATFORMS) {
            expect(decidePushSync(state, encodePushPayload(u, p))).toEqual(expected)
            expect(decidePushSync(state, JSON.stringify(encodePushPayload(u, p)))).toEqual(expected)
          }
        },
      ),
    )
  })

  it('never throws, whatever the payload, and always answers a well-formed decision', () => {
    const payload = fc.oneof(
      fc.anything({
        withBigInt: true,
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withNullPrototype: true,
        withObjectString: true,
        withSet: true,
        withSparseArray: true,
        withTypedArray: true,
      }),
      fc.jsonValue(),
      fc.json(),
      fc.string(),
      fc.record({ aps: fc.anything(), data: fc.anything() }),
      update.chain(delivered),
    )
    const state = fc.record({
      identityPoolId: fc.oneof(cognitoId, fc.constant(POOL)),
      identityId: fc.oneof(cognitoId, fc.constant(IDENTITY)),
      lastSyncCount: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
      syncing: fc.boolean(),
    })
    fc.assert(
      fc.property(state, payload, (s, p) => {
        const decision = decidePushSync(s, p)
        if (decision.action === 'ignore') {
          expect(REASONS).toContain(decision.reason)
          expect(decision.message.length).toBeGreaterThan(0)
        } else {
          expect(decision).toEqual({ action: s.syncing ? 'coalesce' : 'sync' })
        }
      }),
    )
  })
})

describe('pushedChangesToApply', () => {
  const pushed: PushSyncUpdate = {
    source: 'cognito-sync',
    identityPoolId: 'us-east-1:4f3e0a5c-2b8d-4e19-9a7b-1c6d2e8f0a34',
    identityId: 'us-east-1:9d2b7c1e-6a4f-4b8e-8c3d-5e7f9a1b2c3d',
    datasetName: 'settings',
    syncCount: 8,
    changes: {
      after: 7,
      records: [
        {
          key: 'k',
          value: 'v',
          syncCount: 8,
          lastModifiedDate: 1000,
          lastModifiedBy: null,
          deviceLastModifiedDate: null,
        },
      ],
    },
  }

  it('hands the changes over only to a device at the count just before them, without local changes', () => {
    expect(pushedChangesToApply({ lastSyncCount: 7, hasLocalChanges: false }, pushed)).toEqual(pushed.changes)
    expect(pushedChangesToApply({ lastSyncCount: 6, hasLocalChanges: false }, pushed)).toBeUndefined()
    expect(pushedChangesToApply({ lastSyncCount: 8, hasLocalChanges: false }, pushed)).toBeUndefined()
    expect(pushedChangesToApply({ lastSyncCount: 7, hasLocalChanges: true }, pushed)).toBeUndefined()
    const { changes: _, ...plain } = pushed
    expect(pushedChangesToApply({ lastSyncCount: 7, hasLocalChanges: false }, plain)).toBeUndefined()
  })

  it('checks hand-built changes again: wrong shapes or counts are not applied', () => {
    const record = pushed.changes?.records[0]
    if (record === undefined) throw new Error('unreachable')
    const variants: unknown[] = [
      { after: 7, records: [{ ...record, syncCount: 9 }] },
      { after: 7, records: [{ ...record, value: 42 }] },
      { after: 7, records: [record, record] },
      { after: 7, records: null },
      { after: 7, records: [{ ...record, lastModifiedDate: Number.NaN }] },
    ]
    for (const changes of variants) {
      const update = { ...pushed, changes } as unknown as PushSyncUpdate
      expect(pushedChangesToApply({ lastSyncCount: 7, hasLocalChanges: false }, update)).toBeUndefined()
    }
  })
})

describe('decidePushSync: a deletion of a dataset the device does not hold', () => {
  it('is ignored as deleted, whatever the counts; a held dataset still syncs on it', () => {
    fc.assert(
      fc.property(update, fc.nat(20), fc.boolean(), (u, lastSyncCount, syncing) => {
        const deletion = { ...u, deleted: true as const }
        const notHeld = { ...stateFor(u, 0, syncing), held: false }
        const decision = decidePushSync(notHeld, encodePushPayload(deletion, 'json'))
        expect(decision).toMatchObject({ action: 'ignore', reason: 'deleted' })
        // A device that holds the dataset must learn of the deletion: the ordinary rules decide.
        const held = { ...stateFor(u, lastSyncCount, syncing), held: true }
        expect(decidePushSync(held, encodePushPayload(deletion, 'json'))).toEqual(decidePushSync(held, u))
        // Without the mark (Cognito's payloads never carry it) a device without a copy still syncs.
        if (u.syncCount > 0) expect(decidePushSync(notHeld, u).action).not.toBe('ignore')
      }),
    )
  })

  it('reads the mark only when it is exactly true, and it replaces any changes', () => {
    const base = {
      source: 'cognito-sync',
      identityPoolId: POOL,
      identityId: POOL,
      datasetName: 'scratch',
      syncCount: 2,
    }
    for (const mark of ['true', 1, {}, null]) {
      const parsed = decidePushSync(
        { ...stateFor(base as PushSyncUpdate, 0, false), held: false },
        { ...base, deleted: mark },
      )
      expect(parsed.action).toBe('sync')
    }
    const withChanges = {
      ...base,
      deleted: true,
      changes: { after: 1, records: [{ Key: 'k', SyncCount: 2 }] },
    }
    expect(
      JSON.parse(JSON.stringify(encodePushPayload({ ...(base as PushSyncUpdate), deleted: true }, 'json'))),
    ).toEqual({
      ...base,
      deleted: true,
    })
    expect(
      decidePushSync({ ...stateFor(base as PushSyncUpdate, 0, false), held: false }, withChanges),
    ).toMatchObject({ action: 'ignore', reason: 'deleted' })
  })
})
