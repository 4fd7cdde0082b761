import {
  GetIdentityPoolConfigurationCommand,
  InvalidParameterException,
  SetIdentityPoolConfigurationCommand,
} from '@aws-sdk/client-cognito-sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncServer } from '../../src/server.js'
import { type FakeAws, startFakeAws, useEnvironment } from './fake/index.js'
import { adminClient, apnsToken, replace, signIn, startServer, tempDb } from './helpers.js'

const POOL = 'us-east-1:5a5a0000-0000-4000-8000-000000000001'
const OTHER_POOL = 'us-east-1:5a5a0000-0000-4000-8000-000000000002'
const FIVE_KEYS = ['datasetName', 'identityId', 'identityPoolId', 'source', 'syncCount']
const poll = { timeout: 10_000, interval: 20 }

let aws: FakeAws
let restoreEnv: () => void
let server: SyncServer
let url: string
let gcmApp: string
let apnsApp: string

beforeAll(async () => {
  aws = await startFakeAws()
  // The server finds its credentials and the endpoints where any AWS SDK program would.
  restoreEnv = useEnvironment(aws.env)
  gcmApp = aws.sns.addApplication('GCM', 'notes-android')
  apnsApp = aws.sns.addApplication('APNS', 'notes-ios')
  ;({ server, url } = await startServer())
  await adminClient(url).send(
    new SetIdentityPoolConfigurationCommand({
      IdentityPoolId: POOL,
      PushSync: { ApplicationArns: [gcmApp, apnsApp], RoleArn: aws.pushRole.arn },
    }),
  )
})
afterAll(async () => {
  await server?.close()
  await aws?.close()
  restoreEnv?.()
})

/** An identity with a phone (GCM) and a tablet (APNS), both subscribed to `notes`. */
async function twoDevices(phoneToken: string, tabletToken: string, pool = POOL, at = url) {
  const user = await signIn(at, pool)
  await user.write('notes', [replace('title', 'first')])
  const phone = await user.register('GCM', phoneToken)
  const tablet = await user.register('APNS', tabletToken)
  await user.subscribe('notes', phone)
  await user.subscribe('notes', tablet)
  return { user, phone, tablet }
}

const deliveriesTo = (token: string) => aws.sns.deliveries.filter((d) => d.token === token)

