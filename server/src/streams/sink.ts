import { appendFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Where Cognito Streams records go. Cognito wrote to Kinesis; a self-hosted server writes wherever
 * its operator wants, through this port.
 */
export interface StreamSink {
  put(streamName: string, records: readonly object[]): Promise<void>
}

/** One NDJSON file per stream name under `directory`, appended to. */
export function createNdjsonStreamSink(directory: string): StreamSink {
  return {
    async put(streamName, records) {
      if (records.length === 0) return
      await mkdir(directory, { recursive: true })
      // Stream names are 1..128 characters; keep them from naming a path outside the directory.
      const file = join(directory, `${streamName.replace(/[^a-zA-Z0-9_.-]/g, '_')}.ndjson`)
      await appendFile(file, records.map((record) => `${JSON.stringify(record)}\n`).join(''))
    },
  }
}
