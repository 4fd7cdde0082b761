import { createHash, randomUUID } from 'node:crypto'
import { ACCOUNT_ID, type FakeAccount, type FakeResponse, type FakeServer, serveFake } from './account.js'

/** A record as Kinesis keeps it. */
export interface KinesisRecord {
  readonly sequenceNumber: string
  readonly partitionKey: string
  readonly data: Buffer
  readonly arrival: number
  /** The role that wrote it. */
  readonly roleArn: string | undefined
}

interface Shard {
  readonly id: string
  /** The shard's share of the 128-bit hash key space: [start, end]. */
  readonly start: bigint
  readonly end: bigint
  readonly records: KinesisRecord[]
}

export interface FakeKinesis extends FakeServer {
  /** Makes a stream of `shards` shards (split evenly over the hash key space) in `region`. */
  addStream(name: string, shards?: number, region?: string): void
  deleteStream(name: string, region?: string): void
  /** Every record of a stream, shard after shard, as JSON values. */
  records(
    name: string,
    region?: string,
  ): Array<{ partitionKey: string; data: unknown; roleArn: string | undefined }>
  /** Writes a record as a producer would (the test's own writer). */
  append(name: string, partitionKey: string, data: string, region?: string): void
  readonly failNext: Array<{
    readonly action: string
    readonly status: number
    readonly type: string
    readonly message: string
  }>
}

const TARGET_PREFIX = 'Kinesis_20131202.'
const MAX = (1n << 128n) - 1n

/** Kinesis's names for what the account's authentication refuses, over the JSON protocol. */
const AUTH_ERRORS: Record<string, string> = {
  InvalidClientTokenId: 'UnrecognizedClientException',
  ExpiredToken: 'ExpiredTokenException',
  AuthorizationError: 'AccessDeniedException',
  SignatureDoesNotMatch: 'InvalidSignatureException',
  IncompleteSignature: 'IncompleteSignatureException',
}

function error(status: number, type: string, message: string): FakeResponse {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() },
    body: JSON.stringify({ __type: type, message }),
  }
}

function ok(body: unknown): FakeResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() },
    body: JSON.stringify(body),
  }
}

/**
 * Kinesis Data Streams over AWS JSON 1.1 (`POST /`, `X-Amz-Target: Kinesis_20131202.<Action>`):
 * PutRecord (the shard chosen by the MD5 of the partition key, as Kinesis does), ListShards,
 * GetShardIterator and GetRecords. Writers sign as an assumed role that allows the action; readers
 * may sign as a user.
 */
