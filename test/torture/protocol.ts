/**
 * The wire between the fault harness (harness.ts) and its app processes (app.ts), over the fork IPC
 * channel. An app process reports every write it made, after the write settled: acknowledged
 * (with the version the tier gave it), not confirmed (`ReplicationNotConfirmedError`: applied, its
 * replicas did not answer), or failed (any other error: not acknowledged). What a SIGKILL keeps
 * from being sent was never recorded, and the checker counts only what was recorded.
 */
import type { Durability } from '../../src/contracts/options.js'

/** Which tier the app processes run on. */
export type TortureTier = 'embedded' | 'redis' | 'redis-cluster'

export interface AppConfig {
  readonly tier: TortureTier
  /** `writer` writes (and flushes, like every cache); `flusher` only flushes. */
  readonly role: 'writer' | 'flusher'
  /** The process's number, stable across its restarts. */
  readonly id: number
  /** How many times it was started before (0 the first time): part of every value it writes. */
  readonly incarnation: number
  /** Redis tier: the primary's address (a proxy that a failover moves) and the cache's name and shards. */
  readonly redisUrl: string | undefined
  readonly name: string
  readonly shards: number
  /** Redis Cluster: its nodes. */
  readonly clusterNodes: ReadonlyArray<{ readonly host: string; readonly port: number }> | undefined
  /** Embedded tier: this process's log dir (kept across its restarts). */
  readonly dir: string | undefined
  readonly pgUrl: string
  readonly table: string
  readonly levels: readonly Durability[]
  /**
   * Keys per level at a time, shared by every writer: the set moves on every `windowMs` (from
   * `epoch`, the run's start), so a key is written for a while and then never again, and a lost
   * write of it stays visible at the end instead of being hidden by a later one.
   */
  readonly keys: number
  readonly windowMs: number
  readonly epoch: number
  /**
   * Writer apps in the run. On the embedded tier each writes keys of its own (an embedded cache is
   * the only writer of its keys: two would issue the same versions); on Redis they share them.
   */
  readonly writers: number
  /** Writes per second this process aims at, and how many at once. */
  readonly rate: number
  readonly concurrency: number
  /** The caches' `flush.intervalMs`: how long a write waits in the tier before its batch. */
  readonly flushMs: number
  readonly seed: number
}

/** How a write ended, as the app saw it. */
export type Outcome = 'ok' | 'not-confirmed' | 'failed'

export interface WriteRecord {
  readonly level: Durability
  /** Key index within the level's key set. */
  readonly key: number
  /** The version the tier gave it (0 when it failed before one was known). */
  readonly version: number
  /** `<app>.<incarnation>.<seq>`, unique per write; null for a delete. */
  readonly value: string | null
  readonly outcome: Outcome
  /** The error's code when it failed. */
  readonly code?: string
  /** It was still pending long after the app was asked to stop, and settled only when its cache was closed. */
  readonly hung?: boolean
}

export type AppMessage =
  | { readonly type: 'ready' }
  | ({ readonly type: 'write' } & WriteRecord)
  /** Embedded tier: the newest segment's length at the last fsync (what a power cut keeps). */
  | { readonly type: 'fsynced'; readonly segment: string; readonly bytes: number }
  | { readonly type: 'closed'; readonly drained: boolean; readonly unflushed: number }
  | { readonly type: 'failed'; readonly message: string }

/** The harness asks an app to stop writing, drain and close. */
export type HarnessMessage = { readonly type: 'stop' }

/** The store key of key `index` of `level`. */
export function tortureKey(level: Durability, index: number): string {
  return `${level}:${index}`
}

/** The level and index of a store key, or undefined when it is not a harness key. */
export function parseTortureKey(key: string): { level: Durability; index: number } | undefined {
  const match = /^(memory|log|disk|replicated|store):(\d+)$/.exec(key)
  return match === null ? undefined : { level: match[1] as Durability, index: Number(match[2]) }
}
