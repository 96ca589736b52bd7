/**
 * One writer per log directory, held by two things:
 *
 * - On Linux, a **kernel lock**: an abstract-namespace Unix socket named after the directory's
 *   device and inode (`\0writebehind-<dev>-<ino>`). Only one process can bind a name; it has no
 *   file, so no /tmp cleaner or `rm` can remove it; and the kernel frees it the moment its holder
 *   dies, `kill -9` included, so a restart gets in at once. A process refused the name connects
 *   to it and the holder answers with its pid (the one the error names). If the holder is dying
 *   (its socket still bound), the connection closes unanswered and the bind is tried again.
 * - Everywhere, the **`LOCK` file** holding the holder's pid: what `inspect` shows and, where there
 *   is no kernel lock, the lock itself. It is written whole (temp file, then `link`/`rename`). The
 *   live holder checks it (`DirLock.check()`, run by the dirty log before every checkpoint and
 *   every second) and writes it again if it was deleted.
 *
 * Limits. The abstract namespace belongs to a network namespace: two containers that share a
 * volume but not a network namespace do not see each other's socket, and only the `LOCK` file
 * stands between them (a holder that finds another pid in it fails its log rather than delete
 * segments). Without the kernel lock (not Linux, or the bind is refused by a sandbox), a stale
 * pid reused by an unrelated live process makes the lock look held (remove `LOCK` by hand), and
 * a `LOCK` deleted under a live holder lets a second process in until the holder's next check.
 * Neither lock means anything across hosts sharing a network disk.
 */
import { linkSync, readFileSync, renameSync, statSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { DirectoryLockedError } from '../errors.js'
import { unlinkIfPresentSync, writeNewFileSync } from './safe-files.js'

export const LOCK_FILE = 'LOCK'
/** How long a refused opener waits for the holder to answer with its pid. */
const ASK_TIMEOUT_MS = 2000
/** Binds tried while a dying holder lets go of the name. */
const BIND_ATTEMPTS = 50

/** What `DirLock.check()` found: the file as it should be, rewritten after a deletion, or naming someone else. */
export type LockCheck = { readonly state: 'ok' | 'restored' } | { readonly state: 'taken'; readonly pid: number | undefined }

/** A held directory lock. */
export interface DirLock {
  readonly dir: string
  /** `kernel` when the abstract socket holds it too (Linux), `file` when only the `LOCK` file does. */
  readonly kind: 'kernel' | 'file'
  /** Checks the `LOCK` file, rewriting it if it is missing (or unreadable junk while the kernel lock is held). */
  check(): LockCheck
  /** Removes the `LOCK` file (if it still names this process) and lets go of the kernel lock. Idempotent; never throws. */
  release(): void
}

/** Locks this process holds, by directory identity (device and inode), and the path each was taken by. */
const held = new Map<string, { readonly path: string; lock?: DirLock }>()

/**
 * Takes the lock of `dir` for this process. Throws `DirectoryLockedError` naming the holder's pid
 * (`inThisProcess` when it is this process).
 */
export async function acquireLock(dir: string): Promise<DirLock> {
  const id = dirIdentity(dir)
  if (held.has(id)) throw new DirectoryLockedError(dir, process.pid, true)
  const slot: { path: string; lock?: DirLock } = { path: dir }
  held.set(id, slot)
  let server: Server | undefined
  try {
    server = process.platform === 'linux' ? await bindKernelLock(dir, id) : undefined
    if (server === undefined) takeLockFile(dir)
    else writeLockFile(dir)
    slot.lock = new HeldLock(dir, id, server)
    return slot.lock
  } catch (error) {
    server?.close()
    held.delete(id)
    throw error
  }
}

/** Releases the lock this process holds on `dir`, if any. Safe to call more than once. */
export function releaseLock(dir: string): void {
  for (const [id, slot] of held) {
    if (slot.path === dir) {
      if (slot.lock === undefined) held.delete(id)
      else slot.lock.release()
    }
  }
}

class HeldLock implements DirLock {
  readonly kind: 'kernel' | 'file'
  private released = false

  constructor(
    readonly dir: string,
    private readonly id: string,
    private readonly server: Server | undefined,
  ) {
    this.kind = server === undefined ? 'file' : 'kernel'
  }

  check(): LockCheck {
    const path = join(this.dir, LOCK_FILE)
    const pid = readPid(path)
    if (pid === process.pid) return { state: 'ok' }
    if (this.kind === 'kernel') {
      // A live pid here while we hold the kernel lock is a process in another network namespace.
      if (typeof pid === 'number' && isAlive(pid)) return { state: 'taken', pid }
      writeLockFile(this.dir)
      return { state: 'restored' }
    }
    if (pid === 'missing') return tryCreate(this.dir) ? { state: 'restored' } : { state: 'taken', pid: numberOrUndefined(readPid(path)) }
    return { state: 'taken', pid }
  }

  release(): void {
    if (this.released) return
    this.released = true
    try {
      // The file first: once the kernel lock is free, a new holder may write its own.
      if (readPid(join(this.dir, LOCK_FILE)) === process.pid) unlinkIfPresentSync(join(this.dir, LOCK_FILE))
    } catch {
      // Best effort: a LOCK file left behind names a pid that is gone or is this process, and the
      // kernel lock (released below) or the stale-pid check lets the next opener in.
    } finally {
      this.server?.close()
      held.delete(this.id)
    }
  }
}

/** Reads the pid in a lock file: `missing` if there is no file, undefined if it holds no pid. */
export function readPid(path: string): number | 'missing' | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return 'missing'
    if (code === 'EISDIR') return undefined
    throw error
  }
  const pid = Number(text.trim())
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}

