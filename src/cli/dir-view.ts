/**
 * A read-only view of a log directory for the `inspect` and `verify` commands: the segments, the
 * checkpoint and the dead-letter file, each problem with the remedy that applies to it. It never
 * takes the writer lock and never repairs anything, so it works on a dead process's dir and does
 * not disturb a live one (whose tail it may see mid-write: that shows as a torn tail). A file it
 * cannot read (a directory in its place, no permission) is a problem, not an exception.
 */
import { join } from 'node:path'
import { LogCorruptionError, LogFormatError, WriteBehindError } from '../errors.js'
import { DEAD_LETTER_FILE, parseLog } from '../dead-letters/file.js'
import { CHECKPOINT_FILE, readCheckpoint, readFileOf, type Checkpoint } from '../log/checkpoint.js'
import { REMEDY } from '../log/remedies.js'
import { isAlive, LOCK_FILE, readPid } from '../log/lock.js'
import { checkAnchor, checkChains, listSegments, scanSegment, type SegmentScan } from '../log/segment-reader.js'
import type { LogRecord } from '../log/types.js'

export interface LogProblem {
  /**
   * `torn`: a cut-short tail of the last segment or of the dead-letter file (a crash mid-write;
   * the next open repairs it). `unreadable`: the file could not be read at all.
   */
  readonly kind: 'torn' | 'corrupt' | 'format' | 'unreadable'
  /** Segment, checkpoint or dead-letter file name. */
  readonly file: string
  readonly offset: number
  readonly reason: string
  /** What to do about it (only what applies to this file and this damage). */
  readonly remedy: string
}

const TORN_REMEDY = 'Nothing: the next open cuts it back (it is what a crash mid-write leaves).'

export interface LogView {
  readonly dir: string
  /** Undefined when the checkpoint file is unreadable (see `problems`). */
  readonly checkpoint: Checkpoint | undefined
  readonly segments: SegmentScan[]
  /** Latest intact write (set, delete, merge) per key with version > lowWater, in version order. */
  readonly dirty: LogRecord[]
  readonly problems: LogProblem[]
  readonly lock: { readonly pid: number; readonly alive: boolean } | undefined
}

/** Reads everything in `dir` without changing it. */
export function readLogView(dir: string): LogView {
  const problems: LogProblem[] = []
  const checkpoint = readCheckpointSafely(dir, problems)
  const lowWater = checkpoint?.lowWater ?? 0
  const latest = new Map<string, LogRecord>()
  const segments: SegmentScan[] = []
  let lastVersion = 0
  for (const file of listSegments(dir)) {
    const scan = scanSafely(dir, file, lastVersion, problems, (record) => {
      if (record.version <= lowWater || record.kind === 'seal') return // a seal groups writes; it is not one
      latest.delete(record.key)
      latest.set(record.key, record)
    })
    if (scan === undefined) continue
    segments.push(scan)
    if (scan.records > 0) lastVersion = scan.lastVersion
  }
  const missing = checkAnchor(segments, checkpoint?.firstSegment)
  if (missing !== undefined) problems.push({ kind: 'corrupt', file: missing.name, offset: 0, reason: missing.reason, remedy: REMEDY.missingStart })
  for (const [index, scan] of checkChains(segments).entries()) {
    const problem = scan.problem
    if (problem === undefined) continue
    const isTornTail = problem.kind === 'torn' && index === segments.length - 1
    const remedy = isTornTail ? TORN_REMEDY : REMEDY.segmentCorrupt
    problems.push({ kind: isTornTail ? 'torn' : 'corrupt', file: scan.name, offset: problem.offset, reason: problem.reason, remedy })
  }
  checkDeadLetters(dir, problems)
  const pid = readLockSafely(dir)
  const lock = typeof pid === 'number' ? { pid, alive: isAlive(pid) } : undefined
  return { dir, checkpoint, segments, dirty: [...latest.values()], problems, lock }
}

function readCheckpointSafely(dir: string, problems: LogProblem[]): Checkpoint | undefined {
  try {
    return readCheckpoint(dir)
  } catch (error) {
    problems.push(problemOf(CHECKPOINT_FILE, error))
    return undefined
  }
}

/** The dead-letter file: a bad line is corruption (open refuses it), a torn last line is repaired by the next open. */
function checkDeadLetters(dir: string, problems: LogProblem[]): void {
  const path = join(dir, DEAD_LETTER_FILE)
  try {
    const parsed = parseLog(readFileOf(path), path)
    if (parsed.tornBytes > 0) {
      const reason = `a torn last line (${parsed.tornBytes} bytes: an append cut short, never acknowledged)`
      problems.push({ kind: 'torn', file: DEAD_LETTER_FILE, offset: parsed.validBytes, reason, remedy: TORN_REMEDY })
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    problems.push(problemOf(DEAD_LETTER_FILE, error))
  }
}

/** An error met reading `file` as a problem; an error that is neither ours nor an errno is a bug and is thrown. */
function problemOf(file: string, error: unknown): LogProblem {
  if (error instanceof LogCorruptionError) return { kind: 'corrupt', file, offset: error.offset, reason: error.reason, remedy: error.remedy }
  if (error instanceof LogFormatError) return { kind: 'format', file, offset: 0, reason: error.reason, remedy: error.remedy ?? REMEDY.foreignFile }
  if (error instanceof WriteBehindError) return { kind: 'format', file, offset: 0, reason: error.message, remedy: REMEDY.foreignFile }
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (typeof code !== 'string') throw error
  const remedy = 'Make it readable by this user (or run the command as the user that owns the dir).'
  return { kind: 'unreadable', file, offset: 0, reason: `cannot read it (${code})`, remedy }
}

function scanSafely(dir: string, file: { name: string; seq: number }, afterVersion: number, problems: LogProblem[], onRecord: (record: LogRecord) => void): SegmentScan | undefined {
  try {
    return scanSegment(dir, file, afterVersion, onRecord)
  } catch (error) {
    problems.push(problemOf(file.name, error))
    return undefined
  }
}

function readLockSafely(dir: string): number | 'missing' | undefined {
  try {
    return readPid(join(dir, LOCK_FILE))
  } catch {
    return undefined // unreadable: shown as no known writer
  }
}
