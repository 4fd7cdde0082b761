/**
 * Runs one task per key at a time. A call while a task runs does not start a second one beside it:
 * every such call shares a single follow-up run that starts when the current one ends, so a burst
 * of pushes or `synchronize()` calls during a sync costs one more sync, not one per call.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>()
  private readonly queued = new Map<string, Promise<T>>()

  run(key: string, task: () => Promise<T>): Promise<T> {
    const queued = this.queued.get(key)
    if (queued !== undefined) return queued
    const current = this.running.get(key)
    if (current === undefined) return this.start(key, task)
    const next = current
      .catch(() => undefined)
      .then(() => {
        this.queued.delete(key)
        return this.start(key, task)
      })
    this.queued.set(key, next)
    return next
  }

  /** Whether a task for `key` is running now. */
  isRunning(key: string): boolean {
    return this.running.has(key)
  }

  /** Settles when nothing runs or waits for any key. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.queued.size > 0) {
      await Promise.allSettled([...this.running.values(), ...this.queued.values()])
    }
  }

  private start(key: string, task: () => Promise<T>): Promise<T> {
    const promise = task().finally(() => {
      if (this.running.get(key) === promise) this.running.delete(key)
    })
    this.running.set(key, promise)
    return promise
  }
}
