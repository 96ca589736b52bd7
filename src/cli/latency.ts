/**
 * A fixed-size latency histogram (log-linear buckets, like HdrHistogram with 64 sub-buckets per
 * power of two): recording is O(1) with no allocation, and a percentile is accurate to within
 * about 1.6 %. Values are milliseconds, kept internally as whole microseconds.
 */

const SUB_BITS = 6
const SUB = 1 << SUB_BITS
const MAX_EXPONENT = 45 // 2^45 µs is about a year

export class LatencyHistogram {
  private readonly counts = new Float64Array((MAX_EXPONENT + 1) * SUB)
  private total = 0
  private maxMs = 0
  private sumMs = 0

  /** Records one latency, in milliseconds (negative and NaN values count as 0). */
  record(ms: number): void {
    const value = ms > 0 ? ms : 0
    const index = bucketOf(Math.round(value * 1000))
    this.counts[index] = (this.counts[index] as number) + 1
    this.total++
    this.sumMs += value
    if (value > this.maxMs) this.maxMs = value
  }

  get count(): number {
    return this.total
  }

  get max(): number {
    return this.maxMs
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sumMs / this.total
  }

  /** The latency at or below which `p` (0..100) percent of the samples fall; 0 when empty. */
  percentile(p: number): number {
    if (this.total === 0) return 0
    const rank = Math.max(1, Math.ceil((p / 100) * this.total))
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number
      if (seen >= rank) return Math.min(upperBoundMs(i), this.maxMs)
    }
    return this.maxMs
  }
}

/** Below 64 µs a bucket per µs; above, 64 linear buckets per power of two. */
function bucketOf(us: number): number {
  if (us < SUB) return us
  const exponent = Math.min(MAX_EXPONENT, Math.floor(Math.log2(us)) - SUB_BITS + 1)
  const sub = Math.min(SUB - 1, Math.floor(us / 2 ** (exponent - 1)) - SUB)
  return exponent * SUB + sub
}

function upperBoundMs(index: number): number {
  const exponent = Math.floor(index / SUB)
  const sub = index % SUB
  if (exponent === 0) return sub / 1000
  return ((SUB + sub + 1) * 2 ** (exponent - 1)) / 1000
}
