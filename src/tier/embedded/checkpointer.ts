/**
 * Moves the dirty log's checkpoint forward as flushes complete, so whole segments can be deleted
 * and the log does not grow while the store keeps up. At most one checkpoint is written at a time
 * and at most one per `MIN_INTERVAL_MS`: each is an fsync, a rename and a directory fsync.
 */
import type { Clock } from '../../contracts/clock.js'
import type { DirtyLog } from '../../log/dirty-log.js'

const MIN_INTERVAL_MS = 1000

export class Checkpointer {
  private written = 0
  private lastAt = -Infinity
  private running: Promise<void> | undefined
  private timerArmed = false
  private closed = false

  constructor(
    private readonly log: DirtyLog,
    private readonly clock: Clock,
    /** Every version at or below it is settled (in the store, superseded or dead-lettered). */
    private readonly lowWater: () => number,
    /** The highest version issued, the floor of the next open's versions. */
    private readonly highWater: () => number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Asks for a checkpoint; it is written now or after the interval, unless nothing moved. */
  request(): void {
    if (this.closed || this.running !== undefined || this.timerArmed) return
    if (this.lowWater() <= this.written) return
    const wait = this.lastAt + MIN_INTERVAL_MS - this.clock.now()
    if (wait > 0) {
      this.timerArmed = true
      const timer = this.clock.setTimeout(() => {
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
    const low = this.lowWater()
    if (low <= this.written) return
    this.lastAt = this.clock.now()
    this.running = this.log.checkpoint(low, this.highWater()).then(
      () => {
        this.written = Math.max(this.written, low)
      },
      (error: unknown) => this.onError(error),
    )
    await this.running
    this.running = undefined
  }
}
