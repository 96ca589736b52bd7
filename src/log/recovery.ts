/**
 * Recovery, run by `DirtyLog.open()` under the writer lock: reads every segment, keeps the intact
 * records above the checkpoint's low-water mark, and repairs the directory.
 *
 * - A torn record (cut short, or a zero-filled tail) at the end of the LAST segment is a crash in
 *   the middle of a write: the file is cut back to the last intact record and reported.
 * - Any other problem (bad checksum or framing anywhere, a segment cut short before later ones)
 *   throws `LogCorruptionError` naming the segment and offset, unless `mode` is `truncate`: then
 *   the bad record, the rest of its segment and every later segment are dropped and counted.
 * - Leading segments whose records are all ≤ lowWater are deleted (a crash may have come between a
 *   checkpoint and its deletions), and so are empty segments at the end (a session that appended
 *   nothing); a segment is never deleted from the middle, which would break the segment chain.
 * - Segments are chained (each header names its predecessor's size): a middle segment cut short at
 *   a record boundary, or missing, is corruption like any other. The chain is anchored at its
 *   start by the checkpoint's `firstSegment`: a missing first segment is corruption too (with
 *   `truncate`, its loss is reported and the chain re-anchored at the first segment present).
 * - Before deleting leading segments, recovery writes a checkpoint naming the new first segment,
 *   so the anchor never points at a segment it deleted.
 * - Every surviving segment, and the directory, is fsynced, so what recovery returns (names
 *   included) is on disk before the new segment is created.
 *
 * Non-last segments never hold torn tails after a power loss, nor go missing, because the writer
 * fsyncs a segment and the directory before it creates the next one.
 */