export async function startFakeKinesis(account: FakeAccount): Promise<FakeKinesis> {
  const log: Array<{ action: string; status: number }> = []
  const failNext: FakeKinesis['failNext'] = []
  const streams = new Map<string, Shard[]>()
  let sequence = 0n
  const key = (name: string, region: string) => `${region}/${name}`

  const put = (shards: Shard[], partitionKey: string, data: Buffer, roleArn: string | undefined) => {
    const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`)
    const shard = shards.find((s) => hash >= s.start && hash <= s.end) ?? (shards[0] as Shard)
    sequence += 1n
    const sequenceNumber = (49_000_000_000_000_000_000n + sequence).toString()
    shard.records.push({ sequenceNumber, partitionKey, data, arrival: Date.now(), roleArn })
    return { shard, sequenceNumber }
  }

  const handle = (
    action: string,
    input: Record<string, unknown>,
    region: string,
    roleArn: string | undefined,
  ) => {
    const scripted = failNext.findIndex((entry) => entry.action === action)
    if (scripted >= 0) {
      const [entry] = failNext.splice(scripted, 1)
      if (entry !== undefined) return error(entry.status, entry.type, entry.message)
    }
    const name = typeof input.StreamName === 'string' ? input.StreamName : undefined
    const shards = name === undefined ? undefined : streams.get(key(name, region))
    const missing = () =>
      error(400, 'ResourceNotFoundException', `Stream ${name} under account ${ACCOUNT_ID} not found.`)
    switch (action) {
      case 'PutRecord': {
        if (shards === undefined) return missing()
        const { PartitionKey, Data } = input
        if (typeof PartitionKey !== 'string' || PartitionKey.length < 1 || PartitionKey.length > 256)
          return error(400, 'ValidationException', 'PartitionKey must be 1 to 256 characters')
        if (typeof Data !== 'string') return error(400, 'SerializationException', 'Data must be base64')
        const data = Buffer.from(Data, 'base64')
        if (data.length + Buffer.byteLength(PartitionKey) > 1024 * 1024)
          return error(400, 'ValidationException', 'Record size exceeds the 1 MB limit')
        const { shard, sequenceNumber } = put(shards, PartitionKey, data, roleArn)
        return ok({ ShardId: shard.id, SequenceNumber: sequenceNumber, EncryptionType: 'NONE' })
      }
      case 'ListShards': {
        if (shards === undefined) return missing()
        return ok({
          Shards: shards.map((shard) => ({
            ShardId: shard.id,
            HashKeyRange: { StartingHashKey: shard.start.toString(), EndingHashKey: shard.end.toString() },
            SequenceNumberRange: { StartingSequenceNumber: '49000000000000000000000' },
          })),
        })
      }
      case 'GetShardIterator': {
        if (shards === undefined) return missing()
        const shard = shards.find((s) => s.id === input.ShardId)
        if (shard === undefined)
          return error(400, 'ResourceNotFoundException', `Shard ${String(input.ShardId)} not found`)
        let position = 0
        const after =
          typeof input.StartingSequenceNumber === 'string' ? BigInt(input.StartingSequenceNumber) : undefined
        switch (input.ShardIteratorType) {
          case 'TRIM_HORIZON':
            break
          case 'LATEST':
            position = shard.records.length
            break
          case 'AFTER_SEQUENCE_NUMBER':
          case 'AT_SEQUENCE_NUMBER': {
            if (after === undefined)
              return error(400, 'InvalidArgumentException', 'StartingSequenceNumber is required')
            const at = input.ShardIteratorType === 'AT_SEQUENCE_NUMBER'
            position = shard.records.findIndex((r) =>
              at ? BigInt(r.sequenceNumber) >= after : BigInt(r.sequenceNumber) > after,
            )
            if (position < 0) position = shard.records.length
            break
          }
          default:
            return error(
              400,
              'InvalidArgumentException',
              `ShardIteratorType ${String(input.ShardIteratorType)}`,
            )
        }
        return ok({
          ShardIterator: Buffer.from(
            JSON.stringify({ stream: key(name ?? '', region), shard: shard.id, position }),
          ).toString('base64'),
        })
      }
      case 'GetRecords': {
        let iterator: { stream: string; shard: string; position: number }
        try {
          iterator = JSON.parse(Buffer.from(String(input.ShardIterator), 'base64').toString('utf8'))
        } catch {
          return error(400, 'InvalidArgumentException', 'ShardIterator is not valid')
        }
        const shard = streams.get(iterator.stream)?.find((s) => s.id === iterator.shard)
        if (shard === undefined) return error(400, 'ResourceNotFoundException', 'Shard not found')
        const limit = typeof input.Limit === 'number' ? Math.min(input.Limit, 10_000) : 10_000
        const page = shard.records.slice(iterator.position, iterator.position + limit)
        const position = iterator.position + page.length
        return ok({
          Records: page.map((record) => ({
            SequenceNumber: record.sequenceNumber,
            ApproximateArrivalTimestamp: record.arrival / 1000,
            Data: record.data.toString('base64'),
            PartitionKey: record.partitionKey,
          })),
          NextShardIterator: Buffer.from(JSON.stringify({ ...iterator, position })).toString('base64'),
          MillisBehindLatest: position >= shard.records.length ? 0 : 1000,
        })
      }
      default:
        return error(400, 'UnknownOperationException', `Unknown operation ${action}`)
    }
  }

  const server = await serveFake(
    (request) => {
      const target = String(request.headers['x-amz-target'] ?? '')
      const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : 'Unknown'
      const answer = (() => {
        if (
          request.method !== 'POST' ||
          request.url !== '/' ||
          request.headers['content-type'] !== 'application/x-amz-json-1.1'
        )
          return error(400, 'UnknownOperationException', 'Not a Kinesis JSON 1.1 request')
        const caller = account.authenticate(request, 'kinesis', `kinesis:${action}`)
        if (!caller.ok) return error(400, AUTH_ERRORS[caller.code] ?? caller.code, caller.message)
        let input: Record<string, unknown>
        try {
          input = JSON.parse(request.body.toString('utf8')) as Record<string, unknown>
        } catch {
          return error(400, 'SerializationException', 'The body is not JSON')
        }
        return handle(action, input, caller.region, caller.roleArn)
      })()
      log.push({ action, status: answer.status })
      return answer
    },
    log,
    { http2: true },
  )

  return {
    ...server,
    failNext,
    addStream(name, count = 1, region = 'us-east-1') {
      const width = (MAX + 1n) / BigInt(count)
      streams.set(
        key(name, region),
        Array.from({ length: count }, (_, i) => ({
          id: `shardId-${String(i).padStart(12, '0')}`,
          start: width * BigInt(i),
          end: i === count - 1 ? MAX : width * BigInt(i + 1) - 1n,
          records: [],
        })),
      )
    },
    deleteStream(name, region = 'us-east-1') {
      streams.delete(key(name, region))
    },
    records(name, region = 'us-east-1') {
      return (streams.get(key(name, region)) ?? []).flatMap((shard) =>
        shard.records.map((record) => ({
          partitionKey: record.partitionKey,
          data: JSON.parse(record.data.toString('utf8')) as unknown,
          roleArn: record.roleArn,
        })),
      )
    },
    append(name, partitionKey, data, region = 'us-east-1') {
      const shards = streams.get(key(name, region))
      if (shards === undefined) throw new Error(`no stream ${name}`)
      put(shards, partitionKey, Buffer.from(data, 'utf8'), undefined)
    },
  }
}
