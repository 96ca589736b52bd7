/**
 * A histogram over fixed buckets: cheap enough to record every write. `record` is a binary search
 * over a `Float64Array` of upper bounds and one increment: no allocation, no sorting, no growth.
 * A quantile is the upper bound of the bucket holding it, clamped to the largest value seen, so it
 * overstates by at most one bucket's width (about 19% with the log-spaced bounds below) and never
 * exceeds the max. `summary()` allocates; it is what `stats()` reads.
 *
 * The contract leaves out: windows (counts are since creation; derive rates and recent quantiles
 * from two snapshots, or let a metrics adapter do it) and negative values (recorded as 0).
 */
import type { LatencySummary } from '../contracts/stats.js'

/** Upper bounds from `min` to at least `max`, `perDoubling` buckets per doubling; `whole` rounds them up to whole numbers (deduplicated). */
export function logBounds(min: number, max: number, perDoubling: number, whole = false): Float64Array {
  const factor = 2 ** (1 / perDoubling)
  const bounds: number[] = []
  for (let bound = min; ; bound *= factor) {
    const b = whole ? Math.ceil(bound - 1e-9) : bound
    if (bounds.length === 0 || b > (bounds[bounds.length - 1] as number)) bounds.push(b)
    if (b >= max) break
  }
  return Float64Array.from(bounds)
}

/** Milliseconds: 0.01 ms to past 60 s (70.5 s), four buckets per doubling: 92 bounds, plus a slot above them. */
export const LATENCY_BOUNDS_MS: Float64Array = logBounds(0.01, 60_000, 4)

/** Counts (ops per batch): 1, 2, 3, … exact up to 8, then about four buckets per doubling, to 1,048,576 (76 bounds). */
export const COUNT_BOUNDS: Float64Array = logBounds(1, 1_048_576, 4, true)

export class Histogram {
  /** counts[i]: values in (bounds[i-1], bounds[i]]; the last slot holds values above every bound. */
  private readonly counts: Float64Array
  private total = 0
  private max = 0

  constructor(private readonly bounds: Float64Array = LATENCY_BOUNDS_MS) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  /** Adds one observation (a negative or NaN value counts as 0). */
  record(value: number): void {
    const v = value > 0 ? value : 0
    const bounds = this.bounds
    this.total++
    if (v > this.max) this.max = v
    if (v <= (bounds[0] as number)) {
      this.counts[0]!++ // the common case of a write acknowledged within its call: no search
      return
    }
    let lo = 1
    let hi = bounds.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((bounds[mid] as number) < v) lo = mid + 1
      else hi = mid
    }
    this.counts[lo]!++
  }

  /** `record(0)`: one observation in the first bucket. */
  recordZero(): void {
    this.recordZeros(1)
  }

  /** `record(0)` `n` times (the ack meter counts untimed writes and adds them here when read). */
  recordZeros(n: number): void {
    this.total += n
    this.counts[0]! += n
  }

  get count(): number {
    return this.total
  }

  /** The value at or below which a fraction `q` (0..1] of the observations lie; 0 with none. */
  quantile(q: number): number {
    if (this.total === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.total))
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number
      if (seen >= rank) return Math.min(this.bounds[i] ?? Infinity, this.max)
    }
    return this.max
  }

  summary(): LatencySummary {
    return { count: this.total, p50Ms: this.quantile(0.5), p95Ms: this.quantile(0.95), p99Ms: this.quantile(0.99), maxMs: this.max }
  }
}
