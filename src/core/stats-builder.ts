/** Builds `cache.stats()` from the engine's parts and counters. */
import type { CacheParts } from './cache-parts.js'
import type { CacheStats } from '../contracts/stats.js'

export interface Counters {
  writes: number
  hits: number
  misses: number
  batches: number
  ops: number
  fenced: number
  failedBatches: number
  deadLettered: number
  superseded: number
  highWaterEntries: number
}

export function buildStats(parts: CacheParts): CacheStats {
  const c = parts.counters
  const entries = parts.backlogEntries()
  c.highWaterEntries = Math.max(c.highWaterEntries, entries)
  return {
    writes: c.writes,
    reads: { hits: c.hits, misses: c.misses, loads: parts.reader.loads },
    backlog: {
      entries,
      bytes: parts.backlogBytes(),
      highWaterEntries: c.highWaterEntries,
      oldestDirtyAgeMs: parts.scheduler.oldestAge(),
      waitingWrites: parts.admission.waiting,
    },
    flush: {
      batches: c.batches,
      ops: c.ops,
      fenced: c.fenced,
      failedBatches: c.failedBatches,
      retries: parts.flusher.retries,
      deadLettered: c.deadLettered,
      superseded: c.superseded,
      inFlightBatches: parts.flusher.flightCount,
      heldBatches: parts.flusher.heldFlights,
    },
    coalescingRatio: c.ops === 0 ? 0 : c.writes / c.ops,
    memory: { entries: parts.memory.size, bytes: parts.memory.bytes, evictions: parts.memory.evictions },
    circuit: parts.circuit.state,
    deadLetters: parts.dlq.size,
    lastVersion: parts.versions.current,
    log: logStats(parts),
  }
}

function logStats(parts: CacheParts): CacheStats['log'] {
  if (parts.log === undefined) return undefined
  const { segments, bytes, writes, fsyncs } = parts.log.stats()
  return { segments, bytes, writes, fsyncs }
}
