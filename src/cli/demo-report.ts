/**
 * The demo's final report: the numbers gathered at the end of a run, as a plain object (printed
 * as JSON with `--json`) and as readable text.
 */
import type { CloseReport } from '../contracts/reports.js'
import type { Durability } from '../contracts/options.js'
import type { CacheStats } from '../contracts/stats.js'
import type { CheckResult } from './demo-check.js'
import type { Leaderboard } from './demo-workload.js'
import { count, duration } from './progress.js'

/** What each level means for a crash at any moment of the run. */
export const DURABILITY_MEANING: Readonly<Record<Durability, string>> = {
  memory: 'a write is acknowledged once it is in process memory; a crash (process or machine) loses every acknowledged write not yet in the DB: the whole backlog',
  log: 'a write is acknowledged once it is appended to the dirty log and handed to the OS (not fsynced); a process crash (kill -9) loses nothing, the next open replays the log; a power loss or OS crash may lose the backlog writes the OS had not yet put on disk',
  disk: 'a write is acknowledged once it is in the dirty log and fsynced; a crash, even a power loss, loses no acknowledged write (the next open replays the log)',
  store: 'a write is acknowledged once it is committed in the DB; a crash loses no acknowledged write, and the backlog stays empty',
  replicated: 'a write is acknowledged once Redis replicas hold it (Redis tier only; the demo runs the embedded tier)',
}

/** What a crash would lose with `backlog` keys not yet in the DB: `now` for the live line, `then` for the report. */
export function crashLoss(durability: Durability, backlog: number, when: 'now' | 'then' = 'now'): string {
  const loses = when === 'now' ? 'loses' : 'would have lost'
  if (durability === 'memory') return `${loses} the latest writes of ${count(backlog)} keys`
  if (durability === 'log') return `kill -9 ${loses} nothing, a power loss up to ${count(backlog)} keys`
  return `${loses} nothing acknowledged`
}

export interface DemoReport {
  readonly settings: Readonly<Record<string, string | number | boolean | undefined>>
  /** Writes whose promise resolved. */
  readonly writes: number
  readonly players: number
  readonly writeSeconds: number
  readonly writesPerSecond: number
  /** Ops the store accepted (rows written or fenced). */
  readonly rowsWritten: number
  readonly fenced: number
  /** `store.writeBatch` calls (one transaction each). */
  readonly batches: number
  /** SQL statements run on the database. */
  readonly statements: number
  /** Writes acknowledged per row written to the DB over the run (1 = no coalescing). */
  readonly coalescingRatio: number
  /** What the run's durability level meant for a crash at any moment of it. */
  readonly durabilityMeaning: string
  /** Keys acknowledged but not yet in the DB when the writers stopped, and what a crash then would have lost. */
  readonly backlogAtEnd: number
  readonly crashAtEnd: string
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number }
  readonly drainMs: number
  readonly close: { readonly drained: boolean; readonly unflushed: number; readonly safeInLog: boolean; readonly errors: string[] }
  readonly failedBatches: number
  readonly deadLettered: number
  readonly check: CheckResult
  readonly warnings: string[]
  readonly ok: boolean
}

export interface ReportInputs {
  settings: DemoReport['settings']
  board: Leaderboard
  writeMs: number
  stats: CacheStats
  statements: number
  drainMs: number
  close: CloseReport
  check: CheckResult
  warnings: string[]
  backlogAtEnd: number
}

export function buildReport(inputs: ReportInputs): DemoReport {
  const { board, stats, close, check } = inputs
  const writeSeconds = inputs.writeMs / 1000
  return {
    settings: inputs.settings,
    writes: board.acked,
    players: board.distinctPlayers(),
    writeSeconds,
    writesPerSecond: writeSeconds > 0 ? board.acked / writeSeconds : 0,
    rowsWritten: stats.flush.ops,
    fenced: stats.flush.fenced,
    batches: stats.flush.batches,
    statements: inputs.statements,
    coalescingRatio: stats.coalescingRatio,
    durabilityMeaning: DURABILITY_MEANING[inputs.settings.durability as Durability] ?? '',
    backlogAtEnd: inputs.backlogAtEnd,
    crashAtEnd: crashLoss(inputs.settings.durability as Durability, inputs.backlogAtEnd, 'then'),
    latencyMs: { p50: board.latency.percentile(50), p99: board.latency.percentile(99), max: board.latency.max, mean: board.latency.mean },
    drainMs: inputs.drainMs,
    close: { drained: close.drained, unflushed: close.unflushed, safeInLog: close.safeInLog, errors: close.errors.map((e) => e.message) },
    failedBatches: stats.flush.failedBatches,
    deadLettered: stats.flush.deadLettered,
    check,
    warnings: inputs.warnings,
    ok: check.ok && close.drained && close.errors.length === 0,
  }
}

/** The report as text, one fact per line. */
export function formatReport(r: DemoReport): string {
  const lines = [
    '',
    `writes acknowledged   ${count(r.writes)} in ${r.writeSeconds.toFixed(1)} s (${count(r.writesPerSecond)} writes/s), ${count(r.players)} players`,
    `ack latency           p50 ${duration(r.latencyMs.p50)}  p99 ${duration(r.latencyMs.p99)}  max ${duration(r.latencyMs.max)}`,
    `rows written to DB    ${count(r.rowsWritten)}${r.fenced > 0 ? ` (${count(r.fenced)} fenced)` : ''}`,
    `DB batches            ${count(r.batches)} transactions, ${count(r.statements)} statements`,
    `coalescing ratio      ${r.coalescingRatio.toFixed(2)} writes acknowledged per row written`,
    `durability            ${String(r.settings.durability)}: ${r.durabilityMeaning}`,
    `crash as writes ended ${r.crashAtEnd} (${count(r.backlogAtEnd)} keys were not yet in the DB)`,
    `drain at close        ${duration(r.drainMs)}: ${r.close.drained ? 'drained' : `NOT drained, ${count(r.close.unflushed)} entries left${r.close.safeInLog ? ' (safe in the log)' : ''}`}`,
  ]
  if (r.failedBatches > 0 || r.deadLettered > 0) lines.push(`failures              ${r.failedBatches} failed batches, ${r.deadLettered} dead-lettered`)
  for (const error of r.close.errors) lines.push(`close error           ${error}`)
  for (const warning of r.warnings) lines.push(`warning               ${warning}`)
  lines.push(checkLine(r.check))
  for (const mismatch of r.check.mismatches) lines.push(`  ${mismatch}`)
  return `${lines.join('\n')}\n`
}

function checkLine(check: CheckResult): string {
  if (check.ok) return `check: OK (${count(check.players)} players match)`
  const more = check.mismatchCount > check.mismatches.length ? `, first ${check.mismatches.length} shown` : ''
  return `check: FAILED: ${count(check.mismatchCount)} mismatches between the database and the last values written (${count(check.matched)} of ${count(check.players)} players match${more}):`
}
