/**
 * `writebehind recover <dir> (--store <url|path> [--table name] | --config <module>)`: flushes what
 * a dead process left in a cache directory into the app's store, offline. The store is opened
 * and checked first (see store-spec.ts): a store that is not usable is refused (69) before the dir
 * is touched. Then a cache opened on the dir replays the dirty log above its checkpoint (re-dirtying
 * those keys) and its close drains them, through a `GuardedStore` that stops the run (69) instead
 * of dead-lettering when the store fails every write alike. Exit 0 when everything was flushed (or
 * dead-lettered as bad data), 1 when keys stay in the log; the other codes are in exit-codes.ts.
 */
import { readdir, stat } from 'node:fs/promises'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { CloseReport } from '../../contracts/reports.js'
import { WriteBehindCache } from '../../core/write-behind-cache.js'
import { numberOption, parseArgs, stringOption, UsageError } from '../args.js'
import { CliError, EXIT, exitCodeFor } from '../exit-codes.js'
import { count, duration, progressBar, ProgressLine } from '../progress.js'
import { GuardedStore, TripwireClock } from '../store-guard.js'
import { checkStore, openStore, storeChoice, type CliStore, type StoreChoice } from '../store-spec.js'
import { RECOVER_OPTIONS, RECOVER_USAGE } from '../usage.js'

interface RecoverSettings {
  dir: string
  store: StoreChoice
  timeoutMs: number
}

/** Runs `recover <args>`, writing to `out`; resolves with the exit code. */
export async function run(args: string[], out: NodeJS.WritableStream): Promise<number> {
  let settings: RecoverSettings | undefined
  try {
    settings = parse(args)
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof CliError)) throw error
    out.write(`error: ${error.message}\n\n${RECOVER_USAGE}`)
    return EXIT.USAGE
  }
  if (settings === undefined) {
    out.write(RECOVER_USAGE)
    return EXIT.OK
  }
  try {
    return await recover(settings, out)
  } catch (error) {
    out.write(`error: ${error instanceof Error ? error.message : JSON.stringify(error)}\n`)
    return exitCodeFor(error)
  }
}

/** The settings, or undefined for `--help`. */
function parse(args: string[]): RecoverSettings | undefined {
  const parsed = parseArgs(args, RECOVER_OPTIONS)
  if (parsed.options.help === true) return undefined
  const [dir, ...extra] = parsed.positionals
  if (dir === undefined) throw new UsageError('recover needs the cache directory: writebehind recover <dir> --store <url|path>')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra.join(' ')}`)
  const store = storeChoice(
    { store: stringOption(parsed, 'store'), table: stringOption(parsed, 'table'), config: stringOption(parsed, 'config'), createTable: parsed.options['create-table'] === true },
    'recover',
  )
  return { dir, store, timeoutMs: numberOption(parsed, 'timeout') as number }
}

async function recover(settings: RecoverSettings, out: NodeJS.WritableStream): Promise<number> {
  await requireCacheDir(settings.dir)
  const opened = await openStore(settings.store)
  try {
    await checkStore(opened)
    return await recoverInto(opened, settings, out)
  } finally {
    await opened.release()
  }
}

async function recoverInto(opened: CliStore, settings: RecoverSettings, out: NodeJS.WritableStream): Promise<number> {
  const warnings: string[] = []
  const clock = new TripwireClock()
  const guard = new GuardedStore(opened, { yieldEachBatch: true, onTrip: () => clock.trip() })
  // Timed from open(): replay starts flushing at once, and a fast store may be done before close().
  const started = performance.now()
  const { cache, records, keys: total } = await openForRecovery(settings, opened, guard, clock, warnings)
  out.write(`recovering ${settings.dir} into ${opened.label}: ${count(records)} log records, ${count(total)} keys to flush\n`)
  const flushed = (): number => {
    const { flush } = cache.stats()
    return Math.min(total, flush.ops + flush.deadLettered)
  }
  const progress = new ProgressLine(out, () => `flushing ${progressBar(flushed(), total)} ${count(flushed())}/${count(total)}`)
  progress.start()
  const close = await cache.close()
  progress.stop()
  const { flush } = cache.stats()
  const cause = guard.tripCause
  if (cause !== undefined) {
    out.write(
      `stopped: the store ${opened.label} failed every write alike, or failed its check: ${cause.message}\n` +
        `${count(flush.ops)} keys were flushed; nothing was dead-lettered by this run; ${count(close.unflushed)} keys stay in the log of ${settings.dir}.\n` +
        'Fix the store (table, privileges, server) and run recover again.\n',
    )
    return EXIT.UNAVAILABLE
  }
  out.write(summary(total, flush.ops, flush.deadLettered, close, performance.now() - started))
  for (const warning of warnings) out.write(`warning: ${warning}\n`)
  return close.drained && close.errors.length === 0 ? EXIT.OK : EXIT.NEGATIVE
}

/** Refuses a path that is not a directory, or a directory no cache ever wrote (opening one would create a log there). */
async function requireCacheDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (info?.isDirectory() !== true) throw new CliError(EXIT.NO_INPUT, `no such directory: ${dir}`)
  const names = await readdir(dir)
  if (!names.some((name) => name === 'CHECKPOINT' || /^segment-\d+\.wbl$/.test(name))) {
    throw new CliError(EXIT.NO_INPUT, `${dir} is not a writebehind cache directory (no CHECKPOINT and no log segments): nothing to recover`)
  }
}

/** Opens a cache on the dir (which replays its log and starts flushing) and says what it replayed. */
async function openForRecovery(
  settings: RecoverSettings,
  opened: CliStore,
  store: GuardedStore,
  clock: TripwireClock,
  warnings: string[],
): Promise<{ cache: WriteBehindCache; records: number; keys: number }> {
  const warn = (code: string, message: string): void => {
    warnings.push(`${code}: ${message}`)
  }
  const codec = opened.codec === undefined ? {} : { codec: opened.codec }
  const cache = await WriteBehindCache.open({ store, dir: settings.dir, closeTimeoutMs: settings.timeoutMs, clock, warn, ...codec }).catch(async (error: unknown) => {
    await store.close()
    throw error
  })
  let recovered = { records: 0, keys: 0 }
  cache.on('recovered', (report) => (recovered = report))
  await nextTurn() // open() emits 'recovered' on the next turn (only when it replayed something)
  return { cache, records: recovered.records, keys: recovered.keys }
}

function summary(keys: number, flushed: number, deadLettered: number, close: CloseReport, ms: number): string {
  const lines = [`flushed ${count(flushed)} of ${count(keys)} keys to the store in ${duration(ms)}, ${count(deadLettered)} dead-lettered`]
  if (deadLettered > 0) lines.push('dead letters stay in the dir: see `writebehind dlq list <dir>`')
  lines.push(
    `close: ${close.drained ? 'drained' : 'NOT drained'}, ${count(close.unflushed)} unflushed` +
      `${close.unflushed > 0 ? (close.safeInLog ? ' (still in the log: run recover again once the store works)' : ' (not confirmed safe in the log: see the close errors)') : ''}`,
  )
  for (const key of close.unflushedKeys.slice(0, 10)) lines.push(`  unflushed: ${key}`)
  for (const error of close.errors) lines.push(`close error: ${error.message}`)
  return `${lines.join('\n')}\n`
}
