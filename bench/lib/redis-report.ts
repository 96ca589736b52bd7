/**
 * The Redis tier's section of a results file (bench/RESULTS-redis.md): each tier system beside the
 * redis-script-limit probe (the tier's write script alone), the two Redis peers and the pg-ceiling
 * probe. Every ratio is taken within one run (same invocation, minutes apart) and then medianed. A
 * system with N app processes (`-4`) is also read against the probe and the peers run with as many
 * processes (`redis-script-limit-4`, `redis-handrolled-4`, `bullmq-4`), when they ran.
 */
import { cpuSection } from './cpu-report.js'
import type { RunResult } from './result.js'
import { median } from './stats.js'

export const LIMIT = 'redis-script-limit'
/** The tier at `memory` with flushing held during the load: its drain is the flush of the whole backlog. */
export const FLUSH = 'writebehind-redis-memory-flush'
const MEMORY = 'writebehind-redis-memory'
const TIER_SYSTEMS = [MEMORY, 'writebehind-redis-memory-4', 'writebehind-redis-replicated', 'writebehind-redis-replicated-4', FLUSH]

/** The figures of one tier system on one workload, each the median over runs of a within-run ratio. */
export interface TierRatios {
  system: string
  writesPerSec: number
  p99Ms: number
  /** Keys still dirty when the load ended, and the drain's time after it (s): whether the flusher kept up. */
  backlogAtEnd: number
  drainS: number
  /** writes/s ÷ redis-script-limit's (target ≥ 0.8). */
  vsLimit: number
  /** p99 ÷ redis-script-limit's p99 (target ≤ 1.5). */
  p99VsLimit: number
  vsHandrolled: number
  vsBullmq: number
  /** replicated ÷ memory with as many app processes (target ≥ 0.5); NaN for memory. */
  vsMemory: number
  /** With N app processes: against `redis-script-limit-N`, `redis-handrolled-N` and `bullmq-N` (NaN when 1 process or not run). */
  vsLimitSame: number
  p99VsLimitSame: number
  vsHandrolledSame: number
  vsBullmqSame: number
  /** FLUSH only: rows committed ÷ drain time (the flush of the backlog), ÷ pg-ceiling's rows/s (target ≥ 0.8). */
  flushVsCeiling: number
}

/** The ratios of every tier system that ran on `workload`. */
export function tierRatios(runs: readonly RunResult[], workload: string): TierRatios[] {
  const ok = runs.filter((r) => r.workload === workload && r.error === undefined)
  const ratio = (system: string, other: string, f: (a: RunResult, b: RunResult) => number): number =>
    median(
      ok
        .filter((r) => r.system === system)
        .map((r) => {
          const b = ok.find((x) => x.system === other && x.run === r.run)
          return b === undefined ? Number.NaN : f(r, b)
        }),
    )
  return TIER_SYSTEMS.filter((system) => ok.some((r) => r.system === system)).map((system) => {
    const mine = ok.filter((r) => r.system === system)
    const rate = (a: RunResult, b: RunResult): number => a.writesPerSec / b.writesPerSec
    const n = /-(\d+)$/.exec(system)?.[1]
    const same = (other: string, f: (a: RunResult, b: RunResult) => number): number => (n === undefined ? Number.NaN : ratio(system, `${other}-${n}`, f))
    return {
      system,
      writesPerSec: median(mine.map((r) => r.writesPerSec)),
      p99Ms: median(mine.map((r) => r.p99Ms)),
      backlogAtEnd: median(mine.map((r) => r.backlogAtEnd ?? Number.NaN)),
      drainS: median(mine.map((r) => r.drainMs / 1000)),
      vsLimit: ratio(system, LIMIT, rate),
      p99VsLimit: ratio(system, LIMIT, (a, b) => a.p99Ms / b.p99Ms),
      vsHandrolled: ratio(system, 'redis-handrolled', rate),
      vsBullmq: ratio(system, 'bullmq', rate),
      vsLimitSame: same(LIMIT, rate),
      p99VsLimitSame: same(LIMIT, (a, b) => a.p99Ms / b.p99Ms),
      vsHandrolledSame: same('redis-handrolled', rate),
      vsBullmqSame: same('bullmq', rate),
      vsMemory: system.includes('replicated') ? ratio(system, system.replace('replicated', 'memory'), rate) : Number.NaN,
      flushVsCeiling: system === FLUSH ? ratio(system, 'pg-ceiling', (a, b) => a.dbRows / (a.drainMs / 1000) / b.writesPerSec) : Number.NaN,
    }
  })
}

const x = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—')
const verdict = (n: number, ok: (n: number) => boolean): string => (!Number.isFinite(n) ? 'not measured' : ok(n) ? 'met' : '**not met**')

