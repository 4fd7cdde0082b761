/**
 * Round trips with no sync library, for scale: what loopback, HTTP and the servers' cheapest answers
 * cost on this machine in this run. A push-to-visible time can be read as a number of these.
 */
import { WebSocket } from 'ws'
import { newIdentity, POOL } from './identity.js'
import { GAP_MS, type Probe, sleep } from './workload.js'

/**
 * A round trip timed like a write: GAP_MS apart, so every process involved starts from idle, as
 * in the push-to-visible rows. (Back to back, on this kind of machine, a round trip is faster: the
 * processes are still awake; `backToBack` shows that.)
 */
const roundTrip = (
  label: string,
  once: () => Promise<void>,
  { close = async () => {}, backToBack = false } = {},
): Probe => ({
  label,
  group: 'round trip',
  library: 'baseline',
  async sample() {
    const start = performance.now()
    await once()
    const ms = performance.now() - start
    if (!backToBack) await sleep(GAP_MS)
    return ms
  },
  close,
})

/** `fetch` of pushsync-server's `/healthz`: HTTP on loopback and the server's smallest answer. */
export function fetchHealthz(url: string, { backToBack = false } = {}): Probe {
  const label = `fetch GET /healthz (pushsync-server)${backToBack ? ', back to back' : ''}`
  return roundTrip(
    label,
    async () => {
      const response = await fetch(`${url}/healthz`)
      await response.text()
    },
    { backToBack },
  )
}

/** `fetch` of an authenticated ListDatasets: bearer check and a store read. */
export async function fetchListDatasets(url: string): Promise<Probe> {
  const who = await newIdentity(url)
  const path = `${url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(who.identityId)}/datasets`
  const headers = { authorization: `Bearer ${who.token}` }
  return roundTrip('fetch ListDatasets (pushsync-server)', async () => {
    const response = await fetch(path, { headers })
    if (!response.ok) throw new Error(`ListDatasets: HTTP ${response.status}`)
    await response.text()
  })
}

/**
 * `fetch` of the one UpdateRecords a current device's write is (one patch, the session token of
 * the previous answer): the floor under pushsync's write, with no engine around it.
 */
export async function fetchUpdateRecords(url: string): Promise<Probe> {
  const who = await newIdentity(url)
  const dataset = `${url}/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(who.identityId)}/datasets/raw`
  const headers = { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' }
  const listed = (await (await fetch(`${dataset}/records`, { headers })).json()) as {
    SyncSessionToken: string
  }
  let token = listed.SyncSessionToken
  let n = 0
  return roundTrip('fetch UpdateRecords by hand (pushsync-server)', async () => {
    const response = await fetch(dataset, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        SyncSessionToken: token,
        RecordPatches: [{ Op: 'replace', Key: `k${n}`, Value: `v${n}`, SyncCount: 0 }],
      }),
    })
    n++
    const answer = (await response.json()) as { SyncSessionToken?: string }
    if (!response.ok || answer.SyncSessionToken === undefined) throw new Error('UpdateRecords by hand failed')
    token = answer.SyncSessionToken
  })
}

/** A WebSocket ping answered by the RxDB server's `ws`: the floor under a WebSocket protocol. */
export async function webSocketPing(url: string): Promise<Probe> {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  return roundTrip(
    'WebSocket ping/pong (RxDB server, ws)',
    () =>
      new Promise<void>((resolve) => {
        socket.once('pong', () => resolve())
        socket.ping()
      }),
    { close: async () => socket.close() },
  )
}
