import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { twoDevices } from '../examples/two-devices.js'
import { createSyncServer, type SyncServer } from '../server/src/server.js'

let server: SyncServer
let url: string
const directory = mkdtempSync(join(tmpdir(), 'pushsync-examples-'))

beforeAll(async () => {
  server = await createSyncServer({ db: ':memory:', allowUnauthenticated: true })
  url = (await server.listen(0)).url
})
afterAll(async () => {
  await server?.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('the README example', () => {
  it('carries a write from one device’s SQLite file to another’s through the server', async () => {
    expect(await twoDevices(url, directory)).toEqual({ theme: 'dark', language: 'en' })
  })
})
