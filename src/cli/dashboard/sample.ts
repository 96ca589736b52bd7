/**
 * What the live view plots: one `Sample` per stats snapshot, with rates taken between two
 * snapshots of `cache.stats()` (writes/s, reads/s, store rows/s, the hit ratio of that window) and
 * gauges as they are (backlog, oldest unflushed write, circuit, dead letters, log). Built the same
 * way for the simulator's child and for an app's own cache (mount.ts).
 */
import type { Durability } from '../../contracts/options.js'
import type { CacheStats } from '../../contracts/stats.js'

export interface Sample {
  /** `Date.now()` of the snapshot. */
  readonly t: number
  readonly writesPerSec: number
  readonly readsPerSec: number
  /** Hits per read in the window (undefined when there was no read). */
  readonly hitRatio: number | undefined
  /** Ack latency since open, per level that acknowledged writes. */
  readonly ack: Partial<Record<Durability, { readonly p50Ms: number; readonly p99Ms: number }>>
  readonly backlog: number
  /** `backlog.maxEntries` (null when unbounded). */
  readonly backlogCap: number | null
  readonly oldestMs: number
  /** `flush.maxDelayMs`: how late a dirty key may be flushed. */
  readonly maxDelayMs: number
  /** The staleness alert threshold (`alerts.maxStalenessMs`), null when off. */
  readonly stalenessMs: number | null
  /** The oldest unflushed write is past the staleness threshold. */
  readonly stale: boolean
  readonly rowsPerSec: number
  readonly coalescing: number
  readonly circuit: 'closed' | 'open'
  readonly deadLetters: number
  readonly logBytes: number | null
  readonly fsyncs: number | null
}

/** Limits the stats do not carry: the cache's own settings. */
export interface SampleLimits {
  readonly maxDelayMs: number
  readonly stalenessMs: number | undefined
}

/** Turns successive snapshots of one cache into samples; `reset()` when a new cache starts. */
export class Sampler {
  private last: { at: number; stats: CacheStats } | undefined

  reset(): void {
    this.last = undefined
  }

  next(stats: CacheStats, at: number, limits: SampleLimits): Sample {
    const previous = this.last
    this.last = { at, stats }
    const seconds = previous === undefined ? 0 : Math.max(1e-3, (at - previous.at) / 1000)
    const rate = (now: number, before: number | undefined): number => (previous === undefined ? 0 : Math.max(0, now - (before ?? 0)) / seconds)
    const hits = stats.reads.hits - (previous?.stats.reads.hits ?? 0)
    const reads = hits + stats.reads.misses - (previous?.stats.reads.misses ?? 0)
    const ack: Sample['ack'] = {}
    for (const level of Object.keys(stats.ack) as Durability[]) {
      const summary = stats.ack[level]
      if (summary.count > 0) ack[level] = { p50Ms: summary.p50Ms, p99Ms: summary.p99Ms }
    }
    return {
      t: at,
      writesPerSec: rate(stats.writes, previous?.stats.writes),
      readsPerSec: previous === undefined ? 0 : Math.max(0, reads) / seconds,
      hitRatio: previous === undefined || reads <= 0 ? undefined : hits / reads,
      ack,
      backlog: stats.backlog.entries,
      backlogCap: Number.isFinite(stats.backlog.maxEntries) ? stats.backlog.maxEntries : null,
      oldestMs: stats.backlog.oldestDirtyAgeMs,
      maxDelayMs: limits.maxDelayMs,
      stalenessMs: limits.stalenessMs ?? null,
      stale: limits.stalenessMs !== undefined && stats.backlog.oldestDirtyAgeMs > limits.stalenessMs,
      rowsPerSec: rate(stats.flush.ops, previous?.stats.flush.ops),
      coalescing: stats.coalescingRatio,
      circuit: stats.circuit,
      deadLetters: stats.deadLetters,
      logBytes: stats.log?.bytes ?? null,
      fsyncs: stats.log?.fsyncs ?? null,
    }
  }
}