import { open, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { LogCorruptionError } from '../errors.js'
import { fsyncDir, writeCheckpoint, type Checkpoint } from './checkpoint.js'
import { REMEDY } from './remedies.js'
import { checkAnchor, scanAllSegments, type SegmentScan } from './segment-reader.js'
import type { LogEvent, LogRecord, Recovered, Truncation } from './types.js'

/** A segment that survived recovery, as the writer tracks it. */
export interface SegmentInfo {
  readonly name: string
  readonly seq: number
  readonly bytes: number
  readonly records: number
  /** Highest version in the segment (0 when empty). */
  readonly maxVersion: number
}

export interface RecoveryResult {
  readonly recovered: Recovered
  /** Surviving segments, oldest first. */
  readonly segments: SegmentInfo[]
  /**
   * Highest segment number seen (0 if none). With survivors, the next segment follows the last
   * survivor (the chain check wants consecutive numbers; files after it were deleted).
   */
  readonly lastSeq: number
  /** The checkpoint as recovery left it (re-anchored if it deleted leading segments). */
  readonly checkpoint: Checkpoint
}

interface Plan {
  truncation: Truncation | undefined
  /** Index of the segment the truncation cuts (it survives unless cut at offset 0); past the end if none. */
  cutIndex: number
}

/** Recovers `dir` (see the module header); emits a `truncated` event for each cut. */
export async function recover(dir: string, checkpoint: Checkpoint, mode: 'strict' | 'truncate', emit: (e: LogEvent) => void): Promise<RecoveryResult> {
  const records: LogRecord[] = []
  const collected: number[] = []
  const scans = scanAllSegments(dir, (record, index) => {
    if (record.version <= checkpoint.lowWater) return
    records.push(record)
    collected[index] = (collected[index] ?? 0) + 1
  })
  const lostStart = checkStart(scans, checkpoint, mode)
  const plan = planCuts(scans, mode)
  records.length = collected.slice(0, plan.cutIndex + 1).reduce((sum, n) => sum + (n ?? 0), 0)
  const highest = highestVersion(scans, checkpoint)
  const { survivors, anchored } = await applyPlan(dir, scans, plan, { ...checkpoint, highWater: highest })
  const truncations = [lostStart, plan.truncation].filter((t): t is Truncation => t !== undefined)
  for (const truncation of truncations) emit({ type: 'truncated', ...truncation })
  const recovered: Recovered = { records, lowWater: checkpoint.lowWater, highestVersion: highest, truncations }
  return { recovered, segments: survivors, lastSeq: scans.at(-1)?.seq ?? 0, checkpoint: anchored }
}

/** A missing first segment: `LogCorruptionError` in strict mode; with `truncate`, the loss reported. */
function checkStart(scans: SegmentScan[], checkpoint: Checkpoint, mode: 'strict' | 'truncate'): Truncation | undefined {
  const missing = checkAnchor(scans, checkpoint.firstSegment)
  if (missing === undefined) return undefined
  if (mode === 'strict') throw new LogCorruptionError(missing.name, 0, missing.reason, REMEDY.missingStart)
  return { segment: missing.name, offset: 0, droppedRecords: 0, reason: `${missing.reason}; whatever they held is lost (recovery: truncate; the count is unknown)` }
}

/** Decides where to cut, or throws for corruption in strict mode. */
function planCuts(scans: SegmentScan[], mode: 'strict' | 'truncate'): Plan {
  const index = scans.findIndex((scan) => scan.problem !== undefined)
  const bad = scans[index]
  if (bad?.problem === undefined) return { truncation: undefined, cutIndex: scans.length }
  const isTornTail = bad.problem.kind === 'torn' && index === scans.length - 1
  if (!isTornTail && mode === 'strict') {
    const reason = bad.problem.kind === 'torn' ? `${bad.problem.reason}, but later segments follow` : bad.problem.reason
    throw new LogCorruptionError(bad.name, bad.problem.offset, reason)
  }
  const later = scans.slice(index + 1).reduce((sum, scan) => sum + scan.records + (scan.problem?.recordsFromOffset ?? 0), 0)
  const reason = isTornTail ? `torn tail: ${bad.problem.reason}` : `corrupt record dropped (recovery: truncate): ${bad.problem.reason}`
  const truncation = { segment: bad.name, offset: bad.problem.offset, droppedRecords: bad.problem.recordsFromOffset + later, reason }
  return { truncation, cutIndex: index }
}

/**
 * Applies the plan in a crash-safe order: first deletes the segments after the cut (newest
 * first, then fsyncs the directory), then cuts, so a crash in between never leaves a chain break
 * that a later strict open would call corruption. Then deletes the leading segments that hold
 * nothing above lowWater and trailing empty ones (only ends of the chain, never its middle), and
 * fsyncs what survives.
 */
async function applyPlan(dir: string, scans: SegmentScan[], plan: Plan, checkpoint: Checkpoint): Promise<{ survivors: SegmentInfo[]; anchored: Checkpoint }> {
  const { lowWater } = checkpoint
  const afterCut = scans.slice(plan.cutIndex + 1).reverse()
  for (const scan of afterCut) await unlink(join(dir, scan.name))
  if (afterCut.length > 0) await fsyncDir(dir)
  const kept = scans.slice(0, plan.cutIndex + 1).map((scan, index) => {
    const cut = index === plan.cutIndex && plan.truncation !== undefined
    return { name: scan.name, seq: scan.seq, bytes: cut ? scan.end : scan.bytes, records: scan.records, maxVersion: scan.lastVersion, cut }
  })
  const cutOne = kept.find((segment) => segment.cut && segment.bytes > 0)
  if (cutOne !== undefined) await truncate(join(dir, cutOne.name), cutOne.bytes)
  let first = 0
  while (first < kept.length && (kept[first]!.records === 0 || kept[first]!.maxVersion <= lowWater)) first++
  let end = kept.length
  while (end > first && kept[end - 1]!.records === 0) end--
  const survivors = kept.slice(first, end).map(({ cut: _cut, ...segment }) => segment)
  // The anchor moves before the segments it stops naming go (none survive: the next segment starts a chain).
  const newFirst = survivors[0]?.seq
  let anchored = checkpoint
  if (newFirst !== undefined && newFirst !== checkpoint.firstSegment) {
    anchored = { ...checkpoint, firstSegment: newFirst }
    await writeCheckpoint(dir, anchored)
  }
  const doomed = [...kept.slice(0, first), ...kept.slice(end)]
  for (const segment of doomed) await unlink(join(dir, segment.name))
  for (const segment of survivors) await fdatasyncFile(join(dir, segment.name))
  // Always: a crashed session may have created its last segment without ever fsyncing the directory.
  await fsyncDir(dir)
  return { survivors, anchored }
}

async function fdatasyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    await handle.datasync()
  } finally {
    await handle.close()
  }
}

function highestVersion(scans: SegmentScan[], checkpoint: Checkpoint): number {
  let highest = checkpoint.highWater
  for (const scan of scans) highest = Math.max(highest, scan.lastVersion, scan.problem?.versionAfter ?? 0)
  return highest
}
