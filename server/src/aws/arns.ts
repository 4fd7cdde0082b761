import type { DevicePlatform } from '../store/contract.js'

/**
 * The ARNs a pool's settings name (SNS platform applications, IAM roles, Lambda functions), read
 * strictly: the region an ARN names picks the AWS endpoint the server calls, so nothing but a region
 * may stand where a region goes.
 */

/** The platforms Cognito pushed to through SNS, as RegisterDevice names them. */
export const SNS_PLATFORMS = ['APNS', 'APNS_SANDBOX', 'GCM', 'ADM'] as const
export type SnsPlatform = (typeof SNS_PLATFORMS)[number]

export function isSnsPlatform(platform: DevicePlatform | string): platform is SnsPlatform {
  return (SNS_PLATFORMS as readonly string[]).includes(platform)
}

const PARTITION = 'aws(?:-[a-z]+)*'
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d'
const ACCOUNT = '\\d{12}'

const PLATFORM_APPLICATION = new RegExp(
  `^arn:${PARTITION}:sns:(${REGION}):(${ACCOUNT}):app/(${SNS_PLATFORMS.join('|')})/([a-zA-Z0-9_.-]{1,256})$`,
)
const ROLE = new RegExp(`^arn:${PARTITION}:iam::(${ACCOUNT}):role/[\\w+=,.@/-]{1,512}$`)
const LAMBDA_FUNCTION = new RegExp(
  `^arn:${PARTITION}:lambda:(${REGION}):(${ACCOUNT}):function:([a-zA-Z0-9_-]{1,64})(?::(\\$LATEST|[a-zA-Z0-9_-]{1,128}))?$`,
)
const POOL_REGION = new RegExp(`^(${REGION}):`)

export interface PlatformApplicationArn {
  readonly arn: string
  readonly region: string
  readonly account: string
  readonly platform: SnsPlatform
  readonly name: string
}

/** An SNS platform application of one of Cognito's four platforms, or undefined. */
export function parsePlatformApplicationArn(arn: string): PlatformApplicationArn | undefined {
  const match = PLATFORM_APPLICATION.exec(arn)
  if (match === null) return undefined
  const [, region, account, platform, name] = match as unknown as [
    string,
    string,
    string,
    SnsPlatform,
    string,
  ]
  return { arn, region, account, platform, name }
}

export function isRoleArn(arn: string): boolean {
  return ROLE.test(arn)
}

export interface LambdaFunctionArn {
  readonly arn: string
  readonly region: string
  readonly account: string
}

/** A Lambda function ARN (optionally with a version or alias), or undefined. */
export function parseLambdaFunctionArn(arn: string): LambdaFunctionArn | undefined {
  const match = LAMBDA_FUNCTION.exec(arn)
  if (match === null) return undefined
  return { arn, region: match[1] as string, account: match[2] as string }
}

/**
 * The region of an identity pool (`us-east-1:...`): Cognito Streams wrote to a stream of the
 * pool's region. Undefined for a pool id that names no AWS region.
 */
export function poolRegion(identityPoolId: string): string | undefined {
  return POOL_REGION.exec(identityPoolId)?.[1]
}
