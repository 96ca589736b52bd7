/**
 * Issues write versions: unique, increasing, and never below anything issued before, across
 * restarts too (the README's invariant 8). Versions count up from a floor of
 * `max(recovered high-water mark, now_ms * 1000)`, a microsecond-scaled clock reading that is
 * raised again on every flush tick (`catchUp`), so versions track the clock without reading it on
 * every write. After a restart the floor is the highest version recovered from the log and
 * checkpoint; the clock floor covers a cache with no log at all (as long as it averaged under a
 * million writes a second and the clock did not step back). Versions stay below 2^53 until 2255.
 *
 * A clock reading past the year 2200 is implausible (a clock that jumped, e.g. to 2300 for a
 * moment) and is not taken as a floor: raising the floor is for good, and one such reading would
 * push every later version past 2^53. Should versions still reach `Number.MAX_SAFE_INTEGER` (a
 * store or log holding such versions), `next()` throws `VersionExhaustedError`, never a raw error.
 */
import type { Clock } from '../../contracts/clock.js'
import { VersionExhaustedError } from '../../errors.js'

/** Clock readings (ms) at or past this are ignored as floors: 2200-01-01, leaving ~55 years of 1M writes/s below 2^53. */
export const MAX_PLAUSIBLE_CLOCK_MS = Date.UTC(2200, 0, 1)

export class VersionSource {
  /** Declared with a number (see `Entry.version`): `next()` then writes into one number box, allocating nothing. */
  private last = 0

  constructor(
    private readonly clock: Clock,
    floor = 0,
  ) {
    this.last = floor
    this.catchUp()
  }

  /** The next version; strictly greater than every version issued or observed before. */
  next(): number {
    if (this.last >= Number.MAX_SAFE_INTEGER) throw new VersionExhaustedError(this.last)
    return ++this.last
  }

  /** Raises the floor to the clock (microseconds), if the clock is ahead and plausible. */
  catchUp(): void {
    const now = this.clock.now()
    if (!(now < MAX_PLAUSIBLE_CLOCK_MS)) return
    const fromClock = Math.floor(now * 1000)
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
