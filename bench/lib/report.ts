/**
 * Turns the runs into bench/RESULTS.md: per workload, the median of each figure over the runs,
 * with ratios to direct-1 taken within each run (same minute, same machine state) and then
 * medianed; the project's targets checked against them; every raw run at the end.
 */
import { cpuCell, cpuSummary, type CpuSummary } from './cpu-report.js'
import type { Machine } from './machine.js'
import type { RunResult } from './result.js'
import { redisSection } from './redis-report.js'
import { median } from './stats.js'

export interface ReportContext {
  readonly command: string
  readonly date: string
  readonly machine: Machine
  readonly settings: string
  readonly workloads: readonly { name: string; description: string }[]
  readonly systems: readonly string[]
  readonly baseline: string
}

/** The medians of one system on one workload. */
export interface Summary {
  system: string
  runs: number
  errors: string[]
  writesPerSec: number
  /** The lowest and highest writes/s over the runs: how noisy the machine was. */
  writesPerSecRange: [number, number]
  /** Median over runs of (this system's writes/s ÷ baseline's in the same run). */
  speedup: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  /** Median over runs of (baseline p99 ÷ this system's p99). */
  p99Gain: number
  dbStatements: number
  dbRows: number
  pgStatRows: number
  coalescing: number
  /** Median over runs of acked ÷ distinct keys: the writes/row of perfect coalescing. */
  bestCoalescing: number
  drainMs: number
  peakRssMb: number
  /** CPU µs per acknowledged write over the load (Node / Redis / PostgreSQL) and the machine's busy cores; undefined when not measured. */
  cpu: CpuSummary | undefined
  correct: boolean
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—')
const ms = (n: number): string => (!Number.isFinite(n) ? '—' : n < 1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n.toFixed(1))
const times = (n: number): string => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : fmt(n)}×` : '—')

/** Summarises `runs` of one workload, system by system. */
export function summarise(runs: readonly RunResult[], systems: readonly string[], baseline: string): Summary[] {
  return systems.flatMap((system) => {
    const mine = runs.filter((r) => r.system === system)
    if (mine.length === 0) return []
    const ok = mine.filter((r) => r.error === undefined)
    const m = (pick: (r: RunResult) => number): number => median(ok.map(pick))
    const vsBase = (r: RunResult, f: (mine: RunResult, base: RunResult) => number): number => {
      const base = runs.find((b) => b.system === baseline && b.run === r.run && b.error === undefined)
      return base === undefined ? Number.NaN : f(r, base)
    }
    return [
      {
        system,
        runs: mine.length,
        errors: mine.flatMap((r) => (r.error === undefined ? [] : [r.error])),
        writesPerSec: m((r) => r.writesPerSec),
        writesPerSecRange: [Math.min(...ok.map((r) => r.writesPerSec)), Math.max(...ok.map((r) => r.writesPerSec))],
        speedup: median(ok.map((r) => vsBase(r, (a, b) => a.writesPerSec / b.writesPerSec))),
        p50Ms: m((r) => r.p50Ms),
        p99Ms: m((r) => r.p99Ms),
        p999Ms: m((r) => r.p999Ms),
        p99Gain: median(ok.map((r) => vsBase(r, (a, b) => b.p99Ms / a.p99Ms))),
        dbStatements: m((r) => r.dbStatements),
        dbRows: m((r) => r.dbRows),
        pgStatRows: m((r) => r.pgStatRows),
        coalescing: m((r) => r.coalescing),
        bestCoalescing: m((r) => r.acked / r.keys),
        drainMs: m((r) => r.drainMs),
        peakRssMb: m((r) => r.peakRssMb),
        cpu: cpuSummary(ok),
        correct: ok.length === mine.length && mine.every((r) => r.correct),
      },
    ]
  })
}

const gain = (n: number): string => (!Number.isFinite(n) ? '—' : n < 1 ? `${times(1 / n)} higher` : `${times(n)} lower`)

const TABLE_HEAD = (baseline: string): string =>
  `| system | writes/s | (min–max) | vs ${baseline} | p50 ms | p99 ms | p99.9 ms | p99 vs ${baseline} | DB statements | DB rows | pg_stat rows | writes/row (best possible) | drain s | peak RSS MB | CPU µs/write: Node / Redis / PG (busy cores) | final state |\n` +
  '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n'

function row(s: Summary): string {
  const state = s.errors.length > 0 ? `ERROR: ${s.errors[0]}` : s.correct ? 'ok' : '**MISMATCH**'
  const cells = [
    s.system,
    fmt(s.writesPerSec),
    `${fmt(s.writesPerSecRange[0])}–${fmt(s.writesPerSecRange[1])}`,
    times(s.speedup),
    ms(s.p50Ms),
    ms(s.p99Ms),
    ms(s.p999Ms),
    gain(s.p99Gain),
    fmt(s.dbStatements),
    fmt(s.dbRows),
    `${fmt(s.pgStatRows)}${s.pgStatRows === s.dbRows ? '' : ' ≠'}`,
    `${fmt(s.coalescing, 2)} (${fmt(s.bestCoalescing, 2)})`,
    fmt(s.drainMs / 1000, 2),
    fmt(s.peakRssMb),
    cpuCell(s.cpu),
    state,
  ]
  return `| ${cells.join(' | ')} |`
}

function table(summaries: readonly Summary[], baseline: string): string {
  return TABLE_HEAD(baseline) + summaries.map(row).join('\n')
}

/** The project's targets, checked against the summaries (only those whose systems ran). */
export function targets(byWorkload: ReadonlyMap<string, Summary[]>): string[] {
  const lines: string[] = []
  const verdict = (ok: boolean): string => (ok ? 'met' : '**not met**')
  for (const [workload, summaries] of byWorkload) {
    const get = (name: string): Summary | undefined => summaries.find((s) => s.system === name)
    const log = get('writebehind-log')
    if (log === undefined) continue
    if (get('direct-1') !== undefined) {
      lines.push(`- ${workload}: writebehind-log throughput ${times(log.speedup)} direct-1 (target ≥ 100×): ${verdict(log.speedup >= 100)}${ceilingNote(workload, get('pg-ceiling'), log)}`)
      lines.push(`- ${workload}: writebehind-log p99 ${times(log.p99Gain)} lower than direct-1 (target ≥ 50×): ${verdict(log.p99Gain >= 50)}`)
    }
    const bull = get('bullmq')
    if (bull !== undefined) {
      const ratio = log.writesPerSec / bull.writesPerSec
      lines.push(`- ${workload}: writebehind-log throughput ${times(ratio)} bullmq (target ≥ 10×, ratio of medians): ${verdict(ratio >= 10)}`)
    }
    if (workload === 'zipf') {
      const saved = 1 - 1 / log.coalescing
      const best = 1 - 1 / log.bestCoalescing
      lines.push(
        `- zipf: writebehind-log wrote ${fmt(100 * saved, 1)}% fewer DB rows than writes acknowledged (target ≥ 97%): ${verdict(saved >= 0.97)}; one row per distinct key written, the best any system could do in this run, would be ${fmt(100 * best, 1)}% fewer`,
      )
      lines.push(`- zipf: writebehind-log final state equals the last acknowledged values in every run: ${verdict(log.correct)}`)
    }
  }
  return lines
}

/**
 * On workloads with little to coalesce, what PostgreSQL itself absorbed in this run (the
 * pg-ceiling probe) bounds any system that writes a row per write, however it batches.
 */
function ceilingNote(workload: string, ceiling: Summary | undefined, log: Summary): string {
  if (ceiling === undefined || workload === 'zipf' || !Number.isFinite(ceiling.speedup)) return ''
  const share = log.writesPerSec / ceiling.writesPerSec
  return `; PostgreSQL's own ceiling in this run (pg-ceiling: fenced 500-row upserts back to back, no cache) was ${fmt(ceiling.writesPerSec)} rows/s, ${times(ceiling.speedup)} direct-1, so with one row per write no system can sustain 100× here; writebehind-log ran at ${fmt(100 * share)}% of that ceiling`
}

