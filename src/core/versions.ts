/**
 * Issues write versions: unique, increasing, and never below anything issued before, across
 * restarts too (ARCHITECTURE.md invariant 8). Versions count up from a floor of
 * `max(recovered high-water mark, now_ms * 1000)`, a microsecond-scaled clock reading that is
 * raised again on every flush tick (`catchUp`), so versions track the clock without reading it on
 * every write. After a restart the floor is the highest version recovered from the log and
 * checkpoint; the clock floor covers a cache with no log at all (as long as it averaged under a
 * million writes a second and the clock did not step back). Versions stay below 2^53 until 2255.
 */
import type { Clock } from '../contracts/clock.js'

export class VersionSource {
  private last: number

  constructor(
    private readonly clock: Clock,
    floor = 0,
  ) {
    this.last = floor
    this.catchUp()
  }

  /** The next version; strictly greater than every version issued or observed before. */
  next(): number {
    return ++this.last
  }

  /** Raises the floor to the clock (microseconds), if the clock is ahead. */
  catchUp(): void {
    const fromClock = this.clock.now() * 1000
    if (fromClock > this.last) this.last = fromClock
  }

  /** Raises the floor: no version at or below `version` will be issued (seen in the store or log). */
  observe(version: number): void {
    if (version > this.last) this.last = version
  }

  /** The highest version issued or observed. */
  get current(): number {
    return this.last
  }
}
