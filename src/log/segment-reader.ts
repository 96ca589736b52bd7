/**
 * Reading segments without changing them: naming and listing, and scanning each one for intact
 * records and the first problem. Recovery (the writer) and the `inspect`/`verify` commands (read
 * only, no lock) share it. A segment is read whole into memory: segments are bounded by
 * `segmentBytes`, and one bulk read keeps replay fast.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { LogFormatError } from '../errors.js'
import { isAllZero } from './bytes.js'
import { readFileOf } from './checkpoint.js'
import { REMEDY } from './remedies.js'
import { checkSegmentHeader, FRAME_HEADER_BYTES, MAX_BODY_BYTES, scanRecords, SEGMENT_HEADER_BYTES } from './record.js'
import type { LogRecord } from './types.js'

const SEGMENT_NAME = /^segment-(\d{12})\.wbl$/

/** The file name of segment number `seq`; names sort in sequence order. */
export function segmentName(seq: number): string {
  return `segment-${String(seq).padStart(12, '0')}.wbl`
}

export interface SegmentFile {
  readonly name: string
  readonly seq: number
}

/** The segment files of `dir`, oldest first. Other files are ignored. */
export function listSegments(dir: string): SegmentFile[] {
  const found: SegmentFile[] = []
  for (const name of readdirSync(dir)) {
    const match = SEGMENT_NAME.exec(name)
    if (match?.[1] !== undefined) found.push({ name, seq: Number(match[1]) })
  }
  return found.sort((a, b) => a.seq - b.seq)
}

/** What is wrong at the end of a segment's intact records. */
export interface SegmentProblem {
  readonly kind: 'torn' | 'corrupt'
  readonly offset: number
  readonly reason: string
  /** Records that start at or after `offset` and could still be framed (the bad one included, if it has a header). */
  readonly recordsFromOffset: number
  /** Highest version among intact records framed after the bad one (0 if none). */
  readonly versionAfter: number
}

export interface SegmentScan extends SegmentFile {
  /** File size in bytes. */
  readonly bytes: number
  /** From the header: the size the previous segment had when this one started (undefined if the header is unreadable). */
  readonly prevBytes: number | undefined
  /** Offset after the last intact record (the whole file when there is no problem). */
  readonly end: number
  /** Intact records before any problem. */
  readonly records: number
  /** Versions of the first and last intact records (0 when none). */
  readonly firstVersion: number
  readonly lastVersion: number
  readonly problem: SegmentProblem | undefined
}

/**
 * Scans one segment. `afterVersion` is the last version of the segment before it; every record
 * must be above it. Throws `LogFormatError` for a file that is not a segment of this format.
 */
export function scanSegment(dir: string, file: SegmentFile, afterVersion: number, onRecord?: (record: LogRecord) => void): SegmentScan {
  const buf = readFileOf(join(dir, file.name))
  const header = checkSegmentHeader(buf)
  if (header.kind === 'format') {
    throw new LogFormatError(join(dir, file.name), header.reason, header.reason.startsWith('unknown log format') ? REMEDY.newerFormat : REMEDY.foreignFile)
  }
  if (header.kind !== 'valid') {
    const after = header.kind === 'torn' ? { recordsFromOffset: 0, versionAfter: 0 } : countFrom(buf, SEGMENT_HEADER_BYTES)
    const problem = { kind: header.kind, offset: 0, reason: header.reason, ...after }
    return { ...file, bytes: buf.length, prevBytes: undefined, end: 0, records: 0, firstVersion: 0, lastVersion: 0, problem }
  }
  let firstVersion = 0
  const result = scanRecords(buf, SEGMENT_HEADER_BYTES, afterVersion, (record) => {
    if (firstVersion === 0) firstVersion = record.version
    onRecord?.(record)
  })
  const lastVersion = result.records === 0 ? 0 : result.lastVersion
  const problem = result.problem === undefined ? undefined : { ...result.problem, ...countFrom(buf, result.problem.offset) }
  const { records, end } = result
  return { ...file, bytes: buf.length, prevBytes: header.prevBytes, end, records, firstVersion, lastVersion, problem }
}

/**
 * Counts the records from a bad one to the end of the buffer, stepping over each bad one by its
 * length field when that field is intact (a checksum failure) so later intact records are counted.
 */
