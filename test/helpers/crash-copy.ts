/**
 * An in-process crash, for tests that cannot afford a child process per crash: `crashCopy` copies a
 * cache's dir as the OS holds it now (what a kill -9 would leave: the log's unwritten buffer is
 * lost, written records survive), and `KillableStore` cuts the crashed cache off its store, so the
 * test can open a new cache on the copy with the same store while the old one is simply abandoned
 * (never closed, its FakeClock never advanced again). Store calls the old cache made before the
 * kill went through (and may have applied without it learning so), as they would in a real crash.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BatchResult, LoadedEntry, MergeKind, Store, StoreOp } from '../../src/contracts/store.js'

/**
 * Copies every file of `dir` (but its LOCK and temp files) into a fresh temp dir; returns the copy.
 * The log's appends run on this thread, but a checkpoint, its segment deletions and dead-letter
 * appends run in the background: the copy is taken again until no file changed while it ran, so it
 * is one moment's state, as a crash leaves it.
 */
export function crashCopy(dir: string): string {
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = listing(dir)
    const copy = mkdtempSync(join(tmpdir(), 'wb-crashed-'))
    try {
      for (const name of before.keys()) copyFileSync(join(dir, name), join(copy, name))
    } catch (error) {
      rmSync(copy, { recursive: true, force: true })
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw error
    }
    if (isDeepStrictEqual(listing(dir), before)) return copy
    rmSync(copy, { recursive: true, force: true })
  }
  throw new Error(`crashCopy: ${dir} kept changing`)
}

/** Name → size and change time of each file worth copying. */
function listing(dir: string): Map<string, string> {
  const files = new Map<string, string>()
  for (const name of readdirSync(dir)) {
    if (name === 'LOCK' || name.endsWith('.tmp')) continue
    try {
      const { size, mtimeMs, ino } = statSync(join(dir, name))
      files.set(name, `${size}:${mtimeMs}:${ino}`)
    } catch {
      files.set(name, 'gone')
    }
  }
  return files
}

/** Forwards to `inner` until `kill()`; after that, every call hangs (the process is gone). */
export class KillableStore implements Store {
  private killed = false
  readonly merges: readonly MergeKind[] | undefined

  constructor(private readonly inner: Store) {
    this.merges = inner.merges
  }

  kill(): void {
    this.killed = true
  }

  writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    return this.killed ? new Promise(() => {}) : this.inner.writeBatch(ops)
  }

  load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    return this.killed ? new Promise(() => {}) : this.inner.load(keys)
  }
}
