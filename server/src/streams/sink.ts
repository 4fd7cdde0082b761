import { appendFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'

/** Where a pool's Cognito Streams records go: its stream's name and the role Cognito wrote as. */
export interface StreamTarget {
  readonly identityPoolId: string
  readonly streamName: string
  /** `CognitoStreams.RoleArn`: the role a Kinesis stream is written as. */
  readonly roleArn: string | undefined
}

/** One record of a stream: JSON text, and the key that picks its shard. */
export interface StreamRecord {
  readonly partitionKey: string
  readonly data: string
}

/**
 * Why records could not be written. `retry`: later may work (throttling, an outage); `record`: this
 * record can never be written (too large for the stream) and is dropped; `stream`: the stream or
 * its role is unusable (deleted, access refused), which turns the pool's streaming off, as
 * Cognito did, until an admin enables it again.
 */
export class StreamSinkError extends Error {
  readonly kind: 'retry' | 'record' | 'stream'

  constructor(kind: 'retry' | 'record' | 'stream', message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'StreamSinkError'
    this.kind = kind
  }
}

/**
 * Where Cognito Streams records go: the pool's Kinesis stream by default (streams/kinesis.ts), or
 * anywhere an operator wants through this port. Writes the records in order; throws a
 * {@link StreamSinkError} (any other error counts as `retry`).
 */
export interface StreamSink {
  put(target: StreamTarget, records: readonly StreamRecord[]): Promise<void>
}

/** One NDJSON file per stream name under `directory`, appended to: for deployments without Kinesis. */
export function createNdjsonStreamSink(directory: string): StreamSink {
  return {
    async put(target, records) {
      if (records.length === 0) return
      await mkdir(directory, { recursive: true })
      // Stream names are 1..128 characters; keep them from naming a path outside the directory.
      const file = join(directory, `${target.streamName.replace(/[^a-zA-Z0-9_.-]/g, '_')}.ndjson`)
      await appendFile(file, records.map((record) => `${record.data}\n`).join(''))
    },
  }
}
