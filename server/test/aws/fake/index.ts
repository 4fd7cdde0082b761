import { FakeAccount, type FakeRole, type FakeUser } from './account.js'
import { type FakeKinesis, startFakeKinesis } from './kinesis.js'
import { type FakeLambda, startFakeLambda } from './lambda.js'
import { type FakeSns, startFakeSns } from './sns.js'
import { type FakeSts, startFakeSts } from './sts.js'

export type { FakeKinesis, FakeLambda, FakeSns, FakeSts }

/**
 * A local AWS account: STS, SNS, Kinesis and Lambda on loopback ports, the server's IAM user, and
 * the pool's roles (trusting that user) as a migrated Cognito app has them: one for SNS push sync,
 * one for its stream.
 */
export interface FakeAws {
  readonly account: FakeAccount
  readonly sts: FakeSts
  readonly sns: FakeSns
  readonly kinesis: FakeKinesis
  readonly lambda: FakeLambda
  /** The server's own identity: what the default credential chain finds in the environment. */
  readonly server: FakeUser
  readonly pushRole: FakeRole
  readonly streamRole: FakeRole
  /**
   * The environment the AWS SDK reads: the server's keys and each service's endpoint, and nothing
   * from the machine's own AWS files or instance metadata.
   */
  readonly env: Record<string, string>
  close(): Promise<void>
}

export async function startFakeAws(): Promise<FakeAws> {
  const account = new FakeAccount()
  const server = account.addUser('pushsync-server')
  const pushRole = account.addRole(
    'CognitoPushSync',
    [server],
    ['sns:CreatePlatformEndpoint', 'sns:GetEndpointAttributes', 'sns:SetEndpointAttributes', 'sns:Publish'],
  )
  const streamRole = account.addRole('CognitoStreams', [server], ['kinesis:PutRecord'])
  const [sts, sns, kinesis, lambda] = await Promise.all([
    startFakeSts(account),
    startFakeSns(account),
    startFakeKinesis(account),
    startFakeLambda(account),
  ])
  return {
    account,
    sts,
    sns,
    kinesis,
    lambda,
    server,
    pushRole,
    streamRole,
    env: {
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_ENDPOINT_URL_SNS: sns.url,
      AWS_ENDPOINT_URL_KINESIS: kinesis.url,
      AWS_ENDPOINT_URL_LAMBDA: lambda.url,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    async close() {
      await Promise.all([sts.close(), sns.close(), kinesis.close(), lambda.close()])
    },
  }
}

/** Puts `env` into this process's environment (the AWS SDK reads it there); returns the undo. */
export function useEnvironment(env: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]))
  Object.assign(process.env, env)
  return () => {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}
