import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis'
import { awsErrorCode, isTransientAwsError } from '../aws/errors.js'
import type { StoreTx } from '../store/contract.js'

/** A batch of stream records' JSON texts, each with where it came from, and how to remember it was read. */
export interface SourceBatch {
  readonly texts: ReadonlyArray<{ readonly text: string; readonly at: string }>
  /** Runs in the transaction that stores the batch: the next run resumes after it. */
  readonly checkpoint?: (tx: StoreTx) => Promise<void>
}

/**
 * A file of stream records, one JSON record per line (what `aws kinesis get-records` data decodes
 * to, or this server's `--streams-dir` files); blank lines are skipped. Re-reading a file is safe:
 * what is stored already is left alone.
 */
export async function* fileRecords(path: string, batchSize: number): AsyncGenerator<SourceBatch> {
  const lines = createInterface({
    input: createReadStream(path, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  })
  let texts: Array<{ text: string; at: string }> = []
  let line = 0
  for await (const text of lines) {
    line++
    if (text.trim() === '') continue
    texts.push({ text, at: `${path}:${line}` })
    if (texts.length >= batchSize) {
      yield { texts }
      texts = []
    }
  }
  if (texts.length > 0) yield { texts }
}

/** Where the import of one shard got to, kept in the store's settings. */
const checkpointName = (region: string, stream: string, shardId: string) =>
  `import.kinesis.${region}.${stream}.${shardId}`

/** Kinesis allows a shard five reads a second: a throttled read waits this long, then more. */
const THROTTLE_WAIT_MS = 1000

/**
 * Every record of a Kinesis stream, shard by shard (parents before their children), from where the
 * last import of that shard stopped (its checkpoint) or from the oldest record kept. Ends when
 * every shard is read up to its latest record.
 */
export async function* kinesisRecords(options: {
  readonly kinesis: KinesisClient
  readonly region: string
  readonly streamName: string
  readonly limit: number
  readonly signal: () => AbortSignal
  readonly readCheckpoint: (name: string) => Promise<string | undefined>
}): AsyncGenerator<SourceBatch> {
  const { kinesis, streamName } = options
  const call = async <T>(send: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send()
      } catch (error) {
        if (!isTransientAwsError(error) || attempt >= 8) throw error
        await sleep(
          awsErrorCode(error) === 'ProvisionedThroughputExceeded'
            ? THROTTLE_WAIT_MS * attempt
            : 200 * attempt,
        )
      }
    }
  }

  const shards: Shard[] = []
  let nextToken: string | undefined
  do {
    const page = await call(() =>
      kinesis.send(
        new ListShardsCommand(
          nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken },
        ),
        { abortSignal: options.signal() },
      ),
    )
    shards.push(...(page.Shards ?? []))
    nextToken = page.NextToken
  } while (nextToken !== undefined)

  for (const shard of orderByLineage(shards)) {
    const shardId = shard.ShardId as string
    const name = checkpointName(options.region, streamName, shardId)
    const after = await options.readCheckpoint(name)
    let iterator = (
      await call(() =>
        kinesis.send(
          new GetShardIteratorCommand({
            StreamName: streamName,
            ShardId: shardId,
            ...(after === undefined
              ? { ShardIteratorType: 'TRIM_HORIZON' }
              : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }),
          }),
          { abortSignal: options.signal() },
        ),
      )
    ).ShardIterator
    while (iterator !== undefined) {
      const current = iterator
      const page = await call(() =>
        kinesis.send(new GetRecordsCommand({ ShardIterator: current, Limit: options.limit }), {
          abortSignal: options.signal(),
        }),
      )
      const records = page.Records ?? []
      const last = records.at(-1)?.SequenceNumber
      if (records.length > 0)
        yield {
          texts: records.map((record) => ({
            text: new TextDecoder().decode(record.Data ?? new Uint8Array()),
            at: `${streamName}/${shardId}/${record.SequenceNumber}`,
          })),
          ...(last === undefined ? {} : { checkpoint: (tx: StoreTx) => tx.putSetting(name, last) }),
        }
      // Caught up with this shard (an open shard never ends; a closed one has no next iterator).
      if (records.length === 0 && (page.MillisBehindLatest ?? 0) === 0) break
      iterator = page.NextShardIterator
    }
  }
}

/** Shards whose parents come first, so an identity's older records are read before its newer ones. */
function orderByLineage(shards: readonly Shard[]): Shard[] {
  const byId = new Map(shards.map((shard) => [shard.ShardId, shard]))
  const ordered: Shard[] = []
  const placed = new Set<string>()
  const place = (shard: Shard) => {
    const id = shard.ShardId as string
    if (placed.has(id)) return
    placed.add(id)
    for (const parent of [shard.ParentShardId, shard.AdjacentParentShardId]) {
      const found = parent === undefined ? undefined : byId.get(parent)
      if (found !== undefined) place(found)
    }
    ordered.push(shard)
  }
  for (const shard of shards) place(shard)
  return ordered
}
