/**
 * What a metrics adapter reads from a cache, and how each scrape-time gauge of the instruments
 * table is read from one `cache.stats()` snapshot. `MeteredCache` is the structural subset of
 * `WriteBehindCache` the adapters call, so they depend on no class of the core.
 */
import type { RecoveryReport } from '../contracts/events.js'
import type { CacheStats } from '../contracts/stats.js'
import type { InstrumentId, INSTRUMENTS } from './instruments.js'

/** The part of a cache the adapters use: its `name` (the `cache` label), `stats()` and `recovery`. */
export interface MeteredCache {
  /** The cache's name (option `name`): the `cache` label of its series, and how its diagnostics messages are told apart. */
  readonly name: string
  /** Read at every scrape, once per gauge. */
  stats(): CacheStats
  /** What `open()` replayed (read once, at registration). */
  readonly recovery?: RecoveryReport | undefined
}

/** The ids of the gauges read from `stats()`. */
export type GaugeId = { [K in InstrumentId]: (typeof INSTRUMENTS)[K]['source'] extends 'stats' ? K : never }[InstrumentId]

/** The backlog caps (`stats().backlog.maxEntries`/`maxBytes`), absent from a cache that does not report them. */
interface BacklogCaps {
  readonly maxEntries?: number
  readonly maxBytes?: number
}

/** Each gauge's value in a stats snapshot, in the metric's unit; `undefined` when the cache has none (no log). */
export const GAUGE_READINGS: { readonly [G in GaugeId]: (stats: CacheStats) => number | undefined } = Object.freeze({
  backlogEntries: (s: CacheStats) => s.backlog.entries,
  backlogBytes: (s: CacheStats) => s.backlog.bytes,
  backlogMaxEntries: (s: CacheStats) => (s.backlog as BacklogCaps).maxEntries,
  backlogMaxBytes: (s: CacheStats) => (s.backlog as BacklogCaps).maxBytes,
  oldestAge: (s: CacheStats) => s.backlog.oldestDirtyAgeMs / 1000,
  waitingWrites: (s: CacheStats) => s.backlog.waitingWrites,
  circuitOpen: (s: CacheStats) => (s.circuit === 'open' ? 1 : 0),
  deadLetters: (s: CacheStats) => s.deadLetters,
  logBytes: (s: CacheStats) => s.log?.bytes,
  logSegments: (s: CacheStats) => s.log?.segments,
})
