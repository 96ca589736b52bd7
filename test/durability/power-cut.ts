/**
 * A simulated power loss: copies a live dirty-log directory as a power cut would leave it, each
 * segment cut at the offset the log reports as fsynced (`DirtyLog.stats().syncedOffsets`), the
 * other files (checkpoint, dead letters) whole, and the `LOCK` left out (its process is gone).
 * Given the names whose directory entries were fsynced (dir-sync-tracker.ts), a segment whose
 * entry was not is left out too: after a power loss its name may be gone, whatever its contents.
 * Synchronous, so the copy, the offsets and whatever the caller records in the same turn agree.
 */
import { copyFileSync, mkdirSync, openSync, readdirSync, closeSync, readSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { WriteBehindCache } from '../../src/index.js'
import type { DirtyLog } from '../../src/log/dirty-log.js'

const SEGMENT = /^segment-\d+\.wbl$/

/** The cache's dirty log. The cache exposes no log stats, so this reads it from the engine's tier. */
export function logOf(cache: WriteBehindCache): DirtyLog {
  const log = cache['engine'].tier['log']
  if (log === undefined) throw new Error('the cache has no dirty log (no dir)')
  return log
}

export interface PowerCut {
  /** Bytes of segments that were written but not yet fsynced, left out of the copy. */
  readonly droppedBytes: number
  /** Segments copied. */
  readonly segments: number
  /** Segments left out because their directory entry was not fsynced. */
  readonly vanished: string[]
}

/** Copies `dir` to `to` as a power loss would leave it now (see the module header). */
export function copyAtSyncedOffsets(dir: string, to: string, synced: Readonly<Record<string, number>>, durableNames?: ReadonlySet<string>): PowerCut {
  mkdirSync(to, { recursive: true })
  let droppedBytes = 0
  let segments = 0
  const vanished: string[] = []
  for (const name of readdirSync(dir)) {
    if (name === 'LOCK' || name.startsWith('LOCK.')) continue
    if (!SEGMENT.test(name)) {
      copyFileSync(join(dir, name), join(to, name))
      continue
    }
    const keep = synced[name]
    if (keep === undefined) throw new Error(`segment ${name} is on disk but the log reports no synced offset for it`)
    const size = statSync(join(dir, name)).size
    if (durableNames !== undefined && !durableNames.has(name)) {
      vanished.push(name)
      droppedBytes += size
      continue
    }
    writeFileSync(join(to, name), readPrefix(join(dir, name), Math.min(keep, size)))
    droppedBytes += Math.max(0, size - keep)
    segments++
  }
  return { droppedBytes, segments, vanished }
}

function readPrefix(path: string, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes)
  const fd = openSync(path, 'r')
  try {
    let done = 0
    while (done < bytes) {
      const n = readSync(fd, buf, done, bytes - done, done)
      if (n === 0) break
      done += n
    }
    return buf.subarray(0, done)
  } finally {
    closeSync(fd)
  }
}
