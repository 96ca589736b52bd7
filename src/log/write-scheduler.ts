/**
 * When the dirty log hands its buffer to the OS (see dirty-log.ts, "Group commit"). A waiter
 * (`written()`, `synced()`) asks for one write, which every waiter until it runs shares: in a
 * microtask (`writeScheduling: 'microtask'`, a sequential writer then pays no event-loop turn per
 * record) or at the next turn (`'immediate'`). Appends nobody waits on are written once per
 * event-loop turn. Owns only the "is a write scheduled" state; what a write does is the log's.
 *
 * A writer that awaits each write in a loop never leaves microtasks, so timers starve: no flush,
 * no checkpoint, and the log grows without bound. When a whole segment was written without an
 * event-loop turn (`noteRoll`), the next write waits for one.
 */
export class WriteScheduler {
  private scheduled = false
  private backgroundScheduled = false
  /** Whether the event loop turned since the last roll (set by an immediate the roll schedules). */
  private turnedSinceRoll = true
  /** The next write waits for an event-loop turn: a whole segment was written without one. */
  private yieldNext = false

  constructor(
    private readonly scheduling: 'microtask' | 'immediate',
    /** Writes the buffer for its waiters. */
    private readonly write: () => void,
    /** Writes the buffer for appends nobody waits on. */
    private readonly writeInBackground: () => void,
  ) {}

  /** A waiter wants the buffer written: one write, soon, shared by every request until it runs. */
  request(): void {
    if (this.scheduled) return
    this.scheduled = true
    if (this.scheduling === 'microtask' && !this.yieldNext) queueMicrotask(this.run)
    else {
      this.yieldNext = false
      setImmediate(this.run)
    }
  }

  /** An append nobody waits on: written at the next event-loop turn, unless a requested write comes first. */
  requestInBackground(): void {
    if (this.scheduled || this.backgroundScheduled) return
    this.backgroundScheduled = true
    setImmediate(this.runInBackground)
  }

  /** The log started a new segment. */
  noteRoll(): void {
    this.yieldNext = !this.turnedSinceRoll
    this.turnedSinceRoll = false
    setImmediate(this.markTurned).unref()
  }

  private readonly run = (): void => {
    this.scheduled = false
    this.write()
  }

  private readonly runInBackground = (): void => {
    this.backgroundScheduled = false
    this.writeInBackground()
  }

  private readonly markTurned = (): void => {
    this.turnedSinceRoll = true
  }
}
