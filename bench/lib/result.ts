import type { Arrival } from '../driver.js'
import type { CpuWindow } from './cpu.js'

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
  /** What the system still had to flush when the load ended (`BenchSystem.backlog`); NaN when it does not say. */
  readonly backlogAtEnd?: number
  readonly peakRssMb: number
  /** CPU spent over the load (first write to last acknowledgement) and over the drain (bench/lib/cpu.ts); absent in results from before it was measured. */
  readonly cpu?: { readonly load: CpuWindow; readonly drain?: CpuWindow }
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
  /** Run the Redis peers (redis-handrolled, bullmq) on a Redis of the measurement's own, configured like the tier's (bench/lib/own-redis.ts), instead of WB_REDIS_URL. */
  ownRedis?: boolean
  out: string
}

/** The result of a run that could not complete: its error, every figure NaN, not correct. */
export function failedRun(job: Pick<Job, 'system' | 'workload' | 'run'>, error: unknown): RunResult {
  const message = error instanceof Error ? error.message : String(error)
  const nan = Number.NaN
  return {
    system: job.system,
    workload: job.workload,
    run: job.run,
    error: message,
    acked: 0,
    failed: 0,
    keys: nan,
    loadMs: nan,
    writesPerSec: nan,
    p50Ms: nan,
    p99Ms: nan,
    p999Ms: nan,
    dbStatements: nan,
    dbRows: nan,
    pgStatRows: nan,
    coalescing: nan,
    drainMs: nan,
    peakRssMb: nan,
    correct: false,
    verifyNote: message,
  }
}
