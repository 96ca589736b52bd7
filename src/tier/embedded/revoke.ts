/**
 * Rolls back the writes a failed log write rejected. A write at durability `log` or `disk` is
 * applied to the memory tier and the backlog at once (so `get()` reads it), while its log record
 * is only buffered; the write(2) follows in a microtask, a later turn, or just before the next
 * batch is taken (no op reaches the store before its log record reached the OS). If that write(2)
 * fails, every write whose record was in it is rejected with `LogFailedError`, and here it is
 * undone: each entry goes back to its state before its first such write (`Undo`), so an earlier
 * acknowledged value of the key is served and flushed again, and an op kept per write is dropped.
 * A write that was already acknowledged (durability `memory` or `store`) is kept even if its
 * record was in the failed write: it stays in memory and is flushed, but is no longer crash-safe.
 */
import type { Backlog } from './backlog.js'
import type { Entry, MemoryTier, Undo } from './memory-tier.js'

/**
 * Undoes every revocable write above `writtenVersion`; returns how many keys went back. `inFlight`
 * holds the keys of ops in a flight (their outcome cleans the entry).
 */
export function revokeUnlogged(memory: MemoryTier, backlog: Backlog, inFlight: ReadonlySet<string>, writtenVersion: number): number {
  backlog.dropRevoked(writtenVersion)
  const reverted: Array<[Entry, Undo]> = memory.revocable(writtenVersion)
  const queued = reverted.length === 0 || backlog.coalescing ? undefined : new Set(backlog.keys())
  for (const [entry, undo] of reverted) {
    backlog.revert(entry, undo)
    memory.revert(entry, undo)
    if (undo.encoded === undefined || entry.dirtySince !== 0) continue
    // Clean again unless an op of the key is still in flight (its applied() cleans it) or queued.
    if (!inFlight.has(entry.key) && queued?.has(entry.key) !== true) memory.markClean(entry)
  }
  memory.releaseUndo()
  return reverted.length
}