describe('push sync through Amazon SNS', () => {
  it("delivers another device's change through the pool's platform application, as the pool's role", async () => {
    const { user, phone } = await twoDevices('gcm-token-1', apnsToken(1))
    const before = aws.account.assumed.length
    const written = await user.write('notes', [replace('title', 'second', 1)], phone)
    const syncCount = written.Records?.[0]?.SyncCount

    await expect.poll(() => deliveriesTo(apnsToken(1)).length, poll).toBe(1)
    const [delivery] = deliveriesTo(apnsToken(1))
    expect(delivery?.platform).toBe('APNS')
    expect(delivery?.roleArn).toBe(aws.pushRole.arn)
    // The message has an entry per platform Cognito pushed to, and SNS's required default.
    expect(Object.keys(delivery?.message ?? {}).sort()).toEqual([
      'ADM',
      'APNS',
      'APNS_SANDBOX',
      'GCM',
      'default',
    ])
    expect(delivery?.payload).toEqual({
      aps: { 'content-available': 1 },
      data: {
        source: 'cognito-sync',
        identityPoolId: POOL,
        identityId: user.identityId,
        datasetName: 'notes',
        syncCount,
      },
    })
    expect(delivery?.attributes.get('AWS.SNS.MOBILE.APNS.PUSH_TYPE')).toBe('background')
    expect(delivery?.attributes.get('AWS.SNS.MOBILE.APNS.PRIORITY')).toBe('5')
    const gcm = JSON.parse(String(delivery?.message.GCM)) as { data: Record<string, unknown> }
    expect(Object.keys(gcm.data).sort()).toEqual(FIVE_KEYS)
    // Android reads every key with getString: the sync count travels as a decimal string.
    expect(gcm.data.syncCount).toBe(String(syncCount))
    // The writer's own device is not pushed to.
    expect(deliveriesTo('gcm-token-1')).toEqual([])
    // The endpoint ARN is kept with the device.
    const endpoint = aws.sns.endpointOf(apnsToken(1))
    expect(endpoint?.attributes.get('Enabled')).toBe('true')
    expect(delivery?.endpointArn).toBe(endpoint?.arn)
    expect(aws.account.assumed.slice(before).map((a) => [a.roleArn, a.by, a.sessionName])).toEqual([
      [aws.pushRole.arn, aws.server.arn, 'pushsync-server'],
    ])
  })

  it('reuses the endpoint and the role session for later pushes, and pushes back the other way', async () => {
    const { user, phone, tablet } = await twoDevices('gcm-token-2', apnsToken(2))
    const created = () => aws.sns.log.filter((entry) => entry.action === 'CreatePlatformEndpoint').length
    const assumed = aws.account.assumed.length
    await user.write('notes', [replace('title', 'a', 1)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(2)).length, poll).toBe(1)
    const endpoints = created()
    await user.write('notes', [replace('title', 'b', 2)], phone)
    await user.write('notes', [replace('title', 'c', 3)], tablet)
    await expect.poll(() => deliveriesTo(apnsToken(2)).length, poll).toBe(2)
    await expect.poll(() => deliveriesTo('gcm-token-2').length, poll).toBe(1)
    const [android] = deliveriesTo('gcm-token-2')
    expect(android?.platform).toBe('GCM')
    expect(android?.payload).toEqual({
      data: {
        source: 'cognito-sync',
        identityPoolId: POOL,
        identityId: user.identityId,
        datasetName: 'notes',
        syncCount: '4',
      },
      priority: 'high',
    })
    expect(android?.attributes.size).toBe(0)
    // One new endpoint (the phone's); the role was assumed by an earlier push and kept.
    expect(created()).toBe(endpoints + 1)
    expect(aws.account.assumed.length).toBe(assumed)
  })

  it('retries a throttled Publish with backoff until it goes through', async () => {
    const { user, phone } = await twoDevices('gcm-token-3', apnsToken(3))
    await user.write('notes', [replace('title', 'a', 1)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(3)).length, poll).toBe(1)
    for (let i = 0; i < 2; i++)
      aws.sns.failNext.push({ action: 'Publish', status: 429, code: 'Throttled', message: 'Rate exceeded' })
    await user.write('notes', [replace('title', 'b', 2)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(3)).length, poll).toBe(2)
    const publishes = aws.sns.log.filter((entry) => entry.action === 'Publish').map((entry) => entry.status)
    expect(publishes.slice(-3)).toEqual([429, 429, 200])
  })

  it('assumes the role again when SNS says its credentials expired, and delivers', async () => {
    const { user, phone } = await twoDevices('gcm-token-4', apnsToken(4))
    await user.write('notes', [replace('title', 'a', 1)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(4)).length, poll).toBe(1)
    const assumed = aws.account.assumed.length
    aws.account.expireSessions()
    await user.write('notes', [replace('title', 'b', 2)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(4)).length, poll).toBe(2)
    expect(aws.account.assumed.length).toBe(assumed + 1)
    expect(aws.sns.log.some((entry) => entry.status === 403)).toBe(true)
  })

  it('removes a device whose endpoint SNS disabled (the platform refused its token)', async () => {
    const { user, phone, tablet } = await twoDevices('gcm-token-5', apnsToken(5))
    await user.write('notes', [replace('title', 'a', 1)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(5)).length, poll).toBe(1)
    aws.sns.disable(apnsToken(5))
    await user.write('notes', [replace('title', 'b', 2)], phone)
    await expect.poll(() => server.store.transaction((tx) => tx.getDevice(tablet)), poll).toBeUndefined()
    expect(await server.store.transaction((tx) => tx.getPushEndpoint(tablet))).toBeUndefined()
    expect(deliveriesTo(apnsToken(5))).toHaveLength(1)
    // The phone is still there, and still gets pushed.
    await user.write('notes', [replace('title', 'c', 3)], tablet)
    await expect.poll(() => deliveriesTo('gcm-token-5').length, poll).toBe(1)
  })

  it('makes the endpoint again when SNS no longer has it', async () => {
    const { user, phone, tablet } = await twoDevices('gcm-token-6', apnsToken(6))
    await user.write('notes', [replace('title', 'a', 1)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(6)).length, poll).toBe(1)
    const first = aws.sns.endpointOf(apnsToken(6))?.arn
    aws.sns.remove(apnsToken(6))
    await user.write('notes', [replace('title', 'b', 2)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(6)).length, poll).toBe(2)
    const second = aws.sns.endpointOf(apnsToken(6))?.arn
    expect(second).toBeDefined()
    expect(second).not.toBe(first)
    expect((await server.store.transaction((tx) => tx.getPushEndpoint(tablet)))?.endpointArn).toBe(second)
  })

  it('takes over and re-enables the endpoint Cognito made for the same token, disabled since', async () => {
    const legacy = aws.sns.addEndpoint(apnsApp, apnsToken(7), { Enabled: 'false', CustomUserData: 'cognito' })
    const { user, phone } = await twoDevices('gcm-token-7', apnsToken(7))
    await user.write('notes', [replace('title', 'a', 1)], phone)
    await expect.poll(() => deliveriesTo(apnsToken(7)).length, poll).toBe(1)
    expect(deliveriesTo(apnsToken(7))[0]?.endpointArn).toBe(legacy)
    expect(aws.sns.endpointOf(apnsToken(7))?.attributes.get('Enabled')).toBe('true')
  })

  it('drops the push of a device whose token SNS refuses, and forgets the device', async () => {
    const user = await signIn(url, POOL)
    await user.write('notes', [replace('title', 'a')])
    const writer = await user.register('GCM', 'gcm-token-8')
    const broken = await user.register('APNS', 'not-hexadecimal')
    await user.subscribe('notes', broken)
    await user.write('notes', [replace('title', 'b', 1)], writer)
    await expect.poll(() => server.store.transaction((tx) => tx.getDevice(broken)), poll).toBeUndefined()
    expect(deliveriesTo('not-hexadecimal')).toEqual([])
  })

  it('gives up on a pool whose role the server may not assume, without publishing anything', async () => {
    const untrusted = aws.account.addRole('NotTrustingTheServer', [], ['sns:Publish'])
    await adminClient(url).send(
      new SetIdentityPoolConfigurationCommand({
        IdentityPoolId: OTHER_POOL,
        PushSync: { ApplicationArns: [gcmApp], RoleArn: untrusted.arn },
      }),
    )
    const { user, tablet } = await twoDevices('gcm-token-9', apnsToken(9), OTHER_POOL)
    const stsRefusals = () => aws.sts.log.filter((entry) => entry.status === 403).length
    const refusedBefore = stsRefusals()
    // The tablet is APNS: the pool names no APNS application and the server has no APNs sender, so
    // nothing is queued for it; the phone's push fails at AssumeRole and is dropped.
    await user.write('notes', [replace('title', 'b', 1)], tablet)
    await expect.poll(stsRefusals, poll).toBe(refusedBefore + 1)
    await expect.poll(() => server.store.transaction((tx) => tx.countOutbox()), poll).toBe(0)
    expect(deliveriesTo('gcm-token-9')).toEqual([])
  })

  it('accepts only SNS platform applications of Cognito platforms, with a role to call them as', async () => {
    const admin = adminClient(url)
    const set = (PushSync: { ApplicationArns?: string[]; RoleArn?: string }) =>
      admin.send(new SetIdentityPoolConfigurationCommand({ IdentityPoolId: POOL, PushSync }))
    const role = aws.pushRole.arn
    for (const ApplicationArns of [
      ['arn:aws:sns:us-east-1:123456789012:my-topic'],
      ['arn:aws:lambda:us-east-1:123456789012:function:push'],
      ['arn:aws:sns:us-east-1:123456789012:app/BAIDU/notes'],
      ['arn:aws:sns:us-east-1:123456789012:endpoint/GCM/notes/0e0e0e0e-0000-4000-8000-000000000000'],
      ['arn:aws:sns:us-east-1.evil.example:123456789012:app/GCM/notes'],
      [gcmApp, gcmApp.replace('notes-android', 'other')],
    ])
      await expect(set({ ApplicationArns, RoleArn: role })).rejects.toBeInstanceOf(InvalidParameterException)
    await expect(set({ ApplicationArns: [gcmApp] })).rejects.toThrow(/RoleArn is required/)
    await expect(
      set({ ApplicationArns: [gcmApp], RoleArn: 'arn:aws:iam::123456789012:user/someone' }),
    ).rejects.toThrow(/IAM role ARN/)
    // Nothing was changed by the refusals.
    const stored = await admin.send(new GetIdentityPoolConfigurationCommand({ IdentityPoolId: POOL }))
    expect(stored.PushSync).toEqual({ ApplicationArns: [gcmApp, apnsApp], RoleArn: role })
  })
})

