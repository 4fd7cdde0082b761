/**
 * Runs one task at a time. A call while a task runs does not start a second one beside it: every
 * such call shares a single follow-up run that starts when the current one ends, so a burst of
 * pushes or `synchronize()` calls during a sync costs one more sync, not one per call.
 */
export class SingleFlight<T> {
  private running: Promise<T> | undefined
  private queued: Promise<T> | undefined

  run(task: () => Promise<T>): Promise<T> {
    if (this.queued !== undefined) return this.queued
    const current = this.running
    if (current === undefined) return this.start(task)
    const next = current
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined
        return this.start(task)
      })
    this.queued = next
    return next
  }

  /** Whether a task runs now. */
  get isRunning(): boolean {
    return this.running !== undefined
  }

  /** Settles when nothing runs or waits. */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.queued !== undefined) {
      await Promise.allSettled([this.running, this.queued])
    }
  }

  private start(task: () => Promise<T>): Promise<T> {
    const promise = task().finally(() => {
      if (this.running === promise) this.running = undefined
    })
    this.running = promise
    return promise
  }
}
