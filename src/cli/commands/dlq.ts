/**
 * `writebehind dlq`: inspect, drop and replay the dead letters of a cache directory, or of a
 * Redis tier with `--redis <url> --name <name>` instead of `<dir>` (dlq-redis.ts).
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
import type { DeadLetterFilter } from '../../contracts/dead-letters.js'
import { DeadLetterQueue, deadLetterMatcher, readDeadLetters } from '../../dead-letters/queue.js'
import { onlyOptions, parseArgs, stringOption, stringsOption, UsageError, type ParsedArgs } from '../args.js'
import { CliError, EXIT, exitCodeFor } from '../exit-codes.js'
import { checkStore, openStore, storeChoice, type CliStore, type StoreChoice } from '../store-spec.js'
import { formatLetter, plural } from '../letter-format.js'
import { REDIS_FLAGS, targetOf, type RedisWhere } from '../redis-target.js'
import { replayThroughCache } from '../replay-cache.js'
import { DLQ_OPTIONS, DLQ_USAGE } from '../usage.js'

export const USAGE = DLQ_USAGE

const STORE_FLAGS = ['store', 'table', 'create-table', 'config']

interface Parsed {
  command: string
  dir: string
  /** `--redis <url> --name <name>` (or `--redis-cluster <nodes>`) instead of a dir (then `dir` is ''). */
  redis: RedisWhere | undefined
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
    if (parsed.redis !== undefined) {
      const { runOnRedis } = await import('./dlq-redis.js')
      const { command, redis, values } = parsed
      const filter = selection(parsed, command === 'drop')
      const choice = command === 'replay' ? storeChoiceOf(parsed) : undefined // a missing --store is a usage error before Redis is asked
      return await runOnRedis({ command, redis, json: values.json, yes: values.yes, filter, openStore: () => replayStore(choice ?? storeChoiceOf(parsed)) }, out)
    }
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
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra.join(' ')}`)
  const target = targetOf(dir, parsed, `dlq ${command}`)
  const redis = 'redis' in target ? target.redis : undefined
  const where = redis === undefined ? [] : REDIS_FLAGS
  if (command === 'list') onlyOptions(parsed, 'dlq list', ['json', 'prefix', ...where])
  if (command === 'drop') onlyOptions(parsed, 'dlq drop', ['key', 'prefix', 'all', 'yes', ...where])
  if (command === 'replay') onlyOptions(parsed, 'dlq replay', [...STORE_FLAGS, 'key', 'prefix', ...where])
  const values = {
    json: parsed.options.json === true,
    prefix: stringOption(parsed, 'prefix'),
    key: stringsOption(parsed, 'key'),
    all: parsed.options.all === true,
    yes: parsed.options.yes === true,
  }
  return { command, dir: dir ?? '', redis, args: parsed, values }
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

/** The store `--store`/`--config` name, opened and checked; the caller releases it. */
function storeChoiceOf(parsed: Parsed): StoreChoice {
  const a = parsed.args
  return storeChoice({ store: stringOption(a, 'store'), table: stringOption(a, 'table'), config: stringOption(a, 'config'), createTable: a.options['create-table'] === true }, 'dlq replay')
}

async function replayStore(choice: StoreChoice): Promise<CliStore> {
  const opened = await openStore(choice)
  try {
    await checkStore(opened)
    return opened
  } catch (error) {
    await opened.release()
    throw error
  }
}

async function replayCommand(parsed: Parsed, out: NodeJS.WritableStream): Promise<number> {
  const filter = selection(parsed, false)
  const opened = await replayStore(storeChoiceOf(parsed))
  try {
    const { WriteBehindCache } = await import('../../core/write-behind-cache.js')
    return await replayThroughCache((options) => WriteBehindCache.open({ ...options, dir: parsed.dir, warn: () => {} }), opened, filter, out)
  } finally {
    await opened.release()
  }
}
