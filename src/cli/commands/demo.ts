/**
 * `writebehind demo` (also `npm run demo`): the leaderboard demo on the embedded SQLite store, no
 * server needed. Concurrent writers update Zipf-distributed players for a while, a status line
 * shows throughput, backlog and lag, then the cache is closed (it must drain) and the database is
 * checked row by row against the last value written for each player. Exit 0 only when it matches.
 */
import { readdir, rm } from 'node:fs/promises'
import { WriteBehindCache } from '../../core/write-behind-cache.js'
import type { Durability } from '../../contracts/options.js'
import type { SqliteDatabaseLike } from '../../stores/sql/sqlite/executor.js'
import { SqliteStore } from '../../stores/sql/sqlite/store.js'
import { numberOption, parseArgs, stringOption, UsageError, type ParsedArgs } from '../args.js'
import { checkDatabase } from '../demo-check.js'
import { buildReport, crashLoss, DURABILITY_MEANING, formatReport, type DemoReport } from '../demo-report.js'
import { countingDatabase, type StatementCounter } from '../counting-database.js'
import { Leaderboard, runWorkload, type PlayerValue } from '../demo-workload.js'
import { count, duration, ProgressLine } from '../progress.js'
import { CliError, EXIT, exitCodeFor } from '../exit-codes.js'
import { DEMO_OPTIONS, DEMO_USAGE } from '../usage.js'

const TABLE = 'writebehind_entries'

interface DemoSettings {
  duration: number
  players: number
  writers: number
  zipf: number
  seed: number
  db: string
  dir: string | undefined
  durability: Durability
  interval: number
  batch: number
  json: boolean
}

/** Runs the demo with `args` (after `demo`); resolves with the exit code (0 ok, 1 check failed, 64 usage; exit-codes.ts). */
export async function run(args: string[], out: NodeJS.WritableStream): Promise<number> {
  let settings: DemoSettings
  try {
    const parsed = parseArgs(args, DEMO_OPTIONS)
    if (parsed.options.help === true) {
      out.write(DEMO_USAGE)
      return 0
    }
    settings = toSettings(parsed)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    out.write(`error: ${error.message}\n\n${DEMO_USAGE}`)
    return EXIT.USAGE
  }
  let report: DemoReport
  try {
    report = await runDemo(settings, out)
  } catch (error) {
    out.write(`error: ${error instanceof Error ? error.message : JSON.stringify(error)}\n`)
    return exitCodeFor(error)
  }
  out.write(settings.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report))
  return report.ok ? EXIT.OK : EXIT.NEGATIVE
}

