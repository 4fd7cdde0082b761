import {
  CreatePlatformEndpointCommand,
  GetEndpointAttributesCommand,
  type MessageAttributeValue,
  PublishCommand,
  SetEndpointAttributesCommand,
  type SNSClient,
} from '@aws-sdk/client-sns'
import { encodePushPayload } from 'pushsync/core'
import type { PlatformApplicationArn } from '../../aws/arns.js'
import { awsErrorCode, awsErrorMessage, describeAwsError, isTransientAwsError } from '../../aws/errors.js'
import type { AwsServices } from '../../aws/services.js'
import type { SyncStore } from '../../store/contract.js'
import type { PushMessage, SendOutcome } from '../sender.js'

/** Where one pool's pushes go through SNS: the platform application and the role to call it as. */
export interface SnsRoute {
  readonly application: PlatformApplicationArn
  readonly roleArn: string
}

export interface SnsSender {
  send(message: PushMessage, route: SnsRoute): Promise<SendOutcome>
}

/**
 * The SNS message of a push: `MessageStructure: json`, one JSON string per platform, each with the
 * five keys as Cognito sent them. GCM and ADM get the keys as string data values (Android reads
 * `syncCount` with `Long.parseLong`), APNs a silent notification with the keys under `data`, as
 * iOS reads `userInfo["data"]`. SNS wants a `default` entry in any JSON message: the flat keys.
 */
export function snsPushMessage(message: PushMessage): string {
  const update = {
    source: 'cognito-sync' as const,
    identityPoolId: message.identityPoolId,
    identityId: message.identityId,
    datasetName: message.datasetName,
    syncCount: message.syncCount,
  }
  const data = encodePushPayload(update, 'flat-strings')
  const apns = JSON.stringify(encodePushPayload(update, 'apns'))
  return JSON.stringify({
    default: JSON.stringify(data),
    // High priority wakes a dozing Android device so the app syncs now, as the FCM sender does.
    GCM: JSON.stringify({ data, priority: 'high' }),
    APNS: apns,
    APNS_SANDBOX: apns,
    ADM: JSON.stringify({ data }),
  })
}

/** APNs needs a background push to say so, at priority 5; SNS passes these on as APNs headers. */
const APNS_ATTRIBUTES: Record<string, MessageAttributeValue> = {
  'AWS.SNS.MOBILE.APNS.PUSH_TYPE': { DataType: 'String', StringValue: 'background' },
  'AWS.SNS.MOBILE.APNS.PRIORITY': { DataType: 'String', StringValue: '5' },
}

const EXISTING_ENDPOINT = /Endpoint (arn:\S+) already exists with the same [Tt]oken/
const NO_ENDPOINT = /No endpoint found for the target arn/i

/** An attempt that ended in a known outcome partway. */
class Outcome extends Error {
  readonly outcome: SendOutcome

  constructor(outcome: SendOutcome) {
    super(outcome.kind === 'delivered' ? 'delivered' : outcome.reason)
    this.outcome = outcome
  }
}

/**
 * Pushes through Amazon SNS as a pool's role: one platform endpoint per device token, made on the
 * device's first push and kept with the device (AWS's recommended registration: create, then make
 * sure the endpoint holds the device's token and is enabled, since an endpoint Cognito made for the
 * same token may have been disabled since). An endpoint SNS no longer knows is made again; one SNS
 * reports disabled means the platform refused the token, so the device is gone.
 */
