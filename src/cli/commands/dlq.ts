/**
 * `writebehind dlq`: inspect, drop and replay the dead letters of a cache directory.
 *
 *   writebehind dlq list <dir> [--json] [--prefix P]
 *   writebehind dlq drop <dir> (--key K ... | --prefix P | --all) [--yes]
 *   writebehind dlq replay <dir> (--store <url|path> [--table T] | --config <module>) [--key K ... | --prefix P]
 *
 * `list` only reads the file, so it works at any time. `drop` and `replay` change the queue and
 * take the directory's lock, so they refuse while a cache holds the dir. `drop` without `--yes`
 * only prints what it would drop. `replay` checks the store before it touches the dir, and stops
 * (leaving every letter and its error as they were) when the store fails every write alike.
 * Exit codes: exit-codes.ts (0 done, 1 letters left in the queue, 64, 65, 66, 69, 75).
 */
import { stat } from 'node:fs/promises'
import { acquireLock, releaseLock } from '../../log/lock.js'
import type { DeadLetter, DeadLetterFilter } from '../../contracts/dead-letters.js'
import { DeadLetterQueue, deadLetterMatcher, readDeadLetters } from '../../dead-letters/queue.js'
import { onlyOptions, parseArgs, stringOption, stringsOption, UsageError, type ParsedArgs } from '../args.js'
import { CliError, EXIT, exitCodeFor } from '../exit-codes.js'
import { GuardedStore, TripwireClock } from '../store-guard.js'
import { checkStore, openStore, storeChoice, type CliStore } from '../store-spec.js'
import { DLQ_OPTIONS, DLQ_USAGE } from '../usage.js'

export const USAGE = DLQ_USAGE

const STORE_FLAGS = ['store', 'table', 'create-table', 'config']

interface Parsed {
  command: string
  dir: string
  args: ParsedArgs
  values: { json: boolean; prefix?: string | undefined; key?: readonly string[] | undefined; all: boolean; yes: boolean }
}

/** Runs `dlq <args>` (the arguments after `dlq`), writing to `out`. Resolves with the exit code. */
export async function run(args: string[], out: NodeJS.WritableStream): Promise<number> {
  let parsed: Parsed | undefined
  try {
    parsed = parse(args)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    out.write(`error: ${error.message}\n\n${USAGE}`)
    return EXIT.USAGE
  }
  if (parsed === undefined) {
    out.write(USAGE)
    return EXIT.OK
  }
  try {
    await requireDir(parsed.dir)
    if (parsed.command === 'list') return await list(parsed, out)
    if (parsed.command === 'drop') return await drop(parsed, out)
    return await replayCommand(parsed, out)
  } catch (error) {
    const usage = error instanceof UsageError || (error instanceof CliError && error.exitCode === EXIT.USAGE)
    out.write(`error: ${error instanceof Error ? error.message : String(error)}\n${usage ? `\n${USAGE}` : ''}`)
    return usage ? EXIT.USAGE : exitCodeFor(error)
  }
}