function toSettings(parsed: ParsedArgs): DemoSettings {
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${parsed.positionals.join(' ')}`)
  const durability = stringOption(parsed, 'durability') as Durability
  return {
    duration: numberOption(parsed, 'duration') as number,
    players: numberOption(parsed, 'players') as number,
    writers: numberOption(parsed, 'writers') as number,
    zipf: numberOption(parsed, 'zipf') as number,
    seed: numberOption(parsed, 'seed') as number,
    db: stringOption(parsed, 'db') as string,
    // Durability `memory` runs without a log: that is the point of the level.
    dir: durability === 'memory' ? undefined : stringOption(parsed, 'dir'),
    durability,
    interval: numberOption(parsed, 'interval') as number,
    batch: numberOption(parsed, 'batch') as number,
    json: parsed.options.json === true,
  }
}

async function runDemo(settings: DemoSettings, out: NodeJS.WritableStream): Promise<DemoReport> {
  await prepareFiles(settings)
  const counter: StatementCounter = { statements: 0 }
  const database = await countingDatabase(settings.db, counter)
  const warnings: string[] = []
  const cache = await openDemoCache(settings, database, warnings).catch((error: unknown) => {
    database.close()
    throw error
  })
  const board = new Leaderboard(settings.players)
  const { writeMs, failure } = await writeFor(settings, cache, board, out)
  const backlogAtEnd = cache.stats().backlog.entries
  const closing = performance.now()
  const close = await cache.close()
  const drainMs = performance.now() - closing
  // Back to a rollback journal, so the file stands alone and the read-only check needs no WAL files.
  database.pragma('journal_mode = DELETE')
  database.close()
  if (failure !== undefined) warnings.push(`a write failed, writers stopped: ${failure instanceof Error ? failure.message : JSON.stringify(failure)}`)
  const check = await checkDatabase(settings.db, TABLE, board)
  const report = buildReport({ settings: { ...settings }, board, writeMs, stats: cache.stats(), statements: counter.statements, drainMs, close, check, warnings, backlogAtEnd })
  return failure === undefined ? report : { ...report, ok: false }
}

function openDemoCache(settings: DemoSettings, database: SqliteDatabaseLike, warnings: string[]): Promise<WriteBehindCache<PlayerValue>> {
  return WriteBehindCache.open<PlayerValue>({
    store: new SqliteStore({ database, table: TABLE }),
    dir: settings.dir,
    durability: settings.durability,
    flush: { intervalMs: settings.interval, batchSize: settings.batch },
    warn: (code, message) => warnings.push(`${code}: ${message}`),
  })
}

/** Runs the writers for the set duration with live progress; a failed write ends the run early. */
async function writeFor(settings: DemoSettings, cache: WriteBehindCache<PlayerValue>, board: Leaderboard, out: NodeJS.WritableStream): Promise<{ writeMs: number; failure: unknown }> {
  if (!settings.json) out.write(header(settings))
  const progress = settings.json ? undefined : new ProgressLine(out, statusLine(cache, board, settings.durability))
  progress?.start()
  // Ctrl-C ends the writing early but still closes, drains and checks; a second Ctrl-C kills.
  const interrupt = new AbortController()
  const onInterrupt = (): void => interrupt.abort()
  process.once('SIGINT', onInterrupt)
  const started = performance.now()
  const failure = await runWorkload(cache, board, { ...settings, deadline: started + settings.duration * 1000, signal: interrupt.signal }).then(
    () => undefined,
    (error: unknown) => error,
  )
  process.off('SIGINT', onInterrupt)
  progress?.stop()
  if (interrupt.signal.aborted && !settings.json) out.write('interrupted: writers stopped early; closing and checking\n')
  return { writeMs: performance.now() - started, failure }
}

function header(s: DemoSettings): string {
  const where = s.dir === undefined ? 'no log dir' : `log ${s.dir}`
  return (
    `writebehind demo: ${s.writers} writers, ${count(s.players)} players (zipf ${s.zipf}), ${s.duration} s, ` +
    `durability ${s.durability}, ${s.db}, ${where}, flush every ${s.interval} ms or ${s.batch} ops\n` +
    `durability ${s.durability}: ${DURABILITY_MEANING[s.durability]}\n` +
    'status: writes/s acknowledged, DB rows/s written, backlog = keys acknowledged but not yet in the DB, ' +
    'oldest = age of the oldest of them, writes/row = writes acknowledged per row written so far (coalescing), ' +
    `crash now = what a crash at that moment would lose at ${s.durability}\n`
  )
}

/**
 * The live status line: throughput since the last tick, the backlog (keys acknowledged, not yet in
 * the DB) and its oldest age, coalescing (writes acknowledged per row written, over the whole run
 * so far) and what a crash at this moment would lose at the run's durability.
 */
function statusLine(cache: WriteBehindCache<PlayerValue>, board: Leaderboard, durability: Durability): () => string {
  const start = performance.now()
  let last = { at: start, writes: 0, ops: 0 }
  return () => {
    const now = performance.now()
    const stats = cache.stats()
    const seconds = Math.max(1e-3, (now - last.at) / 1000)
    const writeRate = (board.acked - last.writes) / seconds
    const rowRate = (stats.flush.ops - last.ops) / seconds
    last = { at: now, writes: board.acked, ops: stats.flush.ops }
    return (
      `${((now - start) / 1000).toFixed(1).padStart(5)} s  writes ${count(writeRate)}/s  DB rows ${count(rowRate)}/s  ` +
      `backlog ${count(stats.backlog.entries)} keys (oldest ${duration(stats.backlog.oldestDirtyAgeMs)})  ` +
      `${stats.flush.ops === 0 ? '-' : stats.coalescingRatio.toFixed(1)} writes/row  crash now: ${crashLoss(durability, stats.backlog.entries)}`
    )
  }
}

/** Recreates the database and empties the log dir, refusing to touch a dir that is not writebehind's. */
async function prepareFiles(settings: DemoSettings): Promise<void> {
  await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(`${settings.db}${suffix}`, { force: true })))
  if (settings.dir === undefined) return
  const names = await readdir(settings.dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    throw error
  })
  const foreign = names.filter((name) => !/^(LOCK|CHECKPOINT|segment-\d+\.wbl|dead-letters\.log)/.test(name))
  if (foreign.length > 0) {
    throw new CliError(EXIT.USAGE, `refusing to clean ${settings.dir}: it holds files that are not writebehind's (${foreign.slice(0, 3).join(', ')}). Pass another --dir.`)
  }
  await rm(settings.dir, { recursive: true, force: true })
}
