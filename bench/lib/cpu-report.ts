/**
 * Where each system's CPU went, for the results file: per acknowledged write over the load, the
 * µs spent by the measuring Node process and its app processes, by the Redis server(s) it started
 * and by the PostgreSQL cluster, and the machine's busy cores (bench/lib/cpu.ts). And what those
 * costs allow (bench/lib/cpu-bound.ts): for the tier's `memory` system against the script limit's
 * writes/s, and for the held flush's drain against pg-ceiling's rows/s, each within one run.
 */
import { cpuBound, ownCores, perItem, type CpuBound, type CpuPerItem } from './cpu-bound.js'
import type { CpuWindow } from './cpu.js'
import type { RunResult } from './result.js'
import { median } from './stats.js'

/** The systems the bound lines read: the tier at `memory` against the script limit, the held flush against pg-ceiling. */
export interface BoundNames {
  readonly memory: string
  readonly limit: string
  readonly flush: string
  readonly ceiling: string
}

/** Medians over runs of a system's CPU per acknowledged write over its load, and of the machine's busy cores. */
export interface CpuSummary extends CpuPerItem {
  /** The whole PostgreSQL cluster's µs per write: its background processes and every client's backends, other work included. */
  readonly pgClusterUs: number
  readonly busyCores: number
  /** Of those, the cores the measured processes kept busy (`ownCores` over the load). */
  readonly ownCores: number
  readonly cores: number
}

/** The medians over the runs that measured CPU; undefined when none did. */
export function cpuSummary(runs: readonly RunResult[]): CpuSummary | undefined {
  const measured = runs.filter((r) => r.error === undefined && r.cpu !== undefined)
  if (measured.length === 0) return undefined
  const costs = measured.map((r) => perItem(r.cpu!.load, r.acked))
  return {
    appUs: median(costs.map((c) => c.appUs)),
    redisUs: median(costs.map((c) => c.redisUs)),
    pgUs: median(costs.map((c) => c.pgUs)),
    pgClusterUs: median(measured.map((r) => perItem({ ...r.cpu!.load, pgUs: r.cpu!.load.pgClusterUs }, r.acked).pgUs)),
    busyCores: median(measured.map((r) => r.cpu!.load.busyCores)),
    ownCores: median(measured.map((r) => ownCores(r.cpu!.load, r.loadMs))),
    cores: measured[0]!.cpu!.load.cores,
  }
}

const us = (n: number): string => (!Number.isFinite(n) ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1))
const cores = (w: { busyCores: number; cores: number }, own: number): string =>
  Number.isFinite(w.busyCores) ? `${w.busyCores.toFixed(2)} of ${w.cores}, ${Number.isFinite(own) ? own.toFixed(2) : '—'} its own` : '—'
const rate = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—')

/** The main table's cell: "Node / Redis / PostgreSQL µs per write (busy cores)". */
export function cpuCell(summary: CpuSummary | undefined): string {
  return summary === undefined ? '—' : `${us(summary.appUs)} / ${us(summary.redisUs)} / ${us(summary.pgUs)} (${cores(summary, summary.ownCores)})`
}

/** One run's bound, with the costs it came from and the machine's busy cores over that window. */
export interface BoundReading extends CpuBound {
  readonly cost: CpuPerItem
  readonly window: CpuWindow
  readonly ownCores: number
  readonly reference: number
}

/**
 * Per run, `system`'s cost per item over `pick`'s window read against `reference`'s rate in the
 * same run; the run whose bound ÷ reference is the median (the lower middle of an even count).
 */
