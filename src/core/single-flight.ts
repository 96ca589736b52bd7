/**
 * Single-flight: concurrent calls for one key share one running task and its outcome (value or
 * error). The entry goes away as the task settles, so the next call runs the task again and a
 * failure is never cached. `getOrSet()` runs its read and loader here.
 */

export class SingleFlight {
  private readonly flights = new Map<string, Promise<unknown>>()

  /** Keys with a task running. */
  get size(): number {
    return this.flights.size
  }

  /**
   * The running task of `key`, or `task` started now. A call that joins gets the running task's
   * outcome: its own `task` is not called, so every caller of one key must mean the same thing.
   */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const running = this.flights.get(key)
    if (running !== undefined) return running as Promise<T>
    const flight = task()
    this.flights.set(key, flight)
    const forget = (): void => {
      if (this.flights.get(key) === flight) this.flights.delete(key)
    }
    flight.then(forget, forget)
    return flight
  }
}
