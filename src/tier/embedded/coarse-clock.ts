/**
 * A clock reading cheap enough for the write path. A `Date.now()` call is a large share of a
 * cached write (larger still on some virtual machines), so dirty-since times are
 * read through this: a reading is reused for up to 64 calls within one macrotask, and never across
 * one (a write after idle time always reads the clock afresh). In a tight loop of writes the error
 * is the time of 64 writes, microseconds; it only ever makes an entry look older, which flushes it
 * sooner, never later.
 */
import type { Clock } from '../../contracts/clock.js'

const REUSE = 64

export class CoarseClock {
  private value = 0
  private uses = 0
  private expiring = false

  constructor(private readonly clock: Clock) {}

  now(): number {
    if (this.uses > 0) {
      this.uses--
      return this.value
    }
    this.value = this.clock.now()
    this.uses = REUSE - 1
    if (!this.expiring) {
      this.expiring = true
      setImmediate(this.expire)
    }
    return this.value
  }

  private readonly expire = (): void => {
    this.expiring = false
    this.uses = 0
  }
}
