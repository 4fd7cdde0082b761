/**
 * The multi-tab port: several tabs (or windows, or workers) of one app in one browser profile share
 * one local database. A coordinator elects one of them, the leader, to talk to the network, and
 * carries messages between them, so the others see its changes at once.
 *
 * The engine decides what the messages mean; a coordinator only delivers them. It guarantees:
 * - at most one started member of a group is the leader at a time, as far as the platform allows
 *   (a leader that stopped answering may be replaced before it learns so: it is told
 *   `onLeadershipChange(false)` when it runs again);
 * - while members are started, one of them becomes the leader: a stopped, closed or frozen leader
 *   is replaced;
 * - a broadcast reaches every other started member of the group, never the sender.
 */
export interface TabCoordinator {
  /** `'tabs:<impl>'`, used in logs. */
  readonly name: string
  /**
   * Joins the group: `sink.onLeadershipChange(true)` when this member becomes the leader, `false`
   * when it stops being it. Returns the function that leaves the group (giving up the lead) and
   * stops all calls to `sink`; calling it more than once is harmless.
   */
  start(sink: TabSink): () => void
  /** Sends a structured-cloneable message to the group's other started members. */
  broadcast(message: unknown): void
}

/** What a started {@link TabCoordinator} reports to; the sync manager provides it. */
export interface TabSink {
  /** This tab started (`true`) or stopped (`false`) leading: only the leader talks to the network. */
  onLeadershipChange(leader: boolean): void
  /** A message another member broadcast. Never throws. */
  onMessage(message: unknown): void
}
