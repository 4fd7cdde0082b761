import { SyncError } from '../errors.js'
import type { EngineContext } from './context.js'
import { throwIfCancelled, transportError } from './failures.js'
import { Session } from './session.js'

/**
 * Subscribes or unsubscribes this device to a dataset's pushes on the server. Subscribing needs a
 * registered device; unsubscribing what the server does not know (device or dataset) is fine.
 */
export async function setSubscription(
  context: EngineContext,
  name: string,
  subscribed: boolean,
): Promise<void> {
  const { session, deviceIds } = context
  const transport = session.requireTransport()
  const device = await deviceIds.refresh(session.identityId)
  if (device === undefined) {
    if (!subscribed) return
    throw new SyncError('DEVICE_NOT_REGISTERED', 'register the device (registerDevice) before subscribing')
  }
  const result = await Session.scoped(session.signal, async (signal) => {
    const answer = subscribed
      ? await transport.subscribe(name, device, signal)
      : await transport.unsubscribe(name, device, signal)
    throwIfCancelled(signal)
    return answer
  })
  if (result.ok || (!subscribed && result.failure.kind === 'notFound')) return
  const doing = `${subscribed ? 'subscribing to' : 'unsubscribing from'} dataset "${name}"`
  throw transportError(result.failure, transport.name, doing)
}
