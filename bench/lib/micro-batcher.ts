/**
 * Collects rows from concurrent callers into multi-row upserts: a batch goes out when it is
 * full or `lingerMs` after its first row, and each caller's promise settles with its batch.
 * This is how a BullMQ worker is usually made to write in batches without BullMQ Pro.
 */
import { type CountingPool, type Row, upsertRows } from './pg.js'

interface Pending {
  row: Row
  resolve: () => void
  reject: (err: unknown) => void
}

export class MicroBatcher {
  private pending: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  private inFlight = 0

  constructor(
    private readonly db: CountingPool,
    private readonly table: string,
    private readonly batchSize: number,
    private readonly lingerMs: number,
  ) {}

  /** Resolves when `row` is committed (in a batch with others). */
  add(row: Row): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject })
      if (this.pending.length >= this.batchSize) this.send()
      else this.timer ??= setTimeout(() => this.send(), this.lingerMs)
    })
  }

  /** True when no row is waiting or being written. */
  idle(): boolean {
    return this.pending.length === 0 && this.inFlight === 0
  }

  private send(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    void this.write(batch)
  }

  // Never rejects: each caller's promise carries the batch's outcome.
  private async write(batch: Pending[]): Promise<void> {
    this.inFlight += 1
    try {
      await upsertRows(
        this.db,
        this.table,
        batch.map((p) => p.row),
      )
      for (const p of batch) p.resolve()
    } catch (err) {
      for (const p of batch) p.reject(err)
    } finally {
      this.inFlight -= 1
    }
  }
}
