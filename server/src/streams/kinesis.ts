import { PutRecordCommand } from '@aws-sdk/client-kinesis'
import { poolRegion } from '../aws/arns.js'
import { awsErrorCode, describeAwsError, isTransientAwsError } from '../aws/errors.js'
import type { AwsServices } from '../aws/services.js'
import { type StreamSink, StreamSinkError } from './sink.js'

/** Kinesis refuses more than 1 MiB of data and partition key in one record. */
const KINESIS_MAX_RECORD_BYTES = 1024 * 1024

/** Errors about the one record; the stream itself is fine. */
const RECORD_REFUSED = new Set(['Validation', 'InvalidArgument'])

/**
 * Writes Cognito Streams records to the pool's Kinesis stream, as the pool's `CognitoStreams.RoleArn`
 * (assumed with STS), in the pool's region (Cognito required the stream to be there). One
 * `PutRecord` per record, the action Cognito's stream roles allow, each after the previous one
 * succeeded, so an identity's records reach its shard in order.
 */
export function createKinesisStreamSink(aws: AwsServices): StreamSink {
  return {
    async put(target, records) {
      const region = poolRegion(target.identityPoolId)
      if (region === undefined)
        throw new StreamSinkError('stream', `Pool ${target.identityPoolId} names no AWS region`)
      const roleArn = target.roleArn
      if (roleArn === undefined)
        throw new StreamSinkError('stream', 'CognitoStreams.RoleArn is needed to write to Kinesis')
      for (const record of records) {
        const data = Buffer.from(record.data, 'utf8')
        if (data.length + Buffer.byteLength(record.partitionKey) > KINESIS_MAX_RECORD_BYTES)
          throw new StreamSinkError('record', `A record of ${data.length} bytes does not fit in Kinesis`)
        try {
          await aws.asRole(roleArn, region, 'kinesis', (kinesis) =>
            kinesis.send(
              new PutRecordCommand({
                StreamName: target.streamName,
                PartitionKey: record.partitionKey,
                Data: data,
              }),
              { abortSignal: aws.signal() },
            ),
          )
        } catch (error) {
          const message = `Kinesis ${describeAwsError(error)}`
          if (isTransientAwsError(error)) throw new StreamSinkError('retry', message, { cause: error })
          if (RECORD_REFUSED.has(awsErrorCode(error)))
            throw new StreamSinkError('record', message, { cause: error })
          throw new StreamSinkError('stream', message, { cause: error })
        }
      }
    },
  }
}
