import { randomUUID } from 'node:crypto'
import { ACCOUNT_ID, type FakeAccount, type FakeServer, serveFake } from './account.js'
import { queryError, queryResult, readForm, readMap, xmlEscape } from './query.js'

const NS = 'http://sns.amazonaws.com/doc/2010-03-31/'

/** A push SNS accepted for an endpoint: what it would hand to the platform. */
export interface SnsDelivery {
  readonly endpointArn: string
  readonly token: string
  readonly platform: string
  /** The message structure's entry for the endpoint's platform, parsed. */
  readonly payload: unknown
  /** The whole `Message` as sent, parsed (every platform's entry, as strings). */
  readonly message: Record<string, unknown>
  readonly attributes: ReadonlyMap<string, string>
  /** The role the request was signed as. */
  readonly roleArn: string | undefined
}

interface Endpoint {
  readonly arn: string
  readonly applicationArn: string
  readonly attributes: Map<string, string>
}

export interface FakeSns extends FakeServer {
  readonly deliveries: SnsDelivery[]
  /** Scripted answers for the next calls of an action (`Publish`...), taken in order. */
  readonly failNext: Array<{
    readonly action: string
    readonly status: number
    readonly code: string
    readonly message: string
  }>
  /** A platform application of the account, as CreatePlatformApplication would have made it. */
  addApplication(platform: string, name: string, region?: string): string
  /** An endpoint made before (by Cognito), with its attributes. */
  addEndpoint(applicationArn: string, token: string, attributes?: Record<string, string>): string
  endpointOf(token: string): { arn: string; attributes: ReadonlyMap<string, string> } | undefined
  /** The platform reported the token invalid: SNS disables the endpoint. */
  disable(token: string): void
  /** The endpoint is deleted (DeleteEndpoint by someone else). */
  remove(token: string): void
}

const ACTIONS: Record<string, string> = {
  CreatePlatformEndpoint: 'sns:CreatePlatformEndpoint',
  GetEndpointAttributes: 'sns:GetEndpointAttributes',
  SetEndpointAttributes: 'sns:SetEndpointAttributes',
  Publish: 'sns:Publish',
  DeleteEndpoint: 'sns:DeleteEndpoint',
}

const APP_ARN = /^arn:aws:sns:([a-z0-9-]+):(\d{12}):app\/([A-Z_]+)\/([\w.-]+)$/
/** SNS's limit on a message, attributes included. */
const MAX_MESSAGE_BYTES = 262_144

/**
 * Amazon SNS's mobile push, over the AWS Query protocol, as far as pushsync uses it:
 * CreatePlatformEndpoint (idempotent for the same token and attributes, refused for the same token
 * with other attributes, naming the existing endpoint), Get/SetEndpointAttributes, DeleteEndpoint
 * and Publish to an endpoint (`MessageStructure: json` needs a `default` entry; a disabled endpoint
 * is `EndpointDisabled`, a missing one `InvalidParameter`). Requests must be signed for `sns` in the
 * resource's region with an assumed role's credentials that allow the action.
 */
