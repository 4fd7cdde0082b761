import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ChaosServer, startChaosServer } from './server-process.js'

/**
 * Writers against server processes that are killed (SIGKILL) and started again while they write:
 * every write the server acknowledged (a 200 to UpdateRecords) must be there afterwards, with the
 * sync count it was acknowledged with, and no two acknowledged writes of a dataset may share a sync
 * count. Each write puts a key of its own, so "there" has one meaning.
 */

export const POOL = 'us-east-1:c4a05000-0000-4000-8000-0000000000aa'

export interface WritersOptions {
  /** A SQLite file path or a PostgreSQL URL: the same database for every process. */
  readonly db: string
  readonly label: string
  /** Server processes sharing the database (PostgreSQL only for more than one). */
  readonly processes: number
  readonly writers: number
  /** Kill cycles (SIGKILL, then a start on the same port and database); the writers stop after the last. */
  readonly kills: number
  /** Time between a restart and the next kill: drawn from this range, in milliseconds. */
  readonly killEveryMs: readonly [number, number]
}

export interface WritersReport {
  readonly label: string
  readonly writers: number
  readonly kills: number
  /** Writes the server answered 200. */
  readonly acknowledged: number
  /** Writes whose answer never arrived (the process died under them); either outcome is fine. */
  readonly unanswered: number
  /** Acknowledged writes missing afterwards, or holding another value. */
  readonly lost: number
  /** Acknowledged writes stored with another sync count, or sharing one. */
  readonly divergent: number
}

interface Ack {
  readonly dataset: string
  readonly key: string
  readonly value: string
  readonly syncCount: number
}

interface Writer {
  readonly identityId: string
  readonly authorization: string
  readonly acks: Ack[]
}

/** Keys per dataset before a writer moves to its next: under Cognito's 1024 records. */
const PER_DATASET = 900

async function call(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5000),
  })
  const text = await response.text()
  return { status: response.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) }
}

async function newWriter(url: string): Promise<Writer> {
  const identity = (target: string, body: object) =>
    call(url, 'POST', '/', { 'x-amz-target': `AWSCognitoIdentityService.${target}` }, body)
  const { json: id } = await identity('GetId', { IdentityPoolId: POOL })
  const { json: credentials } = await identity('GetCredentialsForIdentity', { IdentityId: id.IdentityId })
  const { SessionToken } = credentials.Credentials as { SessionToken: string }
  return { identityId: String(id.IdentityId), authorization: `Bearer ${SessionToken}`, acks: [] }
}

const datasetPath = (identityId: string, dataset: string) =>
  `/identitypools/${encodeURIComponent(POOL)}/identities/${encodeURIComponent(identityId)}/datasets/${dataset}`

export async function writersRound(options: WritersOptions): Promise<WritersReport> {
  const cwd = mkdtempSync(join(tmpdir(), 'pushsync-chaos-'))
  const servers: ChaosServer[] = []
  try {
    // One after the other: the first creates the schema.
    for (let i = 0; i < options.processes; i++) servers.push(await startChaosServer({ db: options.db, cwd }))
    const writers = await Promise.all(
      Array.from({ length: options.writers }, () => newWriter(servers[0]?.url ?? '')),
    )
    let stopped = false
    let unanswered = 0
    let kills = 0

    const liveUrl = (): string | undefined => {
      const up = servers.filter((server) => server.up)
      return up[Math.floor(Math.random() * up.length)]?.url
    }

    const write = async (writer: Writer, index: number) => {
      let token: string | undefined
      for (let n = 0; !stopped; ) {
        const url = liveUrl()
        if (url === undefined) {
          await sleep(20)
          continue
        }
        const dataset = `d${Math.floor(n / PER_DATASET)}`
        const path = datasetPath(writer.identityId, dataset)
        const auth = { authorization: writer.authorization }
        try {
          if (token === undefined) {
            const listed = await call(url, 'GET', `${path}/records?lastSyncCount=0&maxResults=1`, auth)
            if (listed.status !== 200) throw new Error(`ListRecords ${listed.status}`)
            token = String(listed.json.SyncSessionToken)
          }
          const key = `w${index}-${n}`
          const value = `value of ${key}`
          const answer = await call(url, 'POST', path, auth, {
            SyncSessionToken: token,
            RecordPatches: [{ Op: 'replace', Key: key, Value: value, SyncCount: 0 }],
          })
          if (answer.status === 200) {
            const records = answer.json.Records as Array<{ SyncCount: number }>
            writer.acks.push({ dataset, key, value, syncCount: records[0]?.SyncCount ?? -1 })
            token = String(answer.json.SyncSessionToken)
            n++
          } else {
            // A token spent by a write whose answer was lost, or a key written by it: list again,
            // and move on to a fresh key.
            token = undefined
            n++
          }
        } catch {
          // The process died under the request (or is starting again): the outcome is unknown.
          unanswered++
          token = undefined
          n++
          await sleep(20)
        }
      }
    }

    const killer = async () => {
      const [min, max] = options.killEveryMs
      while (kills < options.kills) {
        await sleep(min + Math.random() * (max - min))
        const victim = servers[kills % servers.length]
        if (victim === undefined) break
        await victim.kill()
        kills++
        await victim.start()
      }
      // A last stretch of writes against the processes as they came back.
      await sleep(max)
      stopped = true
    }

    await Promise.all([...writers.map((writer, index) => write(writer, index)), killer()])
    for (const server of servers) if (!server.up) await server.start()

    // Every acknowledged write, read back through each process.
    let lost = 0
    let divergent = 0
    for (const writer of writers) {
      const datasets = new Set(writer.acks.map((ack) => ack.dataset))
      for (const dataset of datasets) {
        const stored: Array<Map<string, { value: string | null; syncCount: number }>> = []
        for (const server of servers) {
          const { status, json } = await call(
            server.url,
            'GET',
            `${datasetPath(writer.identityId, dataset)}/records?lastSyncCount=0`,
            { authorization: writer.authorization },
          )
          if (status !== 200) throw new Error(`ListRecords while checking: ${status}`)
          const records = json.Records as Array<{ Key: string; Value?: string | null; SyncCount: number }>
          stored.push(
            new Map(records.map((r) => [r.Key, { value: r.Value ?? null, syncCount: r.SyncCount }])),
          )
        }
        const [first, ...others] = stored
        for (const other of others)
          if (JSON.stringify([...(first ?? [])].sort()) !== JSON.stringify([...other].sort())) divergent++
        const counts = new Set<number>()
        for (const ack of writer.acks.filter((a) => a.dataset === dataset)) {
          const record = first?.get(ack.key)
          if (record === undefined || record.value !== ack.value) lost++
          else if (record.syncCount !== ack.syncCount) divergent++
          if (counts.has(ack.syncCount)) divergent++
          counts.add(ack.syncCount)
        }
      }
    }
    return {
      label: options.label,
      writers: options.writers,
      kills,
      acknowledged: writers.reduce((sum, writer) => sum + writer.acks.length, 0),
      unanswered,
      lost,
      divergent,
    }
  } finally {
    for (const server of servers) await server.stop()
    rmSync(cwd, { recursive: true, force: true })
  }
}