/**
 * True if a process with this pid exists and is not a zombie (EPERM: it exists but belongs to
 * another user). A killed process stays a zombie until its parent reaps it, which is not "alive".
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  return !isZombie(pid)
}

function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false
  try {
    // Format: "pid (comm) S ...": the state follows the last ')', comm may hold anything.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state === 'Z' || state === 'X'
  } catch {
    return false
  }
}

/** The directory's device and inode: the same dir reached by two paths is one lock. */
function dirIdentity(dir: string): string {
  const stat = statSync(dir, { bigint: true })
  return `${stat.dev}-${stat.ino}`
}

/**
 * Binds the abstract socket. Resolves to the server, or undefined when this system refuses such
 * sockets (then only the file holds). Throws `DirectoryLockedError` when a live process holds it.
 */
async function bindKernelLock(dir: string, id: string): Promise<Server | undefined> {
  const name = `\0writebehind-${id}`
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const bound = await listen(name)
    if (bound !== 'in-use') return bound
    const answer = await askHolder(name)
    if (typeof answer === 'number') throw new DirectoryLockedError(dir, answer, answer === process.pid)
    if (answer === 'silent') break
    // 'gone': the holder died while we asked; its name is (about to be) free.
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new DirectoryLockedError(dir, numberOrUndefined(readPid(join(dir, LOCK_FILE))))
}

function listen(name: string): Promise<Server | 'in-use' | undefined> {
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      socket.on('error', () => {})
      socket.end(`${process.pid}\n`)
    })
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE' ? 'in-use' : undefined))
    server.listen(name, () => {
      server.unref() // the lock never keeps the process alive
      resolve(server)
    })
  })
}

/** Asks the holder of `name` for its pid: `gone` when the connection ends unanswered, `silent` after the timeout. */
function askHolder(name: string): Promise<number | 'gone' | 'silent'> {
  return new Promise((resolve) => {
    let text = ''
    const socket = createConnection(name)
    // Real time on purpose: this waits for another process, not for the cache's clock.
    const timer = setTimeout(() => {
      socket.destroy()
      resolve('silent')
    }, ASK_TIMEOUT_MS)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const pid = Number(text.trim())
      resolve(text.endsWith('\n') && Number.isSafeInteger(pid) && pid > 0 ? pid : 'gone')
    })
  })
}

/** With the kernel lock held, whatever `LOCK` says is stale: replace it atomically with this pid. */
function writeLockFile(dir: string): void {
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.tmp`)
  writeNewFileSync(temp, `${process.pid}\n`)
  try {
    renameSync(temp, join(dir, LOCK_FILE))
  } finally {
    unlinkIfPresentSync(temp)
  }
}

/** The file-only lock: create `LOCK`, or take over a stale one (dead pid or junk). */
function takeLockFile(dir: string): void {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(dir)) return
    const holder = readPid(path)
    if (holder === 'missing') continue
    // Our own pid here is a LOCK a failed release left behind: this process does not hold the dir (see `held`).
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) throw new DirectoryLockedError(dir, holder)
    takeOverStale(dir, path, holder)
  }
  throw new DirectoryLockedError(dir, numberOrUndefined(readPid(path)))
}

/** Creates `LOCK` with this pid in one step; false if it exists. */
function tryCreate(dir: string): boolean {
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.tmp`)
  writeNewFileSync(temp, `${process.pid}\n`)
  try {
    linkSync(temp, join(dir, LOCK_FILE))
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    unlinkIfPresentSync(temp)
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
      unlinkIfPresentSync(aside)
    }
    throw new DirectoryLockedError(dir, moved)
  }
  unlinkIfPresentSync(aside)
}

function numberOrUndefined(pid: number | 'missing' | undefined): number | undefined {
  return typeof pid === 'number' ? pid : undefined
}

/** How often a holder checks its `LOCK` file (and writes it again if it was deleted). */
const LOCK_CHECK_MS = 1000

/**
 * Calls `check` every `LOCK_CHECK_MS` until the returned function is called; a throw (an I/O
 * error, or the lock found taken, which `check` reports itself) waits for the next round. Real
 * time, not an injected clock: it watches other processes (a /tmp cleaner), and a test's fake
 * clock moving days ahead must not run thousands of checks.
 */
export function watchLock(check: () => void): () => void {
  const timer = setInterval(() => {
    try {
      check()
    } catch {
      // reported by `check` itself, or retried next round
    }
  }, LOCK_CHECK_MS)
  timer.unref()
  return () => clearInterval(timer)
}
