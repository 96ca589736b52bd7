/**
 * The one exit-code convention of every `writebehind` command (sysexits-style), and the errors
 * that carry a code out of a command. `verify` keeps its own documented 0 / 1 / 2 answer.
 */

export const EXIT = {
  /** Done. */
  OK: 0,
  /** The command's negative answer: not everything was flushed or replayed (`verify`: a torn tail). */
  NEGATIVE: 1,
  /** `verify` only: corrupt or unreadable records. */
  CORRUPT: 2,
  /** Bad usage: an unknown command or option, a missing or bad argument. */
  USAGE: 64,
  /** A file of the dir is corrupt and the command cannot read it (the dead-letter file, the log). */
  DATA: 65,
  /** No input: the dir (or the --config module) does not exist, or is not a writebehind dir. */
  NO_INPUT: 66,
  /** The store is unavailable: unreachable, refused the check, its driver is not installed. */
  UNAVAILABLE: 69,
  /** An internal error (a bug: please report it with the message). */
  INTERNAL: 70,
  /** The dir is in use by a running cache (its lock is held): try again once it has stopped. */
  LOCKED: 75,
} as const

/** The convention as the help texts print it. */
export const EXIT_CODES_HELP = `Exit codes (every command):
  0   done
  1   the command's negative answer: recover left keys unflushed, dlq replay left letters in
      the queue, verify found only a torn tail (a crash mid-write, repaired by the next open)
  2   verify: corrupt or unreadable records
  64  bad usage (unknown command or option, missing or bad argument)
  65  a file of the dir is corrupt (the dead-letter file, the log)
  66  no input: the dir or the --config module does not exist, or is not a writebehind dir
  69  the store is unavailable (unreachable, refused the check, driver not installed);
      nothing in the dir was changed
  70  internal error
  75  the dir is in use by a running cache: stop it first
`

/** An error that ends a command with `exitCode`; its message says what to do. */
export class CliError extends Error {
  override readonly name = 'CliError'
  constructor(
    readonly exitCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The exit code for an error a command did not expect by name: by its stable `code`. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode
  const code = (error as { code?: unknown } | undefined)?.code
  if (code === 'E_DIR_LOCKED') return EXIT.LOCKED
  if (code === 'E_LOG_CORRUPT' || code === 'E_LOG_FORMAT' || code === 'E_DEAD_LETTERS_CORRUPT') return EXIT.DATA
  if (code === 'E_STORE_UNAVAILABLE' || code === 'E_REDIS_UNAVAILABLE') return EXIT.UNAVAILABLE
  return EXIT.INTERNAL
}
