/**
 * The fixed-bucket histogram behind `stats().ack` and `stats().flush.batchDuration/batchOps`:
 * known values go in, and each quantile must lie within one bucket above the true one, never
 * above the max; whole-number bounds make small counts exact.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { COUNT_BOUNDS, Histogram, LATENCY_BOUNDS_MS, logBounds } from '../../src/diagnostics/histogram.js'
import { seededRandom } from '../helpers/seeded-random.js'

/** One bucket's width with four buckets per doubling. */
const FACTOR = 2 ** (1 / 4)

/** The true q-quantile of sorted values (the smallest value with at least q of them at or below it). */
function trueQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number
}

describe('Histogram', () => {
  it('is empty at first: zeros', () => {
    assert.deepEqual(new Histogram().summary(), { count: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 })
  })

  it('puts each quantile of a known distribution within one bucket above the true value', () => {
    const random = seededRandom(3)
    // Log-normal latencies around 2 ms, 0.05 ms to seconds: the shape of real acks.
    const values = Array.from({ length: 20_000 }, () => Math.exp(Math.log(2) + 1.5 * Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random())))
    const histogram = new Histogram(LATENCY_BOUNDS_MS)
    for (const v of values) histogram.record(v)
    const sorted = [...values].sort((a, b) => a - b)
    const summary = histogram.summary()
    assert.equal(summary.count, values.length)
    assert.equal(summary.maxMs, sorted.at(-1))
    for (const [q, reported] of [
      [0.5, summary.p50Ms],
      [0.95, summary.p95Ms],
      [0.99, summary.p99Ms],
    ] as const) {
      const truth = trueQuantile(sorted, q)
      assert.ok(reported >= truth, `p${q * 100} ${reported} >= the true ${truth}`)
      assert.ok(reported <= truth * FACTOR * (1 + 1e-9), `p${q * 100} ${reported} within one bucket of the true ${truth}`)
    }
    assert.ok(summary.p50Ms <= summary.p95Ms && summary.p95Ms <= summary.p99Ms && summary.p99Ms <= summary.maxMs)
  })

  it('is exact for small whole counts (ops per batch), and clamps the top quantiles to the max', () => {
    const histogram = new Histogram(COUNT_BOUNDS)
    for (let ops = 1; ops <= 8; ops++) histogram.record(ops)
    assert.equal(histogram.quantile(0.5), 4)
    assert.equal(histogram.quantile(0.25), 2)
    assert.equal(histogram.quantile(1), 8)
    histogram.record(500)
    const summary = histogram.summary()
    assert.equal(summary.maxMs, 500)
    assert.equal(summary.p99Ms, 500, 'the bucket holding 500 ends above it: clamped to the max seen')
  })

  it('counts a value on a bound in the bucket that bound closes', () => {
    for (const i of [0, 1, 40]) {
      const histogram = new Histogram(LATENCY_BOUNDS_MS)
      const bound = LATENCY_BOUNDS_MS[i] as number
      histogram.record(bound)
      histogram.record(bound * 10) // a larger one, so the max does not clamp the first
      assert.equal(histogram.quantile(0.5), bound, `bound ${i}`)
    }
  })

  it('records negative and NaN values as 0, and values past the last bound as the max', () => {
    const histogram = new Histogram(LATENCY_BOUNDS_MS)
    histogram.record(-5)
    histogram.record(Number.NaN)
    assert.deepEqual(histogram.summary(), { count: 2, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 })
    histogram.record(3_600_000)
    assert.equal(histogram.quantile(1), 3_600_000)
  })

  it('has log-spaced bounds: 0.01 ms to past 60 s, whole counts deduplicated', () => {
    assert.equal(LATENCY_BOUNDS_MS[0], 0.01)
    assert.ok((LATENCY_BOUNDS_MS.at(-1) as number) >= 60_000)
    for (let i = 1; i < LATENCY_BOUNDS_MS.length; i++) {
      assert.ok(Math.abs((LATENCY_BOUNDS_MS[i] as number) / (LATENCY_BOUNDS_MS[i - 1] as number) - FACTOR) < 1e-9)
    }
    assert.deepEqual([...COUNT_BOUNDS.slice(0, 8)], [1, 2, 3, 4, 5, 6, 7, 8])
    for (let i = 1; i < COUNT_BOUNDS.length; i++) assert.ok((COUNT_BOUNDS[i] as number) > (COUNT_BOUNDS[i - 1] as number))
    assert.deepEqual([...logBounds(1, 4, 1)], [1, 2, 4])
  })

  it('recordZero is record(0)', () => {
    const a = new Histogram()
    const b = new Histogram()
    for (const v of [0.5, 3, 0.002]) {
      a.record(v)
      b.record(v)
    }
    for (let i = 0; i < 7; i++) {
      a.record(0)
      b.recordZero()
    }
    assert.deepEqual(b.summary(), a.summary())
    assert.equal(b.count, 10)
    assert.equal(b.quantile(0.5), a.quantile(0.5))
    assert.equal(b.quantile(0.7), 0.01)
  })
})
