/**
 * Changes carried by pushes, applied without a pull: whatever order the pushes arrive in, however
 * often, and with any of them lost, a device only ever holds a state the server had at its
 * `lastSyncCount`, never goes back, and ends equal to the server after an ordinary sync.
 *
 * The pushes are the real ones: the server's SSE stream, recorded while another device writes.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSsePushSource } from '../../adapters/push/sse/index.js'
import type { PushSyncUpdate } from '../../src/index.js'
import { POOL, startServer, type TestServer } from './harness.js'

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server.close()
})

const KEYS = ['theme', 'font', '__proto__', 'k']
const write = fc.record({
  key: fc.constantFrom(...KEYS),
  value: fc.option(fc.constantFrom('a', 'b', ''), { nil: null }),
})

async function settle(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  throw new Error('timed out waiting for a condition')
}

describe('changes carried by pushes', () => {
  it('leave a device only in states the server had, in order, whatever the delivery', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(write, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (batches, deliveries) => {
          const identity = await server.newIdentity()
          const writer = server.device(identity)
          const reader = server.device(identity)
          const onWriter = await writer.openOrCreateDataset('settings')
          const onReader = await reader.openOrCreateDataset('settings')

          // The SSE stream of the identity, recorded: the pushes every device of it would get.
          const payloads: string[] = []
          const stream = createSsePushSource({
            endpoint: 'http://pushsync.test',
            identityPoolId: POOL,
            identityId: identity.identityId,
            getToken: () => identity.token,
            fetch: server.fetch,
          })
          let connected = false
          const stop = stream.start({
            deviceId: 'recorder',
            onPayload: (payload) => void payloads.push(String(payload)),
            onError: () => {},
            onConnected: () => {
              connected = true
            },
          })
          await settle(() => connected)

          // The server's state at each count, as the writer saw it right after syncing.
          const states = new Map<number, Record<string, string>>([[0, {}]])
          let changes = 0
          for (const batch of batches) {
            for (const { key, value } of batch) {
              if (value === null) await onWriter.remove(key)
              else await onWriter.put(key, value)
            }
            const { pushed, lastSyncCount } = await onWriter.synchronize()
            if (pushed > 0) changes++
            states.set(lastSyncCount, { ...(await onWriter.getAll()) })
          }
          await settle(() => payloads.length === changes)
          stop()

          let seen = 0
          for (const index of deliveries) {
            if (payloads.length === 0) break
            const update: PushSyncUpdate = reader.getPushSyncUpdate(payloads[index % payloads.length])
            await reader.handlePushSyncUpdate(update)
            // The sync a push calls for runs in the background queue: wait for the queue too.
            await settle(() => {
              const { background } = reader.getStatus()
              return background.running === 0 && background.waiting === 0 && !onReader.getStatus().syncing
            })
            const count = await onReader.getLastSyncCount()
            expect(count).toBeGreaterThanOrEqual(seen)
            seen = count
            expect({ ...(await onReader.getAll()) }).toEqual(states.get(count))
            expect(onReader.getStatus().pendingChanges).toBe(0)
          }
          await onReader.synchronize()
          const final = await onWriter.getLastSyncCount()
          expect(await onReader.getLastSyncCount()).toBe(final)
          expect({ ...(await onReader.getAll()) }).toEqual(states.get(final))
          await Promise.all([writer.close(), reader.close()])
        },
      ),
    )
  })
})
