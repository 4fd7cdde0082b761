import { isRoleArn, parseLambdaFunctionArn, parsePlatformApplicationArn } from '../aws/arns.js'
import { invalidParameter, resourceNotFound } from '../errors.js'
import { authorizeDeveloper } from './access.js'
import type { OperationContext } from './context.js'
import { poolIsKnown, readPool } from './pools.js'

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A role the server assumes: Cognito's pattern, `arn:aws:iam::ACCOUNT:role/NAME`. */
function checkRoleArn(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length < 20 || value.length > 2048) {
    throw invalidParameter(`${field} must be 20 to 2048 characters`)
  }
  if (!isRoleArn(value))
    throw invalidParameter(`${field} must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`)
}

/**
 * Push sync through Amazon SNS: platform applications of Cognito's four platforms (one each at
 * most), and the role the server assumes to call SNS, which they need.
 */
function checkPushSync(value: unknown): Json {
  if (!isObject(value)) throw invalidParameter('PushSync must be an object')
  const { ApplicationArns, RoleArn } = value
  if (
    ApplicationArns !== undefined &&
    (!Array.isArray(ApplicationArns) || !ApplicationArns.every((a) => typeof a === 'string'))
  ) {
    throw invalidParameter('PushSync.ApplicationArns must be a list of strings')
  }
  const platforms = new Set<string>()
  for (const arn of (ApplicationArns ?? []) as string[]) {
    const application = parsePlatformApplicationArn(arn)
    if (application === undefined) {
      throw invalidParameter(
        `PushSync.ApplicationArns: ${arn.slice(0, 300)} is not the ARN of an SNS platform application for APNS, APNS_SANDBOX, GCM or ADM (arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME)`,
      )
    }
    if (platforms.has(application.platform)) {
      throw invalidParameter(`PushSync.ApplicationArns names two applications for ${application.platform}`)
    }
    platforms.add(application.platform)
  }
  if (RoleArn !== undefined) checkRoleArn(RoleArn, 'PushSync.RoleArn')
  if (platforms.size > 0 && RoleArn === undefined) {
    throw invalidParameter(
      'PushSync.RoleArn is required with ApplicationArns: the server assumes it to call SNS',
    )
  }
  return {
    ...(ApplicationArns === undefined ? {} : { ApplicationArns }),
    ...(RoleArn === undefined ? {} : { RoleArn }),
  }
}

function checkCognitoStreams(value: unknown): Json {
  if (!isObject(value)) throw invalidParameter('CognitoStreams must be an object')
  const { StreamName, RoleArn, StreamingStatus } = value
  if (
    StreamName !== undefined &&
    (typeof StreamName !== 'string' || StreamName.length < 1 || StreamName.length > 128)
  ) {
    throw invalidParameter('CognitoStreams.StreamName must be 1 to 128 characters')
  }
  if (RoleArn !== undefined) checkRoleArn(RoleArn, 'CognitoStreams.RoleArn')
  if (StreamingStatus !== undefined && StreamingStatus !== 'ENABLED' && StreamingStatus !== 'DISABLED') {
    throw invalidParameter('CognitoStreams.StreamingStatus must be ENABLED or DISABLED')
  }
  return {
    ...(StreamName === undefined ? {} : { StreamName }),
    ...(RoleArn === undefined ? {} : { RoleArn }),
    ...(StreamingStatus === undefined ? {} : { StreamingStatus }),
  }
}

function configurationOutput(identityPoolId: string, pushSync: string | null, cognitoStreams: string | null) {
  return {
    IdentityPoolId: identityPoolId,
    ...(pushSync === null ? {} : { PushSync: JSON.parse(pushSync) as Json }),
    ...(cognitoStreams === null ? {} : { CognitoStreams: JSON.parse(cognitoStreams) as Json }),
  }
}