export async function startFakeSns(account: FakeAccount): Promise<FakeSns> {
  const log: Array<{ action: string; status: number }> = []
  const deliveries: SnsDelivery[] = []
  const failNext: FakeSns['failNext'] = []
  const applications = new Map<string, { platform: string; region: string; byToken: Map<string, string> }>()
  const endpoints = new Map<string, Endpoint>()

  const findByToken = (token: string) =>
    [...endpoints.values()].find((e) => e.attributes.get('Token') === token)

  const handle = (form: URLSearchParams, action: string, region: string, roleArn: string | undefined) => {
    const scripted = failNext.findIndex((entry) => entry.action === action)
    if (scripted >= 0) {
      const [entry] = failNext.splice(scripted, 1)
      if (entry !== undefined) return queryError(NS, entry.status, entry.code, entry.message)
    }
    switch (action) {
      case 'CreatePlatformEndpoint': {
        const applicationArn = form.get('PlatformApplicationArn') ?? ''
        const token = form.get('Token') ?? ''
        const application = applications.get(applicationArn)
        if (application === undefined || application.region !== region)
          return queryError(NS, 404, 'NotFound', 'PlatformApplication does not exist')
        if (token === '') return queryError(NS, 400, 'InvalidParameter', 'Invalid parameter: Token')
        if (application.platform.startsWith('APNS') && !/^[0-9a-fA-F]{1,400}$/.test(token))
          return queryError(
            NS,
            400,
            'InvalidParameter',
            'Invalid parameter: Token Reason: iOS device tokens must be no more than 400 hexadecimal characters',
          )
        const wanted = new Map([['Enabled', 'true'], ['Token', token], ...readMap(form, 'Attributes')])
        const custom = form.get('CustomUserData')
        if (custom !== null) wanted.set('CustomUserData', custom)
        const existingArn = application.byToken.get(token)
        const existing = existingArn === undefined ? undefined : endpoints.get(existingArn)
        if (existing !== undefined) {
          const same =
            existing.attributes.size === wanted.size &&
            [...wanted].every(([name, value]) => existing.attributes.get(name) === value)
          if (!same)
            return queryError(
              NS,
              400,
              'InvalidParameter',
              `Invalid parameter: Token Reason: Endpoint ${existing.arn} already exists with the same Token, but different attributes.`,
            )
          return queryResult(NS, action, `<EndpointArn>${existing.arn}</EndpointArn>`)
        }
        const arn = `${applicationArn.replace(':app/', ':endpoint/')}/${randomUUID()}`
        endpoints.set(arn, { arn, applicationArn, attributes: wanted })
        application.byToken.set(token, arn)
        return queryResult(NS, action, `<EndpointArn>${arn}</EndpointArn>`)
      }
      case 'GetEndpointAttributes': {
        const endpoint = endpoints.get(form.get('EndpointArn') ?? '')
        if (endpoint === undefined) return queryError(NS, 404, 'NotFound', 'Endpoint does not exist')
        const entries = [...endpoint.attributes]
          .map(([key, value]) => `<entry><key>${key}</key><value>${xmlEscape(value)}</value></entry>`)
          .join('')
        return queryResult(NS, action, `<Attributes>${entries}</Attributes>`)
      }
      case 'SetEndpointAttributes': {
        const endpoint = endpoints.get(form.get('EndpointArn') ?? '')
        if (endpoint === undefined) return queryError(NS, 404, 'NotFound', 'Endpoint does not exist')
        const attributes = readMap(form, 'Attributes')
        if (attributes.size === 0)
          return queryError(NS, 400, 'InvalidParameter', 'Invalid parameter: Attributes')
        const oldToken = endpoint.attributes.get('Token')
        for (const [name, value] of attributes) endpoint.attributes.set(name, value)
        const application = applications.get(endpoint.applicationArn)
        if (oldToken !== undefined && application !== undefined) {
          application.byToken.delete(oldToken)
          application.byToken.set(endpoint.attributes.get('Token') ?? '', endpoint.arn)
        }
        return queryResult(NS, action, '')
      }
      case 'DeleteEndpoint': {
        const endpoint = endpoints.get(form.get('EndpointArn') ?? '')
        if (endpoint !== undefined) {
          endpoints.delete(endpoint.arn)
          applications.get(endpoint.applicationArn)?.byToken.delete(endpoint.attributes.get('Token') ?? '')
        }
        return queryResult(NS, action, '')
      }
      case 'Publish': {
        const targetArn = form.get('TargetArn') ?? ''
        const text = form.get('Message') ?? ''
        const attributes = new Map<string, string>()
        for (const [name, value] of readMap(form, 'MessageAttributes', 'Name', 'Value.StringValue'))
          attributes.set(name, value)
        if (text === '') return queryError(NS, 400, 'InvalidParameter', 'Invalid parameter: Empty message')
        if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES)
          return queryError(NS, 400, 'InvalidParameter', 'Invalid parameter: Message too long')
        if (!targetArn.includes(`:sns:${region}:${ACCOUNT_ID}:endpoint/`))
          return queryError(NS, 400, 'InvalidParameter', 'Invalid parameter: TargetArn')
        let message: Record<string, unknown> = { default: text }
        if (form.get('MessageStructure') === 'json') {
          try {
            message = JSON.parse(text) as Record<string, unknown>
          } catch {
            return queryError(
              NS,
              400,
              'InvalidParameter',
              'Invalid parameter: Message Structure - JSON message body failed to parse',
            )
          }
          if (typeof message.default !== 'string')
            return queryError(
              NS,
              400,
              'InvalidParameter',
              'Invalid parameter: Message Structure - No default entry in JSON message body',
            )
        }
        const endpoint = endpoints.get(targetArn)
        if (endpoint === undefined)
          return queryError(
            NS,
            400,
            'InvalidParameter',
            'Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified',
          )
        if (endpoint.attributes.get('Enabled') !== 'true')
          return queryError(NS, 400, 'EndpointDisabled', 'Endpoint is disabled')
        const platform = applications.get(endpoint.applicationArn)?.platform ?? ''
        const entry = message[platform] ?? message.default
        let payload: unknown = entry
        if (typeof entry === 'string' && platform !== '' && message[platform] !== undefined) {
          try {
            payload = JSON.parse(entry)
          } catch {
            return queryError(
              NS,
              400,
              'InvalidParameter',
              `Invalid parameter: Message Structure - Invalid JSON for ${platform}`,
            )
          }
        }
        deliveries.push({
          endpointArn: endpoint.arn,
          token: endpoint.attributes.get('Token') ?? '',
          platform,
          payload,
          message,
          attributes,
          roleArn,
        })
        return queryResult(NS, action, `<MessageId>${randomUUID()}</MessageId>`)
      }
      default:
        return queryError(NS, 400, 'InvalidAction', `Could not find operation ${action}`)
    }
  }

  const server = await serveFake((request) => {
    const form = readForm(request)
    const action = form?.get('Action') ?? 'Unknown'
    const answer = (() => {
      if (form === undefined || form.get('Version') !== '2010-03-31')
        return queryError(NS, 400, 'InvalidAction', 'Not an SNS Query request')
      const caller = account.authenticate(request, 'sns', ACTIONS[action] ?? `sns:${action}`)
      if (!caller.ok) return queryError(NS, caller.status, caller.code, caller.message)
      return handle(form, action, caller.region, caller.roleArn)
    })()
    log.push({ action, status: answer.status })
    return answer
  }, log)

  return {
    ...server,
    deliveries,
    failNext,
    addApplication(platform, name, region = 'us-east-1') {
      const arn = `arn:aws:sns:${region}:${ACCOUNT_ID}:app/${platform}/${name}`
      if (!APP_ARN.test(arn)) throw new Error(`bad application ${arn}`)
      applications.set(arn, { platform, region, byToken: new Map() })
      return arn
    },
    addEndpoint(applicationArn, token, attributes = {}) {
      const application = applications.get(applicationArn)
      if (application === undefined) throw new Error(`no application ${applicationArn}`)
      const arn = `${applicationArn.replace(':app/', ':endpoint/')}/${randomUUID()}`
      endpoints.set(arn, {
        arn,
        applicationArn,
        attributes: new Map(Object.entries({ Enabled: 'true', Token: token, ...attributes })),
      })
      application.byToken.set(token, arn)
      return arn
    },
    endpointOf(token) {
      const endpoint = findByToken(token)
      return endpoint === undefined
        ? undefined
        : { arn: endpoint.arn, attributes: new Map(endpoint.attributes) }
    },
    disable(token) {
      findByToken(token)?.attributes.set('Enabled', 'false')
    },
    remove(token) {
      const endpoint = findByToken(token)
      if (endpoint === undefined) return
      endpoints.delete(endpoint.arn)
      applications.get(endpoint.applicationArn)?.byToken.delete(token)
    },
  }
}
