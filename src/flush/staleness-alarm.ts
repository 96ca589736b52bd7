/**
 * `alerts.maxStalenessMs`: emits `alert:staleness` when the oldest unflushed write gets older
 * than the threshold, and `alert:recovered` when it is back under it. Checked when flights end
 * and on a timer, so a store that hangs without failing still raises the alert.
 */
import type { CacheParts } from '../core/engine.js'

export class StalenessAlarm {
  private raised = false
  private timer: { unref?(): void } | undefined

  constructor(private readonly parts: CacheParts) {}

  start(): void {
    const threshold = this.parts.options.alerts.maxStalenessMs
    if (threshold === undefined) return
    const tick = (): void => {
      this.check()
      this.timer = this.parts.options.clock.setTimeout(tick, Math.max(10, threshold / 4))
      this.timer.unref?.()
    }
    tick()
  }

  stop(): void {
    if (this.timer !== undefined) this.parts.options.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  check(): void {
    const thresholdMs = this.parts.options.alerts.maxStalenessMs
    if (thresholdMs === undefined) return
    const oldestDirtyAgeMs = this.parts.scheduler.oldestAge()
    if (!this.raised && oldestDirtyAgeMs > thresholdMs) {
      this.raised = true
      this.parts.emit('alert:staleness', { oldestDirtyAgeMs, thresholdMs })
    } else if (this.raised && oldestDirtyAgeMs <= thresholdMs) {
      this.raised = false
      this.parts.emit('alert:recovered', { oldestDirtyAgeMs, thresholdMs })
    }
  }
}
