/**
 * A read-only view of a log directory for the `inspect` and `verify` commands. It never takes the
 * writer lock and never repairs anything, so it works on a dead process's dir and does not
 * disturb a live one (whose tail it may see mid-write: that shows as a torn tail).
 */
import { join } from 'node:path'
import { WriteBehindError } from '../errors.js'
import { readCheckpoint, type Checkpoint } from './checkpoint.js'
import { isAlive, LOCK_FILE, readPid } from './lock.js'
import { checkAnchor, checkChains, listSegments, scanSegment, type SegmentScan } from './segment-reader.js'
import type { LogRecord } from './types.js'

export interface LogProblem {
  /** `torn`: a cut-short tail of the last segment (a crash mid-write; recovery repairs it). */
  readonly kind: 'torn' | 'corrupt' | 'format'
  /** Segment or checkpoint file name. */
  readonly file: string
  readonly offset: number
  readonly reason: string
}

export interface LogView {
  readonly dir: string
  /** Undefined when the checkpoint file is unreadable (see `problems`). */
  readonly checkpoint: Checkpoint | undefined
  readonly segments: SegmentScan[]
  /** Latest intact record per key with version > lowWater, in version order. */
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
      if (record.version <= lowWater) return
      latest.delete(record.key)
      latest.set(record.key, record)
    })
    if (scan === undefined) continue
    segments.push(scan)
    if (scan.records > 0) lastVersion = scan.lastVersion
  }
  const missing = checkAnchor(segments, checkpoint?.firstSegment)
  if (missing !== undefined) problems.push({ kind: 'corrupt', file: missing.name, offset: 0, reason: missing.reason })
  for (const [index, scan] of checkChains(segments).entries()) {
    const problem = scan.problem
    if (problem === undefined) continue
    const isTornTail = problem.kind === 'torn' && index === segments.length - 1
    problems.push({ kind: isTornTail ? 'torn' : 'corrupt', file: scan.name, offset: problem.offset, reason: problem.reason })
  }
  const pid = readPid(join(dir, LOCK_FILE))
  const lock = typeof pid === 'number' ? { pid, alive: isAlive(pid) } : undefined
  return { dir, checkpoint, segments, dirty: [...latest.values()], problems, lock }
}

function readCheckpointSafely(dir: string, problems: LogProblem[]): Checkpoint | undefined {
  try {
    return readCheckpoint(dir)
  } catch (error) {
    if (!(error instanceof WriteBehindError)) throw error
    problems.push({ kind: 'format', file: 'CHECKPOINT', offset: 0, reason: error.message })
    return undefined
  }
}

function scanSafely(
  dir: string,
  file: { name: string; seq: number },
  afterVersion: number,
  problems: LogProblem[],
  onRecord: (record: LogRecord) => void,
): SegmentScan | undefined {
  try {
    return scanSegment(dir, file, afterVersion, onRecord)
  } catch (error) {
    if (!(error instanceof WriteBehindError)) throw error
    problems.push({ kind: 'format', file: file.name, offset: 0, reason: error.message })
    return undefined
  }
}
