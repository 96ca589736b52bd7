/**
 * `writebehind recover <dir> --store <sqlite path> [--table name] [--timeout ms]`: flushes what a
 * dead process left in a cache directory into a SQLite store, offline. Opening a cache on the dir
 * replays the dirty log above its checkpoint (re-dirtying those keys); closing it drains them to
 * the store. Exit 0 when everything was flushed (or dead-lettered), 1 otherwise, 2 on bad usage.
 */
import { readdir, stat } from 'node:fs/promises'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Store } from '../../contracts/store.js'
import type { CloseReport } from '../../core/close.js'
import { WriteBehindCache } from '../../core/write-behind-cache.js'
import { SqliteStore } from '../../stores/sql/sqlite/store.js'
import { numberOption, parseArgs, stringOption, UsageError } from '../args.js'
import { count, duration, progressBar, ProgressLine } from '../progress.js'
import { RECOVER_OPTIONS, RECOVER_USAGE } from '../usage.js'

interface RecoverSettings {
  dir: string
  store: string
  table: string
  timeoutMs: number
}

/** Runs `recover <args>`, writing to `out`; resolves with the exit code. */
export async function run(args: string[], out: NodeJS.WritableStream): Promise<number> {
  let settings: RecoverSettings | undefined
  try {
    settings = parse(args)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    out.write(`error: ${error.message}\n\n${RECOVER_USAGE}`)
    return 2
  }
  if (settings === undefined) {
    out.write(RECOVER_USAGE)
    return 0
  }
  try {
    return await recover(settings, out)
  } catch (error) {
    out.write(`error: ${error instanceof Error ? error.message : JSON.stringify(error)}\n`)
    return 1
  }
}

/** The settings, or undefined for `--help`. */
function parse(args: string[]): RecoverSettings | undefined {
  const parsed = parseArgs(args, RECOVER_OPTIONS)
  if (parsed.options.help === true) return undefined
  const [dir, ...extra] = parsed.positionals
  if (dir === undefined) throw new UsageError('recover needs the cache directory: writebehind recover <dir> --store <sqlite path>')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra.join(' ')}`)
  const store = stringOption(parsed, 'store')
  if (store === undefined) throw new UsageError('recover needs --store <sqlite path>: the SQLite file to flush into')
  return { dir, store, table: stringOption(parsed, 'table') as string, timeoutMs: numberOption(parsed, 'timeout') as number }
}

async function recover(settings: RecoverSettings, out: NodeJS.WritableStream): Promise<number> {
  await requireCacheDir(settings.dir)
  const warnings: string[] = []
  // Timed from open(): replay starts flushing at once, and a fast store may be done before close().
  const started = performance.now()
  const { cache, records, keys: total } = await openForRecovery(settings, warnings)
  out.write(`recovering ${settings.dir} into ${settings.store} (table ${settings.table}): ${count(records)} log records, ${count(total)} keys to flush\n`)
  const flushed = (): number => {
    const { flush } = cache.stats()
    return Math.min(total, flush.ops + flush.deadLettered)
  }
  const progress = new ProgressLine(out, () => `flushing ${progressBar(flushed(), total)} ${count(flushed())}/${count(total)}`)
  progress.start()
  const close = await cache.close()
  progress.stop()
  const { flush } = cache.stats()
  out.write(summary(total, flush.ops, flush.deadLettered, close, performance.now() - started))
  for (const warning of warnings) out.write(`warning: ${warning}\n`)
  return close.drained && close.errors.length === 0 ? 0 : 1
}

/** Refuses a path that is not a directory, or a directory no cache ever wrote (opening one would create a log there). */
async function requireCacheDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (info?.isDirectory() !== true) throw new Error(`no such directory: ${dir}`)
  const names = await readdir(dir)
  if (!names.some((name) => name === 'CHECKPOINT' || /^segment-\d+\.wbl$/.test(name))) {
    throw new Error(`${dir} is not a writebehind cache directory (no CHECKPOINT and no log segments): nothing to recover`)
  }
}

/** Opens a cache on the dir (which replays its log and starts flushing) and says what it replayed. */
async function openForRecovery(settings: RecoverSettings, warnings: string[]): Promise<{ cache: WriteBehindCache; records: number; keys: number }> {
  const store = yieldingStore(new SqliteStore({ path: settings.store, table: settings.table }))
  const warn = (code: string, message: string): void => {
    warnings.push(`${code}: ${message}`)
  }
  const cache = await WriteBehindCache.open({ store, dir: settings.dir, closeTimeoutMs: settings.timeoutMs, warn }).catch(async (error: unknown) => {
    await store.close?.()
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

/**
 * The store, with one event-loop turn before each batch. better-sqlite3 is synchronous and the
 * flusher starts the next batch as soon as one ends, so without this a long replay would run
 * start to finish in one turn and the progress line (a timer) would never be drawn.
 */
function yieldingStore(store: SqliteStore): Store {
  return {
    writeBatch: async (ops) => {
      await nextTurn()
      return store.writeBatch(ops)
    },
    load: (keys) => store.load(keys),
    close: () => store.close(),
  }
}
