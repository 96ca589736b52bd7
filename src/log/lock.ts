/**
 * One writer per log directory: a `LOCK` file holding the owner's pid. It is created with its
 * content in one step (write a temp file, then `link` it to `LOCK`, which fails if `LOCK`
 * exists), so a reader never sees an empty lock. A lock whose pid is not a live process is stale
 * and taken over: renamed aside (only one taker can rename it), checked, then replaced.
 *
 * Limits: a stale pid reused by an unrelated live process makes the lock look held (remove
 * `LOCK` by hand); the lock is advisory and means nothing across hosts sharing a network disk.
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DirectoryLockedError } from '../errors.js'

export const LOCK_FILE = 'LOCK'

/** Takes the lock of `dir` for this process, or throws `DirectoryLockedError` naming the holder's pid. */
export function acquireLock(dir: string): void {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(dir, path)) return
    const holder = readPid(path)
    if (holder === 'missing') continue
    if (holder !== undefined && isAlive(holder)) throw new DirectoryLockedError(dir, holder)
    takeOverStale(dir, path, holder)
  }
  const holder = readPid(path)
  throw new DirectoryLockedError(dir, typeof holder === 'number' ? holder : undefined)
}

/** Removes the lock if this process holds it. Safe to call more than once. */
export function releaseLock(dir: string): void {
  const path = join(dir, LOCK_FILE)
  if (readPid(path) === process.pid) rmSync(path, { force: true })
}

/** Reads the pid in a lock file: `missing` if there is no file, undefined if it holds no pid. */
export function readPid(path: string): number | 'missing' | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
  const pid = Number(text.trim())
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}

/** True if a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function tryCreate(dir: string, path: string): boolean {
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.tmp`)
  writeFileSync(temp, `${process.pid}\n`, { mode: 0o600 })
  try {
    linkSync(temp, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    rmSync(temp, { force: true })
  }
}

/**
 * Moves a stale lock aside. If what was moved turns out to be a live process's lock (it replaced
 * the stale one in between), puts it back and reports it as held.
 */
function takeOverStale(dir: string, path: string, stalePid: number | undefined): void {
  const aside = join(dir, `${LOCK_FILE}.stale-${process.pid}`)
  try {
    renameSync(path, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  const moved = readPid(aside)
  if (typeof moved === 'number' && moved !== stalePid && isAlive(moved)) {
    try {
      linkSync(aside, path)
    } finally {
      rmSync(aside, { force: true })
    }
    throw new DirectoryLockedError(dir, moved)
  }
  rmSync(aside, { force: true })
}
