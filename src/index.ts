/**
 * writebehind: a write-behind cache for Node.js. Writes are acknowledged at the durability level
 * you choose and reach the store later, batched and coalesced, by a flush pipeline with a durable
 * dirty log, retries, dead letters, backpressure and version fencing.
 */
export { WriteBehindCache } from './core/write-behind-cache.js'
export { DEFAULTS } from './contracts/defaults.js'
export type { CacheStats, LatencySummary } from './contracts/stats.js'
export { CHANNELS } from './contracts/diagnostics.js'
export type { WriteMessage, WriteOp, StoreBatchContext, DeadLetterMessage, CircuitMessage, BacklogFullMessage, LogFsyncMessage, RecoveryMessage } from './contracts/diagnostics.js'
export type { CacheOptions, CacheTier, Durability, FlushOptions, BacklogOptions, MemoryOptions, RetryOptions, AlertOptions, WriteOptions } from './contracts/options.js'
export type { CacheEvents, LogTruncation, RecoveryReport, SupersededWrite } from './contracts/events.js'
export type { CloseReport, FlushCallOptions, FlushReport, ReplayReport } from './contracts/reports.js'
export type { DeadLetter, DeadLetterFilter, DeadLetterSelector, ErrorDescription } from './contracts/dead-letters.js'
export type { Store, StoreOp, StoreSetOp, StoreDeleteOp, BatchResult, OpFailure, SupersededOp, LoadedEntry } from './contracts/store.js'
export type { StoreMergeOp, MergeKind } from './contracts/store.js'
export type { Clock, TimerHandle } from './contracts/clock.js'
export { systemClock } from './contracts/clock.js'
export type { Codec } from './contracts/codec.js'
export { strictJson } from './core/json-codec.js'
export { MemoryStore, type MemoryStoreCounters } from './stores/memory-store.js'
export * from './errors.js'
