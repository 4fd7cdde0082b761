import { type FakeAccount, type FakeServer, serveFake } from './account.js'
import { queryError, queryResult, readForm, xmlEscape } from './query.js'

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/'

/**
 * STS's AssumeRole: the caller signs with its own long-term key (the server's identity); the role's
 * trust policy must name it. Answers temporary credentials of the role, which the other fakes then
 * accept. `failNext` scripts the next answers (throttling, an outage).
 */
export interface FakeSts extends FakeServer {
  readonly failNext: Array<{ readonly status: number; readonly code: string; readonly message: string }>
  /** The lifetime of the credentials it issues (default what was asked for). */
  readonly options: { sessionSeconds?: number }
}

export async function startFakeSts(account: FakeAccount): Promise<FakeSts> {
  const log: Array<{ action: string; status: number }> = []
  const failNext: FakeSts['failNext'] = []
  const options: FakeSts['options'] = {}
  const server = await serveFake((request) => {
    const form = readForm(request)
    const action = form?.get('Action') ?? 'Unknown'
    const answer = (() => {
      if (form === undefined || form.get('Version') !== '2011-06-15')
        return queryError(NS, 400, 'InvalidAction', 'Not an STS Query request')
      const caller = account.authenticate(request, 'sts', `sts:${action}`)
      if (!caller.ok) return queryError(NS, caller.status, caller.code, caller.message)
      if (action !== 'AssumeRole')
        return queryError(NS, 400, 'InvalidAction', `Could not find operation ${action}`)
      const scripted = failNext.shift()
      if (scripted !== undefined) return queryError(NS, scripted.status, scripted.code, scripted.message)
      const roleArn = form.get('RoleArn') ?? ''
      const sessionName = form.get('RoleSessionName') ?? ''
      const seconds = Number(form.get('DurationSeconds') ?? '3600')
      if (!/^[\w+=,.@-]{2,64}$/.test(sessionName))
        return queryError(NS, 400, 'ValidationError', 'RoleSessionName is not valid')
      if (!(seconds >= 900 && seconds <= 43_200))
        return queryError(NS, 400, 'ValidationError', 'DurationSeconds is not valid')
      const role = account.roles.get(roleArn)
      if (role === undefined || !role.trusts.has(caller.arn))
        return queryError(
          NS,
          403,
          'AccessDenied',
          `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
        )
      const issued = account.issue(roleArn, options.sessionSeconds ?? seconds)
      account.assumed.push({ roleArn, by: caller.arn, sessionName })
      const roleName = roleArn.split('/').pop()
      return queryResult(
        NS,
        'AssumeRole',
        `<AssumedRoleUser><AssumedRoleId>AROA${issued.accessKeyId.slice(4)}:${xmlEscape(sessionName)}</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/${xmlEscape(roleName ?? '')}/${xmlEscape(sessionName)}</Arn></AssumedRoleUser><Credentials><AccessKeyId>${issued.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(issued.secretAccessKey)}</SecretAccessKey><SessionToken>${xmlEscape(issued.sessionToken)}</SessionToken><Expiration>${new Date(issued.expiresAt).toISOString()}</Expiration></Credentials>`,
      )
    })()
    log.push({ action, status: answer.status })
    return answer
  }, log)
  return { ...server, failNext, options }
}