/** GetIdentityPoolConfiguration (developer). */
export async function getIdentityPoolConfiguration(
  context: OperationContext,
  input: { readonly identityPoolId: string },
) {
  authorizeDeveloper(context.principal, input.identityPoolId)
  return context.store.transaction(async (tx) => {
    if (!(await poolIsKnown(tx, input.identityPoolId))) {
      throw resourceNotFound(`Identity pool ${input.identityPoolId} not found`)
    }
    const pool = await readPool(tx, input.identityPoolId)
    return configurationOutput(pool.identityPoolId, pool.pushSync, pool.cognitoStreams)
  })
}

/** SetIdentityPoolConfiguration (developer): stores what is given, keeps what is not, echoes the result. */
export async function setIdentityPoolConfiguration(
  context: OperationContext,
  input: { readonly identityPoolId: string; readonly body: unknown },
) {
  authorizeDeveloper(context.principal, input.identityPoolId)
  if (!isObject(input.body)) throw invalidParameter('The request body must be a JSON object')
  const body = input.body
  const pushSync = body.PushSync === undefined ? undefined : JSON.stringify(checkPushSync(body.PushSync))
  const streams =
    body.CognitoStreams === undefined ? undefined : JSON.stringify(checkCognitoStreams(body.CognitoStreams))
  return context.store.transaction(async (tx) => {
    const pool = await readPool(tx, input.identityPoolId, { forUpdate: true })
    const next = {
      ...pool,
      ...(pushSync === undefined ? {} : { pushSync }),
      ...(streams === undefined ? {} : { cognitoStreams: streams }),
    }
    await tx.putPool(next)
    return configurationOutput(next.identityPoolId, next.pushSync, next.cognitoStreams)
  })
}

const EVENT_TYPES = ['SyncTrigger']

/** GetCognitoEvents (developer). */
export async function getCognitoEvents(
  context: OperationContext,
  input: { readonly identityPoolId: string },
) {
  authorizeDeveloper(context.principal, input.identityPoolId)
  return context.store.transaction(async (tx) => {
    if (!(await poolIsKnown(tx, input.identityPoolId))) {
      throw resourceNotFound(`Identity pool ${input.identityPoolId} not found`)
    }
    const pool = await readPool(tx, input.identityPoolId)
    return { Events: pool.events === null ? {} : (JSON.parse(pool.events) as Record<string, string>) }
  })
}

/**
 * SetCognitoEvents (developer): updates only the events given; an empty value removes one. The
 * `SyncTrigger` value is a Lambda function's ARN, invoked as Cognito invoked it, or an http(s) URL
 * the server POSTs the same event to.
 */
export async function setCognitoEvents(
  context: OperationContext,
  input: { readonly identityPoolId: string; readonly body: unknown },
): Promise<Record<string, never>> {
  authorizeDeveloper(context.principal, input.identityPoolId)
  const events = isObject(input.body) ? input.body.Events : undefined
  if (!isObject(events)) throw invalidParameter('Events must be a map of event type to function')
  const entries = Object.entries(events)
  if (entries.length > 1) throw invalidParameter('Events may hold at most one entry')
  for (const [type, target] of entries) {
    if (!EVENT_TYPES.includes(type)) throw invalidParameter(`Unknown event type ${type}`)
    if (typeof target !== 'string') throw invalidParameter(`The ${type} function must be a string`)
    if (target === '' || parseLambdaFunctionArn(target) !== undefined) continue
    if (!/^https?:\/\//.test(target)) {
      throw invalidParameter(
        `The ${type} function must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME) or an http(s) URL the server can call`,
      )
    }
    const refusal = context.syncTriggerUrlRefusal?.(target)
    if (refusal !== undefined) throw invalidParameter(`The ${type} URL ${refusal}`)
  }
  return context.store.transaction(async (tx) => {
    const pool = await readPool(tx, input.identityPoolId, { forUpdate: true })
    const current = new Map(
      Object.entries(pool.events === null ? {} : (JSON.parse(pool.events) as Record<string, string>)),
    )
    for (const [type, target] of entries) {
      if (target === '') current.delete(type)
      else current.set(type, target as string)
    }
    await tx.putPool({
      ...pool,
      events: current.size === 0 ? null : JSON.stringify(Object.fromEntries(current)),
    })
    return {}
  })
}
