/**
 * `writebehind dlq`: inspect, drop and replay the dead letters of a cache directory.
 *
 *   writebehind dlq list <dir> [--json] [--prefix P]
 *   writebehind dlq drop <dir> (--key K ... | --prefix P | --all) [--yes]
 *   writebehind dlq replay <dir> --store <sqlite path> [--key K ... | --prefix P]
 *
 * `list` only reads the file, so it works at any time. `drop` and `replay` change the queue and
 * take the directory's lock, so they refuse while a cache holds the dir. `drop` without `--yes`
 * only prints what it would drop. `replay` needs the cache engine: see `replayDeadLetters`.
 */
import { stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { acquireLock, releaseLock } from '../../log/lock.js'
import { DeadLetterQueue, deadLetterMatcher, readDeadLetters, type DeadLetter, type DeadLetterFilter, type DeadLetterRef } from '../../flush/dead-letters.js'

export const USAGE = `Usage:
  writebehind dlq list <dir> [--json] [--prefix P]
  writebehind dlq drop <dir> (--key K ... | --prefix P | --all) [--yes]
  writebehind dlq replay <dir> --store <sqlite path> [--key K ... | --prefix P]
`

/** What a replay reports: the letters the store accepted (they leave the queue); the rest stay. */
export interface ReplayOutcome {
  replayed: readonly DeadLetterRef[]
}

/** Writes dead letters to a store again (versioned, so an older letter cannot win over newer data). */
export type Replayer = (letters: readonly DeadLetter[]) => Promise<ReplayOutcome>

/** What the CLI needs from the rest of the program; `createReplayer` is wired by the engine owner. */
export interface DlqDeps {
  /** Builds a replayer writing to the given store (`--store`). Without it `dlq replay` is unavailable. */
  createReplayer?: (options: { store: string }) => Promise<Replayer>
}

class UsageError extends Error {}

const OPTIONS = {
  json: { type: 'boolean' },
  prefix: { type: 'string' },
  key: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  yes: { type: 'boolean' },
  store: { type: 'string' },
} as const

interface Parsed {
  command: string
  dir: string
  values: { json?: boolean; prefix?: string; key?: string[]; all?: boolean; yes?: boolean; store?: string }
}

/**
 * Runs `dlq <args>` (the arguments after `dlq`), writing to `out`. Resolves with the exit code:
 * 0 done, 1 failed (missing dir, corrupt file, locked dir), 2 bad usage.
 */
export async function run(args: string[], out: NodeJS.WritableStream, deps: DlqDeps = {}): Promise<number> {
  try {
    const parsed = parse(args)
    await requireDir(parsed.dir)
    if (parsed.command === 'list') return await list(parsed, out)
    if (parsed.command === 'drop') return await drop(parsed, out)
    return await replayCommand(parsed, out, deps)
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    out.write(`error: ${error instanceof Error ? error.message : String(error)}\n${usage ? USAGE : ''}`)
    return usage ? 2 : 1
  }
}

function parse(args: string[]): Parsed {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true })
  const [command, dir, ...extra] = positionals
  if (command === undefined || !['list', 'drop', 'replay'].includes(command)) throw new UsageError(`unknown dlq command ${command ?? '(none)'}`)
  if (dir === undefined) throw new UsageError(`dlq ${command} needs a directory`)
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra.join(' ')}`)
  return { command, dir, values }
}

async function requireDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (info === undefined || !info.isDirectory()) throw new Error(`no such directory: ${dir}`)
}

async function list({ dir, values }: Parsed, out: NodeJS.WritableStream): Promise<number> {
  if (values.key !== undefined || values.all === true || values.yes === true || values.store !== undefined) {
    throw new UsageError('dlq list takes only --json and --prefix')
  }
  const { letters, tornBytes } = await readDeadLetters(dir)
  const shown = letters.filter(deadLetterMatcher(values.prefix === undefined ? undefined : { prefix: values.prefix }))
  if (values.json === true) {
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
  return [printable(letter.key), `v${letter.version}`, letter.kind, `attempts=${letter.attempts}`, when, printable(why)].join('\t')
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
  if (parsed.values.store !== undefined || parsed.values.json === true) throw new UsageError('dlq drop takes --key, --prefix, --all and --yes')
  const filter = selection(parsed, true)
  if (parsed.values.yes !== true) {
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
  const given = [values.key !== undefined, values.prefix !== undefined, values.all === true].filter(Boolean).length
  if (given > 1) throw new UsageError('give only one of --key, --prefix, --all')
  if (given === 0 && required) throw new UsageError('say what to drop: --key K (repeatable), --prefix P or --all')
  if (values.key !== undefined) return { keys: values.key }
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

async function replayCommand(parsed: Parsed, out: NodeJS.WritableStream, deps: DlqDeps): Promise<number> {
  if (parsed.values.all === true || parsed.values.yes === true || parsed.values.json === true) {
    throw new UsageError('dlq replay takes --store, and --key or --prefix to replay only some')
  }
  const store = parsed.values.store
  if (store === undefined) throw new UsageError('dlq replay needs --store <sqlite path>')
  if (deps.createReplayer === undefined) return replayThroughCache(parsed.dir, store, selection(parsed, false), out)
  const replayer = await deps.createReplayer({ store })
  return replayDeadLetters(parsed.dir, selection(parsed, false), replayer, out)
}

/**
 * The default replay: opens a cache on the dir with a SqliteStore (this takes the dir's lock and
 * replays the dirty log first, so a newer write of a key wins over its dead letter), replays the
 * selected letters with their original versions, and closes.
 */
async function replayThroughCache(dir: string, path: string, filter: DeadLetterFilter | undefined, out: NodeJS.WritableStream): Promise<number> {
  const { WriteBehindCache } = await import('../../core/write-behind-cache.js')
  const { SqliteStore } = await import('../../stores/sql/sqlite/index.js')
  const cache = await WriteBehindCache.open({ store: new SqliteStore({ path }), dir, warn: () => {} })
  try {
    const report = await cache.replayDeadLetters(filter)
    out.write(`Replayed ${plural(report.replayed)}; ${report.superseded} superseded by newer writes; ${report.failed} failed again (still in the queue).\n`)
    return report.failed > 0 || report.busy > 0 ? 1 : 0
  } finally {
    const closed = await cache.close()
    if (!closed.drained) out.write(`warning: ${closed.unflushed} writes from the log could not be flushed; they stay in the log.\n`)
  }
}

/**
 * ENGINE HOOK — replays the selected dead letters of `dir` through `replay` and removes from the
 * queue exactly the ones it reports as replayed (durably), under the directory lock. The cache
 * engine provides `replay` (write each letter to the store with its original version, so fencing
 * keeps newer data); the CLI gets it through `DlqDeps.createReplayer`. Resolves with an exit code.
 */
export async function replayDeadLetters(dir: string, filter: DeadLetterFilter | undefined, replay: Replayer, out: NodeJS.WritableStream): Promise<number> {
  const { tried, replayed } = await withQueue(dir, async (queue) => {
    const letters = queue.list(filter)
    const outcome = letters.length === 0 ? { replayed: [] } : await replay(letters)
    await queue.remove(outcome.replayed)
    return { tried: letters.length, replayed: outcome.replayed.length }
  })
  out.write(`Replayed ${plural(replayed)} of ${tried}.${replayed < tried ? ' The rest stay in the queue.' : ''}\n`)
  return replayed < tried ? 1 : 0
}

function plural(n: number): string {
  return `${n} dead letter${n === 1 ? '' : 's'}`
}