export function medianBound(
  runs: readonly RunResult[],
  system: string,
  reference: string,
  pick: (r: RunResult) => { window: CpuWindow | undefined; items: number; ms: number },
): BoundReading | undefined {
  const ok = runs.filter((r) => r.error === undefined)
  const readings = ok
    .filter((r) => r.system === system)
    .flatMap((r) => {
      const ref = ok.find((x) => x.system === reference && x.run === r.run)
      const { window, items, ms } = pick(r)
      if (ref === undefined || window === undefined || !(items > 0)) return []
      const cost = perItem(window, items)
      return [{ ...cpuBound(cost, window.cores, ref.writesPerSec), cost, window, ownCores: ownCores(window, ms), reference: ref.writesPerSec }]
    })
    .filter((b) => Number.isFinite(b.vsReference))
    .sort((a, b) => a.vsReference - b.vsReference)
  return readings[(readings.length - 1) >> 1]
}

const reachable = (b: BoundReading): string => (b.vsReference >= 0.8 ? '0.8 was within reach at these costs' : '**0.8 was out of reach at these costs**')
const by = (b: BoundReading, unit: string): string =>
  `the whole machine (${b.window.cores} cores ÷ the total) would allow ${rate(b.machine)} ${unit}/s and Redis's one thread ${rate(b.redis)}; the smaller, ${rate(b.bound)} (bound by ${b.boundBy === 'redis' ? "Redis's thread" : 'the cores'})`
const costs = (c: CpuPerItem): string => `Node ${us(c.appUs)} + Redis ${us(c.redisUs)} + PostgreSQL ${us(c.pgUs)} µs`

/** The derived lines of one workload: what the measured costs allow `memory` and the held flush. */
export function boundLines(runs: readonly RunResult[], names: BoundNames): string[] {
  const memory = medianBound(runs, names.memory, names.limit, (r) => ({ window: r.cpu?.load, items: r.acked, ms: r.loadMs }))
  const flush = medianBound(runs, names.flush, names.ceiling, (r) => ({ window: r.cpu?.drain, items: r.dbRows, ms: r.drainMs }))
  return [
    ...(memory === undefined
      ? []
      : [
          `- ${names.memory}, CPU bound: ${costs(memory.cost)} per write over the load (${cores(memory.window, memory.ownCores)} cores busy on the machine); ${by(memory, 'writes')}, is ${memory.vsReference.toFixed(2)} of the script limit's ${rate(memory.reference)} writes/s in this run: ${reachable(memory)}`,
        ]),
    ...(flush === undefined
      ? []
      : [
          `- ${names.flush}, CPU bound: the held flush spent ${costs(flush.cost)} per drained row (${cores(flush.window, flush.ownCores)} cores busy on the machine over the drain); ${by(flush, 'rows')}, is ${flush.vsReference.toFixed(2)} of pg-ceiling's ${rate(flush.reference)} rows/s in this run: ${reachable(flush)}`,
        ]),
  ]
}

/** The Redis section's CPU table of one workload: every system that ran, and the bound lines; empty when no run measured CPU. */
export function cpuSection(runs: readonly RunResult[], systems: readonly string[], names: BoundNames): string {
  const rows = systems.flatMap((system) => {
    const s = cpuSummary(runs.filter((r) => r.system === system))
    return s === undefined
      ? []
      : [`| ${system} | ${us(s.appUs)} | ${us(s.redisUs)} | ${us(s.pgUs)} | ${us(s.appUs + (Number.isNaN(s.redisUs) ? 0 : s.redisUs) + s.pgUs)} | ${us(s.pgClusterUs)} | ${cores(s, s.ownCores)} |`]
  })
  if (rows.length === 0) return ''
  const lines = boundLines(runs, names)
  return `Where the CPU went over the load, per acknowledged write (pg-ceiling: per row committed). "PostgreSQL": the backends of this measurement's connections; "whole cluster": every PostgreSQL process, its background writers and other clients' backends included:\n\n| system | Node µs/write | Redis µs/write | PostgreSQL µs/write | total | PostgreSQL, whole cluster | machine busy cores, the system's own |\n|---|--:|--:|--:|--:|--:|--:|\n${rows.join('\n')}\n${lines.length > 0 ? `\n${lines.join('\n')}\n` : ''}`
}