describe('SNS pushes across a restart', () => {
  it('keeps a push AWS could not take in the outbox, and the next run delivers it', async () => {
    const db = tempDb()
    const first = await startServer({ db })
    const startedAt = aws.sns.deliveries.length
    let second: Awaited<ReturnType<typeof startServer>> | undefined
    try {
      await adminClient(first.url).send(
        new SetIdentityPoolConfigurationCommand({
          IdentityPoolId: POOL,
          PushSync: { ApplicationArns: [gcmApp, apnsApp], RoleArn: aws.pushRole.arn },
        }),
      )
      const { user, phone, tablet } = await twoDevices('gcm-token-10', apnsToken(10), POOL, first.url)
      // STS is down: the push waits in the outbox, retried.
      for (let i = 0; i < 50; i++)
        aws.sts.failNext.push({ status: 503, code: 'ServiceUnavailable', message: 'Service Unavailable' })
      await user.write('notes', [replace('title', 'a', 1)], phone)
      await expect
        .poll(() => first.server.store.transaction((tx) => tx.dueOutbox(Number.MAX_SAFE_INTEGER, 10)), poll)
        .toMatchObject([{ deviceId: tablet }])
      await first.server.close()
      aws.sts.failNext.length = 0
      second = await startServer({ db })
      await expect.poll(() => deliveriesTo(apnsToken(10)).length, poll).toBe(1)
      expect(aws.sns.deliveries.length).toBe(startedAt + 1)
    } finally {
      await second?.server.close()
    }
  })
})
