import { InvokeCommand, type InvokeCommandOutput } from '@aws-sdk/client-lambda'
import type { LambdaFunctionArn } from '../aws/arns.js'
import { describeAwsError, isTransientAwsError } from '../aws/errors.js'
import type { AwsServices } from '../aws/services.js'
import { CognitoError } from '../errors.js'
import { SYNC_TRIGGER_TIMEOUT_MS, type SyncTriggerHook } from './sync-trigger.js'

/**
 * A sync trigger that invokes a Lambda function, as Cognito did: synchronously
 * (`RequestResponse`), with the event as the payload and the function's answer read back, under the
 * same 5-second limit as any trigger. It is invoked as the server itself (its own credentials), so
 * the server's identity needs `lambda:InvokeFunction` on the function.
 *
 * Errors map as the URL form's do: throttling, Lambda's own faults and a timeout are
 * `LambdaThrottledException` (the client retries the sync); a function that failed
 * (`FunctionError`), one that cannot be found or invoked, and an answer that is not JSON are
 * `InvalidLambdaFunctionOutputException`.
 */
export function lambdaSyncTrigger(target: LambdaFunctionArn, aws: AwsServices): SyncTriggerHook {
  return async (event) => {
    let answer: InvokeCommandOutput
    try {
      answer = await aws.lambda(target.region).send(
        new InvokeCommand({
          FunctionName: target.arn,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        }),
        { abortSignal: AbortSignal.timeout(SYNC_TRIGGER_TIMEOUT_MS) },
      )
    } catch (error) {
      if (isTransientAwsError(error))
        throw new CognitoError(
          'LambdaThrottledException',
          `The sync trigger did not answer: ${describeAwsError(error)}; retry`,
          { cause: error },
        )
      throw new CognitoError(
        'InvalidLambdaFunctionOutputException',
        `The sync trigger cannot be invoked: ${describeAwsError(error)}`,
        { cause: error },
      )
    }
    if (answer.FunctionError !== undefined) {
      throw new CognitoError(
        'InvalidLambdaFunctionOutputException',
        `The sync trigger failed (${answer.FunctionError})`,
      )
    }
    const text = new TextDecoder().decode(answer.Payload ?? new Uint8Array())
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new CognitoError(
        'InvalidLambdaFunctionOutputException',
        "The sync trigger's output is malformed: its answer is not JSON",
      )
    }
  }
}
