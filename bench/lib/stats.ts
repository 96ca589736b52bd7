/**
 * Small statistics for the report: percentiles of a latency array and medians across runs.
 */

/** The p50, p99 and p99.9 of `values`, sorting once. */
export function latencySummary(values: Float64Array): { p50: number; p99: number; p999: number } {
  const sorted = Float64Array.from(values).sort()
  const at = (p: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!)
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) }
}

/** The median of the finite numbers in `values`; NaN when there are none. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (finite.length === 0) return Number.NaN
  const mid = finite.length >> 1
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2
}

/**
 * The median over runs of `ours[i] / reference[i]`: each ratio is taken within one run (same
 * process, same machine state), so a noisy run moves both figures of its ratio together.
 */
export function medianRatio(ours: readonly number[], reference: readonly number[]): number {
  if (ours.length !== reference.length) throw new RangeError(`medianRatio: ${ours.length} figures against ${reference.length} references`)
  return median(ours.map((x, i) => x / reference[i]!))
}
