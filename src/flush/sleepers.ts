/**
 * Backoff sleeps on the injected clock that can be cut short together: the flusher wakes its held
 * flights when a proof arrives, and every sleeper when it stops. Owns only the set of sleepers.
 */
import type { Clock } from '../contracts/clock.js'

export class Sleepers {
  private readonly waking = new Set<() => void>()

  constructor(private readonly clock: Clock) {}

  /** Resolves after `ms` on the clock, or at the next `wakeAll()`, whichever is first. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const { clock, waking } = this
      const timer = clock.setTimeout(done, ms)
      waking.add(done)
      function done(): void {
        clock.clearTimeout(timer)
        waking.delete(done)
        resolve()
      }
    })
  }

  /** Ends every sleep now. */
  wakeAll(): void {
    for (const wake of [...this.waking]) wake()
  }
}
