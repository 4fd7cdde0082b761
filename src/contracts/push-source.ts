import type { SyncError } from '../errors.js'

/**
 * The push port: something that receives a platform's pushes (an SSE stream, FCM, APNs, Web Push, a
 * WebSocket...) and relays them to the sync manager.
 *
 * A source relays the raw platform payload as it arrived (an object, or the JSON text of one): the
 * manager parses it with `parsePushPayload` and decides with the core whether to sync, so every
 * platform gets the same rules. A source never throws into the platform's callback; a payload it
 * cannot make sense of is still relayed (the manager reports it as `pushIgnored`), and a failure of
 * the source itself (a dropped connection, a refused token) goes to {@link PushSink.onError}.
 */
export interface PushSource {
  /** `'push:<impl>'`, used in logs and in the `pushSourceError` event. */
  readonly name: string
  /**
   * Starts receiving and relaying pushes to `sink`. Returns the function that stops the source: it
   * releases what the source holds (connections, timers, listeners) and relays nothing afterwards.
   * Calling it more than once is harmless.
   */
  start(sink: PushSink): () => void
}

/** What a started {@link PushSource} relays to; the sync manager provides it. */
export interface PushSink {
  /**
   * This device's id for push: a source that connects to the server (SSE) sends it, so the server
   * does not push back the changes this device wrote itself (they carry the same DeviceId).
   */
  readonly deviceId: string
  /** One raw platform payload. Never throws, whatever the payload. */
  onPayload(payload: unknown): void
  /** A failure of the source itself; the source keeps going (retrying) unless it was stopped. */
  onError(error: SyncError): void
  /**
   * The source is (re)connected and relays pushes; pushes missed while it was not are being caught
   * up. A source with nothing to connect (a platform callback) calls it once started. The manager
   * reports each source as `connecting` until then, `live` after, and `offline` after `onError`.
   */
  onConnected?(): void
}
