import { parseArgs } from 'node:util'
import { isRoleArn } from '../aws/arns.js'
import { createAwsServices } from '../aws/services.js'
import type { SyncStore } from '../store/contract.js'
import { openStore, redactDatabaseUrl } from '../store/index.js'
import { applyStreamRecords, emptyCounts, type ImportCounts } from './apply.js'
import { fileRecords, kinesisRecords, type SourceBatch } from './sources.js'
import { type ImportedChange, ImportRecordError, parseStreamRecord } from './stream-records.js'

export const IMPORT_USAGE = `Usage: pushsync-server import [--db PATH|URL] (--file PATH | --kinesis-stream NAME --region REGION [--role-arn ARN]) [--pool POOL]

Loads Cognito Sync data from Cognito Streams records (what a pool's Kinesis stream received for
every synchronization and every dataset of a BulkPublish): identities with their ids, datasets,
records and sync counts. Run it again, or over records it has seen, and nothing is lost or doubled;
a record older than the stored one never wins. From Kinesis it resumes where the last run stopped.

  --db PATH|URL            the server's database (default PUSHSYNC_DB, else ./pushsync.db)
  --file PATH              a file of stream records, one JSON record per line
  --kinesis-stream NAME    read the pool's Kinesis stream, every shard
  --region REGION          the stream's region
  --role-arn ARN           read the stream as this role (default the AWS SDK's credentials)
  --pool POOL              import only this identity pool's records
`

/** Settings the import cannot use: one line saying which. */
export class ImportUsageError extends Error {}

export interface ImportSettings {
  readonly db: string
  readonly pool: string | undefined
  readonly source:
    | { readonly kind: 'file'; readonly path: string }
    | {
        readonly kind: 'kinesis'
        readonly stream: string
        readonly region: string
        readonly roleArn?: string
      }
}

export function parseImportArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ImportSettings | 'help' {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        file: { type: 'string' },
        'kinesis-stream': { type: 'string' },
        region: { type: 'string' },
        'role-arn': { type: 'string' },
        pool: { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values
  } catch (error) {
    throw new ImportUsageError((error as Error).message.split('\n')[0] ?? 'bad arguments')
  }
  if (values.help === true) return 'help'
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined)
  const file = text('file')
  const stream = text('kinesis-stream')
  if ((file === undefined) === (stream === undefined))
    throw new ImportUsageError('give one source: --file PATH or --kinesis-stream NAME')
  const db = text('db') ?? env.PUSHSYNC_DB ?? './pushsync.db'
  const pool = text('pool')
  if (file !== undefined) return { db, pool, source: { kind: 'file', path: file } }
  const region = text('region')
  if (region === undefined || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    throw new ImportUsageError('--kinesis-stream needs --region, an AWS region such as us-east-1')
  const roleArn = text('role-arn')
  if (roleArn !== undefined && !isRoleArn(roleArn))
    throw new ImportUsageError('--role-arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)')
  return {
    db,
    pool,
    source: {
      kind: 'kinesis',
      stream: stream as string,
      region,
      ...(roleArn === undefined ? {} : { roleArn }),
    },
  }
}

/** Stream records are stored this many to a transaction. */
const BATCH = 500

export interface ImportResult extends ImportCounts {
  readonly seconds: number
}

/**
 * Runs an import into `store`. A file is read twice: first every line is checked, so that a bad
 * line stops the import before anything is stored. A stream's batches are checked as they come
 * and stored with their checkpoint; a bad record stops it there, the next run starting at that
 * record again.
 */
export async function runImport(
  store: SyncStore,
  settings: ImportSettings,
  options: { readonly now?: () => number; readonly progress?: (counts: ImportCounts) => void } = {},
): Promise<ImportResult> {
  const now = options.now ?? Date.now
  const started = performance.now()
  const counts = emptyCounts()
  const keep = (change: ImportedChange) =>
    settings.pool === undefined || change.identityPoolId === settings.pool
  const parse = (batch: SourceBatch) =>
    batch.texts.map(({ text, at }) => parseStreamRecord(text, at)).filter(keep)

  const store_ = async (batch: SourceBatch) => {
    const changes = parse(batch)
    const done = await applyStreamRecords(store, changes, now(), batch.checkpoint)
    for (const name of Object.keys(counts) as Array<keyof ImportCounts>) counts[name] += done[name]
    options.progress?.(counts)
  }

  if (settings.source.kind === 'file') {
    const { path } = settings.source
    for await (const batch of fileRecords(path, BATCH)) parse(batch)
    for await (const batch of fileRecords(path, BATCH)) await store_(batch)
  } else {
    const { stream, region, roleArn } = settings.source
    const aws = createAwsServices({ now })
    try {
      const batches = (client: Parameters<typeof kinesisRecords>[0]['kinesis']) =>
        kinesisRecords({
          kinesis: client,
          region,
          streamName: stream,
          limit: BATCH,
          signal: aws.signal,
          readCheckpoint: (name) => store.transaction((tx) => tx.getSetting(name)),
        })
      if (roleArn === undefined) {
        for await (const batch of batches(aws.kinesis(region))) await store_(batch)
      } else {
        await aws.asRole(roleArn, region, 'kinesis', async (client) => {
          for await (const batch of batches(client)) await store_(batch)
        })
      }
    } finally {
      aws.close()
    }
  }
  return { ...counts, seconds: (performance.now() - started) / 1000 }
}

/** `pushsync-server import ...`: the exit code. */
export async function importCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  out: { write(text: string): unknown },
  err: { write(text: string): unknown },
): Promise<number> {
  let settings: ImportSettings | 'help'
  try {
    settings = parseImportArgs(argv, env)
  } catch (error) {
    if (!(error instanceof ImportUsageError)) throw error
    err.write(`pushsync-server import: ${error.message}\n(pushsync-server import --help says how)\n`)
    return 2
  }
  if (settings === 'help') {
    out.write(IMPORT_USAGE)
    return 0
  }
  let store: SyncStore
  try {
    store = await openStore(settings.db)
  } catch (error) {
    err.write(`pushsync-server import: ${(error as Error).message}\n`)
    return 1
  }
  try {
    const result = await runImport(store, settings)
    const rate = result.seconds > 0 ? Math.round(result.records / result.seconds) : result.records
    out.write(
      `imported ${result.streamRecords} stream records into ${redactDatabaseUrl(settings.db)}: ${result.records} records stored, ${result.skipped} already there, ${result.datasets} new datasets, ${result.identities} new identities, in ${result.seconds.toFixed(1)} s (${rate} records/s)\n`,
    )
    return 0
  } catch (error) {
    if (error instanceof ImportRecordError) {
      err.write(
        `pushsync-server import: not a Cognito Streams record at ${error.message}; nothing from it on was stored\n`,
      )
      return 2
    }
    err.write(`pushsync-server import: ${(error as Error).message}\n`)
    return 1
  } finally {
    await store.close()
  }
}
