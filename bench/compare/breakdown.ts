/**
 * Where pushsync's push to visible goes, stage by stage. pushsync-server runs from its command line
 * with trace-preload.ts loaded, which notes when requests arrive, when responses end and when an SSE
 * event is written; device A's transport and device B's push stream are wrapped to note when A's
 * request leaves and its answer is read, and when B reads the event. Every note is on the
 * system-wide monotonic clock, so the server's and the devices' notes line up.
 */
import { pathToFileURL } from 'node:url'
import { createSsePushSource, type SseFetch } from '../../adapters/push/sse/index.js'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { createHttpTransport, type FetchLike } from '../../adapters/transport/http/index.js'
import { createSyncManager } from '../../src/index.js'
import { newIdentity, POOL } from './pushsync-parts.js'
import { startPushsyncServer } from './server-process.js'
import { formatMs, summarize } from './stats.js'
import { TRACE_PATH, type TraceNote } from './trace-notes.js'
import { GAP_MS, sleep, WARM_UP, WRITES, withTimeout, writeKey, writeValue } from './workload.js'

const now = () => Number(process.hrtime.bigint()) / 1e6

/** What the devices noted for one write. */
interface DeviceNotes {
  start: number
  putDone: number
  sent: number[]
  answered: number[]
  read: number[]
  syncDone: number
  syncCount: number
  bRead: number
  bChanged: number
}

export async function runBreakdown(progress: (message: string) => void): Promise<void> {
  const preload = new URL('./trace-preload.ts', import.meta.url).pathname
  const server = await startPushsyncServer({ nodeOptions: ['--import', 'tsx', '--import', preload] })
  try {
    const who = await newIdentity(server.url)
    let current: DeviceNotes | undefined
    const blank = (): DeviceNotes => ({
      start: 0,
      putDone: 0,
      sent: [],
      answered: [],
      read: [],
      syncDone: 0,
      syncCount: -1,
      bRead: 0,
      bChanged: 0,
    })

    // A's transport: when each request leaves, when its answer's head arrives, when its body is read.
    const tracedFetch: FetchLike = async (input, init) => {
      current?.sent.push(now())
      const response = await fetch(input, init)
      current?.answered.push(now())
      return {
        ok: response.ok,
        status: response.status,
        headers: response.headers,
        async text() {
          const body = await response.text()
          current?.read.push(now())
          const counts = [...body.matchAll(/"SyncCount":(\d+)/g)].map((match) => Number(match[1]))
          if (current !== undefined && counts.length > 0) current.syncCount = Math.max(...counts)
          return body
        },
      }
    }
    // B's push stream: when the chunk carrying a sync event is read off the socket.
    const bStreamFetch: SseFetch = async (input, init) => {
      const response = await fetch(input, init)
      const reader = response.body?.getReader()
      const decoder = new TextDecoder()
      return {
        ok: response.ok,
        status: response.status,
        headers: response.headers,
        text: () => response.text(),
        body:
          reader === undefined
            ? null
            : {
                getReader: () => ({
                  async read() {
                    const chunk = await reader.read()
                    const at = now()
                    if (chunk.value !== undefined && current !== undefined && current.bRead === 0) {
                      if (decoder.decode(chunk.value, { stream: true }).includes('"syncCount"'))
                        current.bRead = at
                    }
                    return chunk
                  },
                  cancel: (reason?: unknown) => reader.cancel(reason),
                }),
              },
      }
    }

    const device = (transportFetch?: FetchLike) =>
      createSyncManager({
        identityPoolId: POOL,
        identityId: who.identityId,
        storage: createMemoryStorage(),
        transport: createHttpTransport({
          endpoint: server.url,
          identityPoolId: POOL,
          identityId: who.identityId,
          getToken: () => who.token,
          ...(transportFetch === undefined ? {} : { fetch: transportFetch }),
        }),
      })
    const a = device(tracedFetch)
    const b = device()
    const dsA = await a.openOrCreateDataset('writes')
    const dsB = await b.openOrCreateDataset('writes')
    await dsA.put('opened', 'yes')
    await dsA.synchronize()
    await dsB.synchronize()
    const source = (streamFetch?: SseFetch) =>
      createSsePushSource({
        endpoint: server.url,
        identityPoolId: POOL,
        identityId: who.identityId,
        getToken: () => who.token,
        ...(streamFetch === undefined ? {} : { fetch: streamFetch }),
      })
    a.addPushSource(source())
    b.addPushSource(source(bStreamFetch))
    while (![a, b].every((m) => m.getStatus().pushSources.every((s) => s.state === 'live'))) await sleep(10)
    await sleep(100)

    let seen: ((at: number) => void) | undefined
    b.on('datasetChanged', (event) => {
      if (event.source === 'remote') seen?.(now())
    })
    const writeOnce = async (i: number): Promise<DeviceNotes> => {
      const notes = blank()
      current = notes
      const visible = new Promise<number>((resolve) => {
        seen = resolve
      })
      notes.start = now()
      await dsA.put(writeKey(i), writeValue(i))
      notes.putDone = now()
      await dsA.synchronize()
      notes.syncDone = now()
      notes.bChanged = await withTimeout(visible, 10_000, `breakdown: write ${i}`)
      current = undefined
      await sleep(GAP_MS)
      return notes
    }

    progress('breakdown: warming up')
    for (let i = 0; i < WARM_UP; i++) await writeOnce(i)
    await fetch(`${server.url}${TRACE_PATH}`).then((response) => response.text())
    progress(`breakdown: ${WRITES} traced writes`)
    const writes: DeviceNotes[] = []
    for (let i = WARM_UP; i < WARM_UP + WRITES; i++) writes.push(await writeOnce(i))
    const notes = (await (await fetch(`${server.url}${TRACE_PATH}`)).json()) as TraceNote[]
    await a.close()
    await b.close()
    report(writes, notes)
  } finally {
    await server.stop()
  }
}

