/**
 * A clock whose time moves only when a test says so. Timers run in due order, and between timers
 * the pending promise callbacks and I/O callbacks get to run, so a flush started by a timer can
 * finish before the next timer fires. Use it with any component that takes a `Clock`.
 */
import type { Clock, TimerHandle } from '../contracts/clock.js'

interface FakeTimer extends TimerHandle {
  readonly id: number
  readonly due: number
  readonly fn: () => void
  cancelled: boolean
}

export class FakeClock implements Clock {
  private time: number
  private nextId = 1
  private timers: FakeTimer[] = []

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.time = startMs
  }

  now(): number {
    return this.time
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: this.nextId++, due: this.time + Math.max(0, ms), fn, cancelled: false, unref() {} }
    this.timers.push(timer)
    return timer
  }

  clearTimeout(handle: TimerHandle): void {
    ;(handle as FakeTimer).cancelled = true
    this.timers = this.timers.filter((t) => t !== handle)
  }

  /** How many timers are pending. */
  get pendingTimers(): number {
    return this.timers.length
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way, in order, and
   * letting promise and I/O callbacks settle after each one.
   */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms
    await settle()
    for (;;) {
      const next = this.earliest()
      if (next === undefined || next.due > end) break
      this.timers = this.timers.filter((t) => t !== next)
      this.time = Math.max(this.time, next.due)
      next.fn()
      await settle()
    }
    this.time = end
    await settle()
  }

  /** Runs timers until none is left or `limitMs` of fake time has passed; returns the time used. */
  async runAll(limitMs = 3_600_000): Promise<number> {
    const start = this.time
    for (;;) {
      const next = this.earliest()
      if (next === undefined || next.due - start > limitMs) break
      await this.advance(next.due - this.time)
    }
    return this.time - start
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined
    for (const t of this.timers) if (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t
    return best
  }
}

/** Lets pending promise callbacks and immediates run (a few macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