function countFrom(buf: Buffer, offset: number): { recordsFromOffset: number; versionAfter: number } {
  let count = 0
  let versionAfter = 0
  let at = offset
  while (at < buf.length) {
    const step = frameBytes(buf, at)
    if (step === undefined) return { recordsFromOffset: count + (isAllZero(buf, at) ? 0 : 1), versionAfter }
    count++
    at += step
    if (at >= buf.length) break
    const rest = scanRecords(buf, at, 0, undefined)
    count += rest.records
    if (rest.records > 0) versionAfter = Math.max(versionAfter, rest.lastVersion)
    if (rest.problem === undefined) break
    at = rest.problem.offset
  }
  return { recordsFromOffset: count, versionAfter }
}

/** The whole frame's size when the length field at `offset` is intact, else undefined. */
function frameBytes(buf: Buffer, offset: number): number | undefined {
  if (buf.length - offset < FRAME_HEADER_BYTES) return undefined
  const len = buf.readUInt32LE(offset)
  const intact = (len ^ buf.readUInt32LE(offset + 4)) === -1 && len <= MAX_BODY_BYTES && len > 0
  return intact ? FRAME_HEADER_BYTES + len : undefined
}

/**
 * Scans every segment of `dir` in order, each continuing the version order of the one before,
 * then checks the chain (see `checkChains`).
 */
export function scanAllSegments(dir: string, onRecord?: (record: LogRecord, segmentIndex: number) => void): SegmentScan[] {
  const scans: SegmentScan[] = []
  let lastVersion = 0
  for (const file of listSegments(dir)) {
    const index = scans.length
    const scan = scanSegment(dir, file, lastVersion, onRecord && ((record) => onRecord(record, index)))
    scans.push(scan)
    if (scan.records > 0) lastVersion = scan.lastVersion
  }
  return checkChains(scans)
}

/**
 * After the first, each segment must have the next number and must name its predecessor's exact
 * size; a break becomes a problem at the end of the predecessor (cut short, or a segment after it
 * missing). An empty LAST segment is exempt: it holds nothing, recovery removes it, and a power
 * loss during a roll may keep it without its predecessor's name on filesystems that reorder.
 */
export function checkChains(scans: SegmentScan[]): SegmentScan[] {
  return scans.map((scan, index) => {
    const next = scans[index + 1]
    if (next === undefined || scan.problem !== undefined) return scan
    if (index + 1 === scans.length - 1 && next.records === 0) return scan
    return checkChain(scan, next)
  })
}

/** `previous` with a problem if `next` does not continue it exactly. */
function checkChain(previous: SegmentScan, next: SegmentScan): SegmentScan {
  const at = { offset: previous.bytes, recordsFromOffset: 0, versionAfter: 0 }
  if (next.seq !== previous.seq + 1) {
    return { ...previous, problem: { kind: 'corrupt', ...at, reason: `the segment after it (number ${previous.seq + 1}) is missing` } }
  }
  if (next.prevBytes !== undefined && next.prevBytes !== previous.bytes) {
    const reason = `segment is ${previous.bytes} bytes but ${next.name} was started when it was ${next.prevBytes} bytes`
    return { ...previous, problem: { kind: 'corrupt', ...at, reason } }
  }
  return previous
}

/** Segments missing before the first one present: named, with the reason, for an error or a report. */
export interface MissingStart {
  /** The first missing segment's file name. */
  readonly name: string
  readonly reason: string
}

/**
 * The chain's anchor: the first segment present must start a chain (its header names no
 * predecessor: `prevBytes` 0) or be at or before `firstSegment`, the first segment the checkpoint
 * says must exist. Otherwise the segments from `firstSegment` up to it are missing. An unknown
 * anchor (a format-1 checkpoint) or an unreadable first header (reported on its own) is not judged.
 */
export function checkAnchor(scans: readonly SegmentScan[], firstSegment: number | undefined): MissingStart | undefined {
  const first = scans[0]
  if (first === undefined || firstSegment === undefined || first.prevBytes === undefined || first.prevBytes === 0) return undefined
  if (first.seq <= firstSegment) return undefined
  const missing = first.seq - 1 === firstSegment ? segmentName(firstSegment) : `${segmentName(firstSegment)} to ${segmentName(first.seq - 1)}`
  return {
    name: segmentName(firstSegment),
    reason: `${missing} ${first.seq - 1 === firstSegment ? 'is' : 'are'} missing: the checkpoint says the log starts at segment ${firstSegment}, and ${first.name} continues an earlier segment`,
  }
}
