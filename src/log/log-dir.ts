/**
 * Preparing a log directory before the lock is taken: create it (mode 0700) if missing, and turn
 * what can be wrong with it into `InvalidDirectoryError` with a remedy instead of a raw errno.
 *
 * Safety: a dir that others (not the owner, not the group) may write to is refused: anyone could
 * delete or replace its segments, checkpoint or lock. A dir writable by its group, or owned by
 * another user, only warns (`WB_DIR_GROUP_WRITABLE`, `WB_DIR_FOREIGN_OWNER`): both are common
 * and legitimate (a umask of 002 with per-user groups; a root process on a volume owned by the
 * app's user), and refusing them would break working deploys for a risk their owner chose.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { InvalidDirectoryError } from '../errors.js'

/** Receives a one-time warning about the dir. */
export type DirWarn = (code: string, message: string) => void

/** Creates `dir` if needed and checks it can hold a log; throws `InvalidDirectoryError`. */
export function prepareLogDir(dir: string, warn: DirWarn): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (error) {
    throw directoryError(dir, error) ?? error
  }
  const stat = statSync(dir)
  if (!stat.isDirectory()) throw notADirectory(dir, 'ENOTDIR', undefined)
  try {
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (error) {
    throw directoryError(dir, error) ?? error
  }
  checkSafety(dir, stat.mode, stat.uid, warn)
}

/** The typed error for an errno met while creating or using `dir`, or undefined if it is not about the dir. */
export function directoryError(dir: string, error: unknown): InvalidDirectoryError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EEXIST' || code === 'ENOTDIR') return notADirectory(dir, code, error)
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new InvalidDirectoryError(
      dir,
      'not-writable',
      `Cannot use ${dir} as the cache's dir: this process (uid ${process.getuid?.() ?? '?'}) cannot create or write files there (${code}). ` +
        'Give the user running it write access (chown/chmod), mount it read-write, or point `dir` elsewhere.',
      { cause: error },
    )
  }
  return undefined
}

function notADirectory(dir: string, code: string, cause: unknown): InvalidDirectoryError {
  return new InvalidDirectoryError(
    dir,
    'not-a-directory',
    `Cannot use ${dir} as the cache's dir: it, or a directory above it, is a file (${code}). Point \`dir\` at a directory, or at a path that does not exist yet (it is created).`,
    { cause },
  )
}

function checkSafety(dir: string, mode: number, uid: number, warn: DirWarn): void {
  const sticky = (mode & 0o1000) !== 0
  if ((mode & 0o002) !== 0) {
    throw new InvalidDirectoryError(
      dir,
      'unsafe',
      `Refusing ${dir} as the cache's dir: any user may write to it (mode ${octal(mode)}${sticky ? ', sticky' : ''}), and so delete or replace its log. ` +
        `Use a dir of its own (\`mkdir -m 700\`), or \`chmod o-w ${dir}\`.`,
    )
  }
  if ((mode & 0o020) !== 0) {
    warn('WB_DIR_GROUP_WRITABLE', `The cache's dir ${dir} is writable by its group (mode ${octal(mode)}): members can alter the log. \`chmod g-w ${dir}\` if that is not intended.`)
  }
  const me = process.getuid?.()
  if (me !== undefined && uid !== me) {
    warn(
      'WB_DIR_FOREIGN_OWNER',
      `The cache's dir ${dir} is owned by uid ${uid}, not by this process (uid ${me}): that user can alter the log. \`chown\` it to the user running the cache if that is not intended.`,
    )
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`
}
