/**
 * Argument parsing shared by the log commands (`inspect`, `verify`): one directory and flags.
 * Exit codes follow sysexits for misuse: 64 for bad arguments, 66 for a missing directory.
 */
import { statSync } from 'node:fs'

export const EXIT_USAGE = 64
export const EXIT_NO_INPUT = 66

export interface LogArgs {
  readonly dir: string
  readonly json: boolean
  readonly limit: number
}

/** Parses `<dir> [--json] [--limit n]`; returns an error message instead when they are wrong. */
export function parseLogArgs(args: string[], defaultLimit: number): LogArgs | { error: string; code: number } {
  let dir: string | undefined
  let json = false
  let limit = defaultLimit
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--json') json = true
    else if (arg === '--limit') {
      limit = Number(args[++i])
      if (!Number.isSafeInteger(limit) || limit < 0) return { error: '--limit takes a non-negative integer', code: EXIT_USAGE }
    } else if (arg.startsWith('-')) return { error: `unknown option ${arg}`, code: EXIT_USAGE }
    else if (dir === undefined) dir = arg
    else return { error: `unexpected argument ${arg}`, code: EXIT_USAGE }
  }
  if (dir === undefined) return { error: 'missing the log directory', code: EXIT_USAGE }
  if (!isDirectory(dir)) return { error: `${dir} is not a directory`, code: EXIT_NO_INPUT }
  return { dir, json, limit }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
