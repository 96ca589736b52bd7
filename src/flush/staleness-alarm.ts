/**
 * `alerts.maxStalenessMs`: raises an alert when the oldest unflushed write gets older than the
 * threshold, and clears it when it is back under. Checked when flights end and on a timer, so a
 * store that hangs without failing still raises the alert.
 */
import type { Clock, TimerHandle } from '../contracts/clock.js'

export interface StalenessEvent {
  oldestDirtyAgeMs: number
  thresholdMs: number
}

export class StalenessAlarm {
  private raised = false
  private timer: TimerHandle | undefined

  constructor(
    /** Off when undefined. */
    private readonly thresholdMs: number | undefined,
    private readonly clock: Clock,
    /** Age of the oldest unflushed write, 0 when there is none. */
    private readonly oldestAge: () => number,
    private readonly onChange: (raised: boolean, event: StalenessEvent) => void,
  ) {}

  start(): void {
    const threshold = this.thresholdMs
    if (threshold === undefined) return
    const tick = (): void => {
      this.check()
      this.timer = this.clock.setTimeout(tick, Math.max(10, threshold / 4))
      this.timer.unref?.()
    }
    tick()
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  check(): void {
    const thresholdMs = this.thresholdMs
    if (thresholdMs === undefined) return
    const oldestDirtyAgeMs = this.oldestAge()
    if (this.raised === oldestDirtyAgeMs > thresholdMs) return
    this.raised = !this.raised
    this.onChange(this.raised, { oldestDirtyAgeMs, thresholdMs })
  }
}