/** A table and the targets' verdicts for each workload; empty when no tier system ran. */
export function redisSection(runs: readonly RunResult[], workloads: readonly string[]): string {
  const parts = workloads.flatMap((workload) => {
    const rows = tierRatios(runs, workload)
    if (rows.length === 0) return []
    const table = rows.map((r) =>
      [
        r.system,
        Math.round(r.writesPerSec).toLocaleString('en-US'),
        x(r.vsLimit),
        r.p99Ms.toFixed(2),
        x(r.p99VsLimit),
        Number.isFinite(r.backlogAtEnd) ? Math.round(r.backlogAtEnd).toLocaleString('en-US') : '—',
        x(r.drainS),
        x(r.vsHandrolled),
        x(r.vsBullmq),
        Number.isFinite(r.vsLimitSame) ? `${x(r.vsLimitSame)} (${x(r.p99VsLimitSame)}×)` : '—',
        Number.isFinite(r.vsHandrolledSame) || Number.isFinite(r.vsBullmqSame) ? `${x(r.vsHandrolledSame)} / ${x(r.vsBullmqSame)}` : '—',
        x(r.vsMemory),
        x(r.flushVsCeiling),
      ].join(' | '),
    )
    const lines = rows.flatMap((r) =>
      r.system === FLUSH
        ? [`- ${r.system}: the flush of the backlog ran at ${x(r.flushVsCeiling)} of pg-ceiling's rows/s (target ≥ 0.8): ${verdict(r.flushVsCeiling, (n) => n >= 0.8)}`]
        : [
            `- ${r.system}: writes/s ${x(r.vsLimit)} of the script limit (target ≥ 0.8): ${verdict(r.vsLimit, (n) => n >= 0.8)}; ack p99 ${x(r.p99VsLimit)}× the limit's (target ≤ 1.5): ${verdict(r.p99VsLimit, (n) => n <= 1.5)}`,
            ...(Number.isFinite(r.vsLimitSame)
              ? [
                  `- ${r.system}: writes/s ${x(r.vsLimitSame)} of the script limit with as many processes (target ≥ 0.8): ${verdict(r.vsLimitSame, (n) => n >= 0.8)}; ack p99 ${x(r.p99VsLimitSame)}× its p99 (target ≤ 1.5): ${verdict(r.p99VsLimitSame, (n) => n <= 1.5)}`,
                ]
              : []),
            ...(r.system.includes('memory')
              ? [`- ${r.system}: ahead of redis-handrolled (${x(r.vsHandrolled)}×) and bullmq (${x(r.vsBullmq)}×): ${verdict(Math.min(r.vsHandrolled, r.vsBullmq), (n) => n > 1)}`]
              : []),
            ...(r.system.includes('memory') && (Number.isFinite(r.vsHandrolledSame) || Number.isFinite(r.vsBullmqSame))
              ? [
                  `- ${r.system}: ahead of the peers with as many processes, redis-handrolled (${x(r.vsHandrolledSame)}×) and bullmq (${x(r.vsBullmqSame)}×): ${verdict(Math.min(r.vsHandrolledSame, r.vsBullmqSame), (n) => n > 1)}`,
                ]
              : []),
            ...(r.system.includes('replicated') ? [`- ${r.system}: ${x(r.vsMemory)} of memory with as many processes (target ≥ 0.5): ${verdict(r.vsMemory, (n) => n >= 0.5)}`] : []),
          ],
    )
    const here = runs.filter((r) => r.workload === workload)
    const cpu = cpuSection(here, [...new Set(here.map((r) => r.system))], { memory: MEMORY, limit: LIMIT, flush: FLUSH, ceiling: 'pg-ceiling' })
    return [
      `### ${workload}\n\n| system | writes/s | ÷ script limit | ack p99 ms | p99 ÷ limit's | backlog at the end | drain s | ÷ redis-handrolled | ÷ bullmq | ÷ limit with as many processes (p99 ÷) | ÷ handrolled / bullmq with as many processes | ÷ memory | flush rows/s ÷ pg-ceiling |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n| ${table.join(' |\n| ')} |\n\n${lines.join('\n')}\n${cpu === '' ? '' : `\n${cpu}`}`,
    ]
  })
  return parts.length === 0
    ? ''
    : `## Redis tier\n\nRatios taken within each run, then medianed. "flush rows/s" is measured on \`${FLUSH}\` only (nothing flushed during its load; rows committed ÷ the drain's time), since a flusher that keeps up writes no faster than the writes arrive. "with as many processes": a \`-N\` system against \`redis-script-limit-N\`, \`redis-handrolled-N\` and \`bullmq-N\`, the same shape (N app processes, W/N writers each). "backlog at the end": keys still dirty in the tier when the load ended; "drain s": from then until PostgreSQL had every acknowledged write.\n\n${parts.join('\n')}`
}
