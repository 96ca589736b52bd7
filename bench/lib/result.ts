import type { Arrival } from '../driver.js'

/**
 * What one measured run (one system, one workload, one repetition) reports back to the harness.
 */
export interface RunResult {
  readonly system: string
  readonly workload: string
  readonly run: number
  /** Set when the run could not complete (setup failed, drain timed out, crash). */
  readonly error?: string
  readonly acked: number
  readonly failed: number
  /** Distinct keys written: the fewest rows any system could have written. */
  readonly keys: number
  readonly loadMs: number
  /** Acknowledged writes per second of load. */
  readonly writesPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
  /** Counted at the system's own pool. */
  readonly dbStatements: number
  readonly dbRows: number
  /** `n_tup_ins + n_tup_upd` growth of the system's table over the run, from PostgreSQL. */
  readonly pgStatRows: number
  /** Writes acknowledged per row written (dbRows, or pgStatRows when the pool saw none). */
  readonly coalescing: number
  /** From the end of the load until the database had every acknowledged write. */
  readonly drainMs: number
  readonly peakRssMb: number
  readonly correct: boolean
  readonly verifyNote: string
}

/** One measurement, as bench/run.ts hands it to bench/run-one.ts. */
export interface Job {
  system: string
  workload: string
  run: number
  durationMs: number
  writers: number
  maxWrites: number
  drainTimeoutMs: number
  /** How a writer's next write arrives: see `Arrival` in bench/driver.ts. Absent: 'immediate'. */
  arrival?: Arrival
  out: string
}