/** The parsed command, or undefined for `--help`. */
function parse(args: string[]): Parsed | undefined {
  const parsed = parseArgs(args, DLQ_OPTIONS)
  if (parsed.options.help === true) return undefined
  const [command, dir, ...extra] = parsed.positionals
  if (command === undefined || !['list', 'drop', 'replay'].includes(command)) throw new UsageError(`unknown dlq command ${command ?? '(none)'}: use list, drop or replay`)
  if (dir === undefined) throw new UsageError(`dlq ${command} needs a directory`)
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra.join(' ')}`)
  if (command === 'list') onlyOptions(parsed, 'dlq list', ['json', 'prefix'])
  if (command === 'drop') onlyOptions(parsed, 'dlq drop', ['key', 'prefix', 'all', 'yes'])
  if (command === 'replay') onlyOptions(parsed, 'dlq replay', [...STORE_FLAGS, 'key', 'prefix'])
  const values = {
    json: parsed.options.json === true,
    prefix: stringOption(parsed, 'prefix'),
    key: stringsOption(parsed, 'key'),
    all: parsed.options.all === true,
    yes: parsed.options.yes === true,
  }
  return { command, dir, args: parsed, values }
}

async function requireDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (info === undefined || !info.isDirectory()) throw new CliError(EXIT.NO_INPUT, `no such directory: ${dir}`)
}

async function list({ dir, values }: Parsed, out: NodeJS.WritableStream): Promise<number> {
  const { letters, tornBytes } = await readDeadLetters(dir)
  const shown = letters.filter(deadLetterMatcher(values.prefix === undefined ? undefined : { prefix: values.prefix }))
  if (values.json) {
    out.write(`${JSON.stringify(shown, null, 2)}\n`)
    return 0
  }
  for (const letter of shown) out.write(`${formatLetter(letter)}\n`)
  out.write(`${plural(shown.length)}${shown.length === letters.length ? '' : ` (of ${letters.length})`}\n`)
  if (tornBytes > 0) out.write(`note: ignored ${tornBytes} bytes of an unfinished last write (never acknowledged)\n`)
  return 0
}

/** One line per letter: what, which version, how often it failed, when, and why. */
export function formatLetter(letter: DeadLetter): string {
  const { error } = letter
  const why = `${error.name}${error.code === undefined ? '' : ` [${error.code}]`}: ${error.message}`
  const when = new Date(letter.lastFailedAt).toISOString()
  const what = letter.kind === 'merge' ? `merge ${String(letter.merge)} ${String(letter.operand)}` : letter.kind
  return [printable(letter.key), `v${letter.version}`, what, `attempts=${letter.attempts}`, when, printable(why)].join('\t')
}

/** Escapes control characters (newlines, tabs) so that one letter stays one line. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    const escaped = JSON.stringify(c).slice(1, -1) // \n, \t, \u0001; JSON leaves DEL as is
    return escaped === c ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : escaped
  })
}

async function drop(parsed: Parsed, out: NodeJS.WritableStream): Promise<number> {
  const filter = selection(parsed, true)
  if (!parsed.values.yes) {
    const { letters } = await readDeadLetters(parsed.dir)
    const doomed = letters.filter(deadLetterMatcher(filter))
    out.write(`Would drop ${plural(doomed.length)}:\n`)
    for (const letter of doomed) out.write(`${formatLetter(letter)}\n`)
    out.write('Nothing was dropped. Run again with --yes to drop them.\n')
    return 0
  }
  const dropped = await withQueue(parsed.dir, async (queue) => {
    const doomed = queue.list(filter)
    await queue.remove(doomed.map(({ key, version }) => ({ key, version })))
    return doomed.length
  })
  out.write(`Dropped ${plural(dropped)}.\n`)
  return 0
}

/** The filter that `--key`, `--prefix` and `--all` describe; exactly one kind is required when `required`. */
function selection({ values }: Parsed, required: boolean): DeadLetterFilter | undefined {
  const given = [values.key !== undefined, values.prefix !== undefined, values.all].filter(Boolean).length
  if (given > 1) throw new UsageError('give only one of --key, --prefix, --all')
  if (given === 0 && required) throw new UsageError('say what to drop: --key K (repeatable), --prefix P or --all')
  if (values.key !== undefined) return { keys: [...values.key] }
  if (values.prefix !== undefined) return { prefix: values.prefix }
  return undefined
}

/** Opens the dir's queue under the directory lock (refused while a cache holds the dir). */
async function withQueue<T>(dir: string, use: (queue: DeadLetterQueue) => Promise<T>): Promise<T> {
  await acquireLock(dir)
  try {
    const queue = await DeadLetterQueue.open(dir)
    try {
      return await use(queue)
    } finally {
      await queue.close()
    }
  } finally {
    releaseLock(dir)
  }
}

async function replayCommand(parsed: Parsed, out: NodeJS.WritableStream): Promise<number> {
  const a = parsed.args
  const choice = storeChoice({ store: stringOption(a, 'store'), table: stringOption(a, 'table'), config: stringOption(a, 'config'), createTable: a.options['create-table'] === true }, 'dlq replay')
  const filter = selection(parsed, false)
  const opened = await openStore(choice)
  try {
    await checkStore(opened)
    return await replayThroughCache(parsed.dir, opened, filter, out)
  } finally {
    await opened.release()
  }
}

/**
 * Opens a cache on the dir with the store (this takes the dir's lock and replays the dirty log
 * first, so a newer write of a key wins over its dead letter), replays the selected letters with
 * their original versions, and closes. The store is guarded: when it fails every write alike the
 * run stops with every letter (and its error) as it was.
 */
async function replayThroughCache(dir: string, opened: CliStore, filter: DeadLetterFilter | undefined, out: NodeJS.WritableStream): Promise<number> {
  const { WriteBehindCache } = await import('../../core/write-behind-cache.js')
  const clock = new TripwireClock()
  const guard = new GuardedStore(opened, { onTrip: () => clock.trip() })
  const codec = opened.codec === undefined ? {} : { codec: opened.codec }
  const cache = await WriteBehindCache.open({ store: guard, dir, clock, warn: () => {}, ...codec }).catch(async (error: unknown) => {
    await guard.close()
    throw error
  })
  let report: Awaited<ReturnType<typeof cache.replayDeadLetters>> | undefined
  try {
    // A tripped guard answers nothing, so the replay would wait forever: the trip ends the wait.
    report = await Promise.race([cache.replayDeadLetters(filter), guard.tripped.then(() => undefined)])
  } finally {
    const closed = await cache.close()
    if (!closed.drained && guard.tripCause === undefined) out.write(`warning: ${closed.unflushed} writes from the log could not be flushed; they stay in the log.\n`)
  }
  const cause = guard.tripCause
  if (cause !== undefined || report === undefined) {
    out.write(
      `stopped: the store ${opened.label} failed every write alike, or failed its check: ${cause?.message ?? 'unknown'}\n` +
        'Every dead letter stays in the queue, with its error, as it was. Fix the store (table, privileges, server) and replay again.\n',
    )
    return EXIT.UNAVAILABLE
  }
  out.write(`Replayed ${plural(report.replayed)}; ${report.superseded} superseded by newer writes; ${report.failed} failed again (still in the queue).\n`)
  return report.failed > 0 || report.busy > 0 ? EXIT.NEGATIVE : EXIT.OK
}

function plural(n: number): string {
  return `${n} dead letter${n === 1 ? '' : 's'}`
}
