/**
 * The one interface every benchmarked system implements, so the driver treats a plain upsert,
 * a job queue and writebehind alike. A system owns its connections, its table and its Redis
 * keys; the harness creates it, runs one load through it, and throws it away.
 */
import type { LoadOptions, LoadResult } from '../driver.js'
import type { WriteCounters } from '../lib/pg.js'
import type { Workload } from '../workloads.js'

/** Where a system's rows end up, so the harness can read them back and check them. */
export interface TableInfo {
  readonly table: string
  readonly keyColumn: string
  readonly valueColumn: string
  /** A column that marks tombstones, if the table keeps them; such rows count as absent. */
  readonly deletedColumn?: string
}

/** A value as the driver writes it: `seq` is unique per write and grows with issue order. */
export interface BenchValue {
  readonly seq: number
  readonly score: number
}

export interface BenchSystem {
  /** Name used on the command line and in the results, such as `direct-1`. */
  readonly name: string
  /**
   * A counter system: each write adds 1 to its key (the value written is ignored), so the final
   * state of a key is the number of its acknowledged writes, and that is what the check compares.
   */
  readonly counter?: boolean
  /** Connects, creates and empties its table, clears its Redis keys. Called once, first. */
  setup(): Promise<TableInfo>
  /**
   * Writes one value and resolves when the system acknowledges it (what an application's
   * request would wait for). Called by many writers concurrently, never after `drain()`.
   */
  write(key: string, value: BenchValue): Promise<void>
  /**
   * A system whose writers run in other processes (several app processes on one shared cache):
   * the harness calls this instead of driving `write()` itself, and gets their merged load back.
   */
  readonly runLoad?: (workload: Workload, options: LoadOptions) => Promise<LoadResult>
  /**
   * Acknowledged writes not yet handed to PostgreSQL, read right after the load (dirty keys, queued
   * jobs or list entries): with the drain's time, whether the flushing kept up. Optional.
   */
  backlog?(): Promise<number>
  /** Resolves once every acknowledged write is committed in PostgreSQL. Called once, after the load. */
  drain(): Promise<void>
  /** Statements and rows this system sent to PostgreSQL so far, counted at its pool. */
  dbStats(): WriteCounters
  /** Releases connections, timers, temp files and Redis keys. Called once, last, even after a failure. */
  teardown(): Promise<void>
}

/** Builds a fresh, not yet set-up system for one run. */
export type SystemFactory = () => BenchSystem
