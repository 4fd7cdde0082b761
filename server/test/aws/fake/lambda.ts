import { randomUUID } from 'node:crypto'
import { ACCOUNT_ID, type FakeAccount, type FakeResponse, type FakeServer, serveFake } from './account.js'

/** A function's code: the event in, the answer out; a throw is the function's own error. */
export type FakeFunction = (event: unknown) => unknown | Promise<unknown>

export interface FakeLambda extends FakeServer {
  /** Deploys a function; returns its ARN. */
  addFunction(name: string, code: FakeFunction, region?: string): string
  removeFunction(arn: string): void
  /** Every invocation's payload, parsed, with who invoked it. */
  readonly invocations: Array<{ readonly arn: string; readonly event: unknown; readonly caller: string }>
  readonly failNext: Array<{ readonly status: number; readonly type: string; readonly message: string }>
}

const INVOKE = /^\/2015-03-31\/functions\/([^/?]+)\/invocations(?:\?(.*))?$/

function error(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): FakeResponse {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': type,
      'x-amzn-requestid': randomUUID(),
      ...headers,
    },
    body: JSON.stringify({ Type: 'User', message }),
  }
}

/**
 * AWS Lambda's Invoke over REST-JSON (`POST /2015-03-31/functions/{FunctionName}/invocations`),
 * synchronous only: the function runs and its answer is the body; a function that throws answers
 * 200 with `X-Amz-Function-Error: Unhandled` and its error as the body, as Lambda does.
 */
export async function startFakeLambda(account: FakeAccount): Promise<FakeLambda> {
  const log: Array<{ action: string; status: number }> = []
  const functions = new Map<string, FakeFunction>()
  const invocations: FakeLambda['invocations'] = []
  const failNext: FakeLambda['failNext'] = []

  const server = await serveFake(async (request) => {
    const match = request.method === 'POST' ? INVOKE.exec(request.url) : null
    if (match === null) {
      log.push({ action: 'Unknown', status: 404 })
      return error(404, 'UnknownOperationException', `No route ${request.method} ${request.url}`)
    }
    const answer = await (async (): Promise<FakeResponse> => {
      const caller = account.authenticate(request, 'lambda', 'lambda:InvokeFunction')
      if (!caller.ok)
        return error(
          403,
          caller.code === 'ExpiredToken' ? 'ExpiredTokenException' : caller.code,
          caller.message,
        )
      const type = request.headers['x-amz-invocation-type'] ?? 'RequestResponse'
      if (type !== 'RequestResponse')
        return error(400, 'InvalidParameterValueException', `InvocationType ${String(type)}`)
      const name = decodeURIComponent(match[1] ?? '')
      // A qualified ARN (`...:function:NAME:ALIAS`) runs the function's one version here.
      const arn = name.startsWith('arn:')
        ? name.split(':').slice(0, 7).join(':')
        : `arn:aws:lambda:${caller.region}:${ACCOUNT_ID}:function:${name}`
      const code = functions.get(arn)
      if (code === undefined || !arn.includes(`:lambda:${caller.region}:`))
        return error(404, 'ResourceNotFoundException', `Function not found: ${arn}`)
      const scripted = failNext.shift()
      if (scripted !== undefined)
        return error(
          scripted.status,
          scripted.type,
          scripted.message,
          scripted.status === 429 ? { 'retry-after': '1' } : {},
        )
      let event: unknown
      try {
        event = JSON.parse(request.body.toString('utf8'))
      } catch {
        return error(400, 'InvalidRequestContentException', 'Could not parse request body into json')
      }
      invocations.push({ arn, event: structuredClone(event), caller: caller.arn })
      const headers = {
        'content-type': 'application/json',
        'x-amz-executed-version': '$LATEST',
        'x-amzn-requestid': randomUUID(),
      }
      try {
        const result = await code(event)
        return {
          status: 200,
          headers,
          body: typeof result === 'string' ? result : JSON.stringify(result ?? null),
        }
      } catch (thrown) {
        return {
          status: 200,
          headers: { ...headers, 'x-amz-function-error': 'Unhandled' },
          body: JSON.stringify({ errorType: 'Error', errorMessage: (thrown as Error).message, trace: [] }),
        }
      }
    })()
    log.push({ action: 'Invoke', status: answer.status })
    return answer
  }, log)

  return {
    ...server,
    invocations,
    failNext,
    addFunction(name, code, region = 'us-east-1') {
      const arn = `arn:aws:lambda:${region}:${ACCOUNT_ID}:function:${name}`
      functions.set(arn, code)
      return arn
    },
    removeFunction(arn) {
      functions.delete(arn)
    },
  }
}
