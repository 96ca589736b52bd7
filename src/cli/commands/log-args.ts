/**
 * Argument parsing shared by the log commands (`inspect`, `verify`): one directory and flags,
 * through the CLI's one parser (args.ts). Exit codes follow the CLI's convention (exit-codes.ts):
 * 64 for bad arguments, 66 for a missing directory, 0 for `--help`.
 */
import { statSync } from 'node:fs'
import { numberOption, parseArgs, UsageError } from '../args.js'
import { EXIT } from '../exit-codes.js'
import { targetOf, type RedisWhere } from '../redis-target.js'
import { INSPECT_OPTIONS, INSPECT_USAGE, VERIFY_OPTIONS, VERIFY_USAGE } from '../usage.js'

export const EXIT_USAGE = EXIT.USAGE
export const EXIT_NO_INPUT = EXIT.NO_INPUT

export interface LogArgs {
  /** The directory ('' when `redis` is given). */
  readonly dir: string
  /** inspect only: `--redis <url> --name <name>` (or `--redis-cluster <nodes>`) instead of a directory. */
  readonly redis?: RedisWhere
  readonly json: boolean
  readonly limit: number
}

/**
 * Parses `<dir> [--json] [--limit n]` (`--limit` and `--redis <url> --name <name>` instead of
 * `<dir>`, for inspect only). Returns instead the text to
 * print and the exit code when the command should stop: an error with the usage, or `--help`.
 */
export function parseLogArgs(args: string[], command: 'inspect' | 'verify'): LogArgs | { error: string; code: number } {
  const usage = command === 'inspect' ? INSPECT_USAGE : VERIFY_USAGE
  try {
    const parsed = parseArgs(args, command === 'inspect' ? INSPECT_OPTIONS : VERIFY_OPTIONS)
    if (parsed.options.help === true) return { error: usage, code: EXIT.OK }
    const [dir, ...extra] = parsed.positionals
    if (extra.length > 0) throw new UsageError(`unexpected argument ${extra.join(' ')}`)
    const target = command === 'inspect' ? targetOf(dir, parsed, command) : undefined
    if (target !== undefined && 'redis' in target) return { dir: '', redis: target.redis, json: parsed.options.json === true, limit: numberOption(parsed, 'limit') ?? 0 }
    if (dir === undefined) throw new UsageError('missing the log directory')
    if (!isDirectory(dir)) return { error: `${command}: ${dir} is not a directory\n`, code: EXIT.NO_INPUT }
    return { dir, json: parsed.options.json === true, limit: numberOption(parsed, 'limit') ?? 0 }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    const synopsis =
      command === 'inspect' ? 'writebehind inspect (<dir> | --redis <url> --name <name> | --redis-cluster <host:port,...> --name <name>) [--json] [--limit n]' : 'writebehind verify <dir> [--json]'
    return { error: `${command}: ${error.message}\nusage: ${synopsis} (see writebehind ${command} --help)\n`, code: EXIT.USAGE }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