function rawRuns(runs: readonly RunResult[]): string {
  return runs
    .map(
      (r) =>
        `| ${r.workload} | ${r.system} | ${r.run} | ${fmt(r.acked)} | ${fmt(r.writesPerSec)} | ${ms(r.p99Ms)} | ${fmt(r.dbRows)} | ${fmt(r.pgStatRows)} | ${fmt(r.drainMs / 1000, 2)} | ${r.error ?? r.verifyNote} |`,
    )
    .join('\n')
}

/** The whole RESULTS.md. */
export function renderReport(ctx: ReportContext, runs: readonly RunResult[]): string {
  const byWorkload = new Map(
    ctx.workloads.map((w) => [
      w.name,
      summarise(
        runs.filter((r) => r.workload === w.name),
        ctx.systems,
        ctx.baseline,
      ),
    ]),
  )
  const m = ctx.machine
  const sections = ctx.workloads.map((w) => `### ${w.name}\n\n${w.description}.\n\n${table(byWorkload.get(w.name) ?? [], ctx.baseline)}\n`)
  const goals = targets(byWorkload)
  return `# Benchmark results

Generated by \`bench/run.ts\` on ${ctx.date}. Reproduce with:

\`\`\`
${ctx.command}
\`\`\`

**Machine:** ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB RAM, ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres} (default settings, loopback);
Redis ${m.redis}; BullMQ ${m.bullmq}. PostgreSQL, Redis and the benchmark share the machine.

**Settings:** ${ctx.settings}

Figures are medians over the runs. "vs ${ctx.baseline}" ratios are taken within each run (against ${ctx.baseline} measured
in the same invocation, minutes apart, on the same machine) and then medianed. Latency is the acknowledgement latency seen by a writer.
"DB rows" is counted at each system's own pool (rowCount of its writes); "pg_stat rows" is PostgreSQL's own
\`n_tup_ins + n_tup_upd\` for the system's table over the run (marked ≠ when the two counts differ). "writes/row" is writes acknowledged per row written
(coalescing); in brackets, writes acknowledged ÷ distinct keys written, the best any system could do. "drain" is how long after the load stopped the database had every acknowledged write.
"CPU µs/write" is CPU time over the load ÷ writes acknowledged (pg-ceiling: ÷ rows committed), from /proc: the measuring Node process with its app processes, the Redis server(s) it started
(— when it started none) and the PostgreSQL backends of their connections; in brackets the machine's busy cores over the load, whatever ran them, and how many of them
those processes kept busy (the rest was other work). See bench/README.md
for the method and its caveats; these numbers are not comparable across machines.

## Results

${sections.join('\n')}
## Targets

${goals.length > 0 ? goals.join('\n') : 'No target of writebehind-log could be checked: it did not run.'}

${redisSection(
  runs,
  ctx.workloads.map((w) => w.name),
)}
## Every run

| workload | system | run | acked | writes/s | p99 ms | DB rows | pg_stat rows | drain s | check |
|---|---|--:|--:|--:|--:|--:|--:|--:|---|
${rawRuns(runs)}
`
}
