/**
 * Moves the dirty log's checkpoint forward as flushes complete, so whole segments can be deleted
 * and the log does not grow while the store keeps up. At most one checkpoint is written at a time
 * and at most one per `MIN_INTERVAL_MS`: each is an fsync, a rename and a directory fsync.
 */
import type { CacheParts } from '../../core/engine.js'

const MIN_INTERVAL_MS = 1000

export class Checkpointer {
  private written = 0
  private lastAt = -Infinity
  private running: Promise<void> | undefined
  private timerArmed = false
  private closed = false

  constructor(private readonly parts: CacheParts) {}

  /** Asks for a checkpoint; it is written now or after the interval, unless nothing moved. */
  request(): void {
    const { log, options } = this.parts
    if (log === undefined || this.closed || this.running !== undefined || this.timerArmed) return
    if (this.parts.scheduler.lowWater() <= this.written) return
    const wait = this.lastAt + MIN_INTERVAL_MS - options.clock.now()
    if (wait > 0) {
      this.timerArmed = true
      const timer = options.clock.setTimeout(() => {
        this.timerArmed = false
        this.request()
      }, wait)
      timer.unref?.()
      return
    }
    void this.write()
  }

  /** Writes a last checkpoint (used by close); no other is written after it. */
  async final(): Promise<void> {
    this.closed = true
    await this.running
    await this.write()
  }

  private async write(): Promise<void> {
    const { log, scheduler, versions, options } = this.parts
    const low = scheduler.lowWater()
    if (log === undefined || low <= this.written) return
    this.lastAt = options.clock.now()
    this.running = log.checkpoint(low, versions.current).then(
      () => {
        this.written = Math.max(this.written, low)
      },
      (error: unknown) => {
        this.parts.emit('warning', { code: 'WB_CHECKPOINT_FAILED', message: `writing the checkpoint failed: ${String(error)}` })
      },
    )
    await this.running
    this.running = undefined
  }
}