function report(writes: readonly DeviceNotes[], notes: readonly TraceNote[]): void {
  const updates = notes.filter((note) => note.method === 'POST' && note.path?.endsWith('/datasets/writes'))
  const arrivals = updates.filter((note) => note.kind === 'request')
  const ends = updates.filter((note) => note.kind === 'end')
  const begins = notes.filter((note) => note.kind === 'begin')
  const commits = notes.filter((note) => note.kind === 'commit')
  const firstAt = (kind: TraceNote['kind']) => {
    const times = new Map<number | undefined, number>()
    for (const note of notes)
      if (note.kind === kind && !times.has(note.syncCount)) times.set(note.syncCount, note.at)
    return times
  }
  const events = firstAt('sse')
  const flushes = firstAt('flush')
  const requestsPerWrite = writes.reduce((sum, w) => sum + w.sent.length, 0) / writes.length
  if (arrivals.length !== writes.length || ends.length !== writes.length || requestsPerWrite !== 1) {
    console.log(
      `\nbreakdown: ${arrivals.length} UpdateRecords for ${writes.length} writes, ${requestsPerWrite.toFixed(2)} requests per write: not the one-round-trip path; stages not split`,
    )
    return
  }
  const stages = new Map<string, number[]>()
  const add = (stage: string, ms: number) => {
    const samples = stages.get(stage) ?? []
    samples.push(ms)
    stages.set(stage, samples)
  }
  const transactions: number[] = []
  const statements: number[] = []
  writes.forEach((w, k) => {
    const arrival = arrivals[k]?.at as number
    const ended = ends[k]?.at as number
    // The store's transactions while this request was being served (no other request runs then).
    const within = (note: TraceNote) => note.at >= arrival && note.at <= ended
    const ownBegins = begins.filter(within)
    const ownCommits = commits.filter(within)
    // The write transaction is the one with the most statements; the others are lookups and
    // bookkeeping (one transaction at a time, so the i-th BEGIN pairs with the i-th COMMIT).
    const write = ownCommits.reduce(
      (best, note, index) => ((note.statements ?? 0) > (ownCommits[best]?.statements ?? -1) ? index : best),
      0,
    )
    const begin = ownBegins[write]?.at ?? Number.NaN
    const commit = ownCommits[write]?.at ?? Number.NaN
    transactions.push(ownCommits.length)
    statements.push(ownCommits.reduce((sum, note) => sum + (note.statements ?? 0), 0))
    const event = events.get(w.syncCount) ?? Number.NaN
    const flushed = flushes.get(w.syncCount) ?? Number.NaN
    const sent = w.sent[0] as number
    const read = w.read[0] as number
    add('A: put (the local write)', w.putDone - w.start)
    add('A: from put to the request leaving (engine)', sent - w.putDone)
    add('A → server: fetch called until the server has the request', arrival - sent)
    add(
      `server: request in until the write transaction begins (auth, body, checks, ${write} lookup transaction(s))`,
      begin - arrival,
    )
    add('server: the write transaction (BEGIN IMMEDIATE … COMMIT)', commit - begin)
    add('server: commit until the SSE event to B is written to its response', event - commit)
    add('server: the event written until its bytes reach the socket (corked)', flushed - event)
    add('server → B: bytes on the socket until B reads them', w.bRead - flushed)
    add('B: event read until datasetChanged (apply, storage)', w.bChanged - w.bRead)
    add('total: push to visible', w.bChanged - w.start)
    add('  aside — server: request in until its response ends', ended - arrival)
    add('  aside — server: response end until A has read the answer', read - ended)
    add('  aside — A: answer read until synchronize() resolves', w.syncDone - read)
    add('  aside — A: synchronize() in all', w.syncDone - w.putDone)
  })
  const median = (values: number[]) => summarize(values).p50
  console.log(
    `\nWhere pushsync's push to visible goes (memory, HTTP, SSE; ${writes.length} writes, one request each; per UpdateRecords ${median(transactions)} store transaction(s), ${median(statements)} SQL statements)`,
  )
  console.log('| stage | p50 ms | p90 ms | p99 ms |')
  console.log('|---|--:|--:|--:|')
  const last = writes.length - 1
  const lastCommits = commits.filter(
    (note) => note.at >= (arrivals[last]?.at as number) && note.at <= (ends[last]?.at as number),
  )
  lastCommits.forEach((note, index) => {
    console.log(`  store transaction ${index + 1} of the last write: ${(note.sql ?? []).join(' | ')}`)
  })
  for (const [label, samples] of stages) {
    const valid = samples.filter(Number.isFinite)
    if (valid.length !== samples.length) {
      console.log(`| ${label} | (${samples.length - valid.length} writes without a note) | | |`)
      continue
    }
    const { p50, p90, p99 } = summarize(valid)
    console.log(`| ${label} | ${formatMs(p50)} | ${formatMs(p90)} | ${formatMs(p99)} |`)
  }
}

// Run by itself: `npx tsx bench/compare/breakdown.ts`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runBreakdown((message) => process.stderr.write(`  … ${message}\n`))
}