export function createSnsSender(options: {
  readonly store: SyncStore
  readonly aws: AwsServices
}): SnsSender {
  const { store, aws } = options

  const createEndpoint = async (sns: SNSClient, message: PushMessage, route: SnsRoute): Promise<string> => {
    try {
      const created = await sns.send(
        new CreatePlatformEndpointCommand({
          PlatformApplicationArn: route.application.arn,
          Token: message.token,
        }),
        { abortSignal: aws.signal() },
      )
      if (created.EndpointArn === undefined) throw new Error('SNS created an endpoint without an ARN')
      return created.EndpointArn
    } catch (error) {
      if (awsErrorCode(error) !== 'InvalidParameter') throw error
      // The token has an endpoint already, with other attributes (disabled, or user data of
      // Cognito's): that endpoint is the device's, and is set right below.
      const existing = EXISTING_ENDPOINT.exec(awsErrorMessage(error))?.[1]
      if (existing !== undefined) return existing
      // SNS refuses the token itself: the platform could never deliver to it.
      throw new Outcome({ kind: 'gone', reason: `SNS refused the token: ${describeAwsError(error)}` })
    }
  }

  /** An enabled endpoint holding the device's token, remembered with the device. */
  const ensureEndpoint = async (sns: SNSClient, message: PushMessage, route: SnsRoute): Promise<string> => {
    const endpointArn = await createEndpoint(sns, message, route)
    let attributes: Record<string, string>
    try {
      attributes =
        (
          await sns.send(new GetEndpointAttributesCommand({ EndpointArn: endpointArn }), {
            abortSignal: aws.signal(),
          })
        ).Attributes ?? {}
    } catch (error) {
      // Deleted between the two calls: the next attempt makes it again.
      if (awsErrorCode(error) === 'NotFound')
        throw new Outcome({ kind: 'retry', reason: `SNS endpoint vanished: ${describeAwsError(error)}` })
      throw error
    }
    if (attributes.Enabled !== 'true' || attributes.Token !== message.token) {
      await sns.send(
        new SetEndpointAttributesCommand({
          EndpointArn: endpointArn,
          Attributes: { Token: message.token, Enabled: 'true' },
        }),
        { abortSignal: aws.signal() },
      )
    }
    await store.transaction(
      (tx) =>
        tx.putPushEndpoint({
          deviceId: message.deviceId,
          applicationArn: route.application.arn,
          endpointArn,
        }),
      { lock: message.identityId },
    )
    return endpointArn
  }

  const publish = (sns: SNSClient, message: PushMessage, endpointArn: string) =>
    sns.send(
      new PublishCommand({
        TargetArn: endpointArn,
        MessageStructure: 'json',
        Message: snsPushMessage(message),
        ...(message.platform === 'APNS' || message.platform === 'APNS_SANDBOX'
          ? { MessageAttributes: APNS_ATTRIBUTES }
          : {}),
      }),
      { abortSignal: aws.signal() },
    )

  const deliver = async (sns: SNSClient, message: PushMessage, route: SnsRoute): Promise<SendOutcome> => {
    const stored = await store.transaction((tx) => tx.getPushEndpoint(message.deviceId))
    const known = stored?.applicationArn === route.application.arn ? stored.endpointArn : undefined
    const endpointArn = known ?? (await ensureEndpoint(sns, message, route))
    try {
      await publish(sns, message, endpointArn)
      return { kind: 'delivered' }
    } catch (error) {
      const code = awsErrorCode(error)
      if (code === 'EndpointDisabled') {
        return { kind: 'gone', reason: `SNS endpoint disabled: ${describeAwsError(error)}` }
      }
      if (!(code === 'InvalidParameter' && NO_ENDPOINT.test(awsErrorMessage(error)))) throw error
    }
    // The endpoint was deleted (by hand, or by a clean-up of the application): made again, once.
    await store.transaction((tx) => tx.deletePushEndpoint(message.deviceId, endpointArn), {
      lock: message.identityId,
    })
    await publish(sns, message, await ensureEndpoint(sns, message, route))
    return { kind: 'delivered' }
  }

  return {
    async send(message, route) {
      try {
        return await aws.asRole(route.roleArn, route.application.region, 'sns', (sns) =>
          deliver(sns, message, route),
        )
      } catch (error) {
        if (error instanceof Outcome) return error.outcome
        const reason = `SNS ${describeAwsError(error)}`
        return isTransientAwsError(error) ? { kind: 'retry', reason } : { kind: 'failed', reason }
      }
    },
  }
}
