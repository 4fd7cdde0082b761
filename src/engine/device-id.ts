import type { StorageAdapter } from '../contracts/storage.js'

/**
 * The id this device gives the server so it is not pushed its own writes. The server leaves out of
 * a live connection's stream the changes written with that connection's DeviceId, so UpdateRecords
 * and DeleteDataset must carry the same id the push source connected with.
 *
 * It is the registered push device id when there is one (read from storage, per identity). A
 * device without a registration that listens to a push source gets an id made for this manager on
 * first use: `crypto.randomUUID` is missing on some runtimes (React Native without a polyfill), and
 * an app that never adds a push source must neither depend on it nor send an id it never had.
 */
export class DeviceIds {
  private registered: string | undefined
  /** The identity whose registration `registered` is; undefined until it was read. */
  private readFor: string | undefined
  private local: string | undefined
  private readonly storage: StorageAdapter
  private readonly shared: boolean

  /**
   * `shared`: other tabs write the same storage (and may register the device), so the registration
   * is read anew for every write instead of kept.
   */
  constructor(storage: StorageAdapter, shared: boolean) {
    this.storage = storage
    this.shared = shared
  }

  /** Reads the identity's registration again (after registering, forgetting or changing identity). */
  async refresh(identityId: string): Promise<string | undefined> {
    const devices = await this.storage.read((tx) => tx.listDevices(identityId))
    this.registered = devices[0]?.deviceId
    this.readFor = identityId
    return this.registered
  }

  /** The id a push source connects with: the registered one, else one made for this manager. */
  forPushSource(): string {
    if (this.registered !== undefined) return this.registered
    this.local ??= randomDeviceId()
    return this.local
  }

  /**
   * The id a write carries: the registration, else the one a push source uses, if any. Only this
   * manager changes the registration of a storage it does not share, and it refreshes it then: the
   * one it read is kept, and a write costs no read for it.
   */
  async forWrite(identityId: string): Promise<string | undefined> {
    const registered =
      this.shared || this.readFor !== identityId ? await this.refresh(identityId) : this.registered
    return registered ?? this.local
  }
}

/** A random device id; `crypto.randomUUID` where the runtime has it. */
function randomDeviceId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID()
  // Only uniqueness matters here (it tells this manager's writes apart), not unpredictability.
  let id = ''
  for (let i = 0; i < 32; i++) id += Math.floor(Math.random() * 16).toString(16)
  return id
}
