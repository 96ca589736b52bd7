/** Builds `cache.stats()` from what each owner reports; it reads, and changes nothing. */
import type { FlushCounts } from '../flush/flusher-hooks.js'
import type { CacheStats, LatencySummary } from '../contracts/stats.js'

/** The facade's own counters. */
export interface ReadCounts {
  readonly writes: number
  readonly hits: number
  readonly misses: number
}

export interface StatsSources {
  readonly reads: ReadCounts
  readonly acks: CacheStats['ack']
  readonly batches: { readonly duration: LatencySummary; readonly ops: LatencySummary }
  readonly loads: number
  readonly backlog: { readonly entries: number; readonly bytes: number; readonly highWaterEntries: number; readonly waiting: number; readonly maxEntries: number; readonly maxBytes: number }
  readonly oldestAgeMs: number
  readonly flush: Readonly<FlushCounts>
  readonly deadLettered: number
  readonly inFlightBatches: number
  readonly heldBatches: number
  readonly memory: CacheStats['memory']
  readonly circuit: CacheStats['circuit']
  readonly deadLetters: number
  readonly lastVersion: number
  readonly log: CacheStats['log']
}

export function buildStats(s: StatsSources): CacheStats {
  const { reads, flush } = s
  return {
    writes: reads.writes,
    reads: { hits: reads.hits, misses: reads.misses, loads: s.loads },
    backlog: {
      entries: s.backlog.entries,
      bytes: s.backlog.bytes,
      highWaterEntries: s.backlog.highWaterEntries,
      oldestDirtyAgeMs: s.oldestAgeMs,
      waitingWrites: s.backlog.waiting,
      maxEntries: s.backlog.maxEntries,
      maxBytes: s.backlog.maxBytes,
    },
    flush: {
      batches: flush.batches,
      ops: flush.ops,
      fenced: flush.fenced,
      failedBatches: flush.failedBatches,
      retries: flush.retries,
      deadLettered: s.deadLettered,
      superseded: flush.superseded,
      inFlightBatches: s.inFlightBatches,
      heldBatches: s.heldBatches,
      batchDuration: s.batches.duration,
      batchOps: s.batches.ops,
    },
    coalescingRatio: flush.ops === 0 ? 0 : reads.writes / flush.ops,
    memory: s.memory,
    circuit: s.circuit,
    deadLetters: s.deadLetters,
    lastVersion: s.lastVersion,
    ack: s.acks,
    log: s.log,
  }
}
