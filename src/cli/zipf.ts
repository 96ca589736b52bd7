/**
 * A seeded Zipf sampler for the demo: rank k (0-based) is drawn with probability proportional to
 * 1 / (k + 1)^s. The cumulative table is computed once, so a draw is one random number and a
 * binary search (O(log n)), cheap enough to sit in a hot write loop.
 */
import { seededRandom } from '../testing/seeded-random.js'
import { checkNumber } from '../validate/check.js'

export { seededRandom }

export class ZipfSampler {
  private readonly cdf: Float64Array
  private readonly random: () => number

  /**
   * @param n number of ranks (a positive integer)
   * @param exponent the skew `s` (0 = uniform; ~1 = typical web popularity)
   * @param seed PRNG seed
   */
  constructor(n: number, exponent: number, seed: number) {
    checkNumber(n, 'n', { min: 1, integer: true, required: true })
    checkNumber(exponent, 'exponent', { min: 0, finite: true, required: true })
    this.cdf = new Float64Array(n)
    let total = 0
    for (let k = 0; k < n; k++) {
      total += 1 / Math.pow(k + 1, exponent)
      this.cdf[k] = total
    }
    for (let k = 0; k < n; k++) this.cdf[k] = (this.cdf[k] as number) / total
    this.random = seededRandom(seed)
  }

  /** How many ranks there are. */
  get size(): number {
    return this.cdf.length
  }

  /** Draws a rank in [0, n): the first whose cumulative probability exceeds a uniform draw. */
  next(): number {
    const u = this.random()
    const cdf = this.cdf
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}
