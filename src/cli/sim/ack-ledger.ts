/**
 * The parent's record of every write the child acknowledged: key index and sequence number, in the
 * order reported, with the wall time of each report. Checking it against the sequence number each
 * key holds in the store gives the exact loss: an acknowledged write is lost when its key's row
 * holds an older sequence number (a later write to the key that did land covers it, as the cache
 * promises: the latest value per key). Grows in chunks; about 12 bytes per write.
 */
import { writeFileSync } from 'node:fs'

/** What a check of the ledger against the store found. */
export interface LossCount {
  /** Acknowledged writes whose key's row holds an older sequence number, or no row. */
  readonly lost: number
  /** Distinct keys among them. */
  readonly lostKeys: number
  /** Acknowledged writes missing from the store whose key went to the dead-letter queue (not counted as lost). */
  readonly deadLettered: number
  /** `Date.now()` of the report holding the oldest lost write, or undefined when none was lost. */
  readonly oldestLostAt: number | undefined
}

export class AckLedger {
  private keys = new Uint32Array(1 << 16)
  private seqs = new Float64Array(1 << 16)
  /** Start index and time of each report. */
  private reportStarts: number[] = []
  private reportTimes: number[] = []
  private size = 0

  /** Writes recorded. */
  get count(): number {
    return this.size
  }

  add(keys: Uint32Array, seqs: Float64Array, at: number): void {
    if (keys.length === 0) return
    this.reserve(this.size + keys.length)
    this.keys.set(keys, this.size)
    this.seqs.set(seqs, this.size)
    this.reportStarts.push(this.size)
    this.reportTimes.push(at)
    this.size += keys.length
  }

  /**
   * Counts the acknowledged writes that `stored` (sequence number per key index, 0 = no row) does
   * not hold; those of keys in `deadLettered` are counted apart (they wait in the dead-letter queue).
   * `upTo` checks only the first writes recorded (a count taken earlier).
   */
  check(stored: Float64Array, deadLetteredKeys: ReadonlySet<number> = new Set(), upTo = this.size): LossCount {
    let lost = 0
    let deadLettered = 0
    let oldest = -1
    const keys = new Set<number>()
    for (let i = 0; i < Math.min(upTo, this.size); i++) {
      const key = this.keys[i] as number
      if ((this.seqs[i] as number) <= (stored[key] ?? 0)) continue
      if (deadLetteredKeys.has(key)) {
        deadLettered++
        continue
      }
      lost++
      keys.add(key)
      if (oldest < 0) oldest = i
    }
    return { lost, lostKeys: keys.size, deadLettered, oldestLostAt: oldest < 0 ? undefined : this.timeOf(oldest) }
  }

  /** Writes the ledger as `[key, seq]` pairs of float64 (little-endian), for an independent check. */
  save(path: string): void {
    const pairs = new Float64Array(this.size * 2)
    for (let i = 0; i < this.size; i++) {
      pairs[2 * i] = this.keys[i] as number
      pairs[2 * i + 1] = this.seqs[i] as number
    }
    writeFileSync(path, new Uint8Array(pairs.buffer))
  }

  private timeOf(index: number): number {
    let lo = 0
    let hi = this.reportStarts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if ((this.reportStarts[mid] as number) <= index) lo = mid
      else hi = mid - 1
    }
    return this.reportTimes[lo] as number
  }

  private reserve(needed: number): void {
    if (needed <= this.keys.length) return
    let capacity = this.keys.length
    while (capacity < needed) capacity *= 2
    const keys = new Uint32Array(capacity)
    keys.set(this.keys.subarray(0, this.size))
    const seqs = new Float64Array(capacity)
    seqs.set(this.seqs.subarray(0, this.size))
    this.keys = keys
    this.seqs = seqs
  }
}
