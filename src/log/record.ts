/**
 * The on-disk format of the dirty log: the segment header and the record frame, with the
 * allocation-light encoder used by the append path and the scanner used by recovery and the CLI.
 *
 * Segment header (24 bytes): `WBDL` magic, format version byte (1 or 2), 3 zero bytes, `prevBytes`
 * u64 (the size of the segment before it when this one was started, 0 if none), a CRC-32 of those
 * 16 bytes, 4 zero bytes; then records back to back. `prevBytes` chains the segments: a segment
 * cut short exactly at a record boundary, or missing, would otherwise lose records silently.
 * Record frame (little-endian):
 *
 *   len u32 | ~len u32 | crc u32 | type u8 | version u64 | keyLen u32 | key (UTF-8) | value (UTF-8)
 *   `len` counts the bytes from `type` to the end; `crc` covers the same bytes.
 *
 * `~len` lets a reader tell a damaged length field (corruption) from a record cut short by a crash
 * (torn tail) without trusting the length. Types: 1 = set, 2 = delete (no value bytes; a set with
 * an empty value has zero value bytes and type 1), and, in format 2 only:
 *
 *   3 = merge   value bytes: merge kind u8 (1 sum, 2 max, 3 min) | operand f64 | the value after it (UTF-8)
 *   4 = seal    value bytes: sealed version u64 (below the seal's own version)
 *
 * Format 2 exists so that an older release, which knows types 1 and 2 only, refuses a segment that
 * may hold merges (`LogFormatError`: open it with the newer release) instead of calling it corrupt.
 * The writer starts format-1 segments and switches to format 2 at the first merge record (see
 * dirty-log.ts), so a log without merges stays readable by older releases. This build reads both.
 *
 * Checksum: CRC-32 (IEEE), not CRC32C, because Node has it natively (`zlib.crc32`, Node ≥ 20.15)
 * and CRC32C only in JS, which beats the native call on the shortest bodies but falls far behind
 * it as values grow. Short bodies, where the native call's fixed cost dominates, use a JS
 * slicing-by-8 CRC-32 of the same polynomial (crc32.ts): same bytes on disk either way. Against
 * torn writes and bit flips within one record both detect every 1-3 bit error; CRC32C's edge is
 * on long bursts, which the length check and torn-tail rules already bound.
 */
import { isAllZero, readU64, writeU64 } from './bytes.js'
import { crc32 } from './crc32.js'
import type { LogRecord, MergeRecord } from './types.js'
import type { MergeKind } from '../contracts/store.js'

export const SEGMENT_MAGIC = 0x4c444257 // 'WBDL' read as a little-endian u32
/** The format of segments without merge records (what older releases read). */
export const FORMAT_VERSION = 1
/** The format of segments that may hold merge and seal records. */
export const MERGE_FORMAT_VERSION = 2
export const SEGMENT_HEADER_BYTES = 24
/** len + ~len + crc. */
export const FRAME_HEADER_BYTES = 12
/** type + version + keyLen. */
const BODY_FIXED_BYTES = 13
/** A record body larger than this is framing damage, not data. */
export const MAX_BODY_BYTES = 0x40000000
const TYPE_SET = 1
const TYPE_DELETE = 2
const TYPE_MERGE = 3
const TYPE_SEAL = 4
/** Merge kind byte + operand f64. */
const MERGE_FIXED_BYTES = 9
const SEAL_BYTES = 8
const MERGE_CODES: readonly MergeKind[] = ['sum', 'max', 'min']

/** Whether a record needs a format-2 segment. */
export function needsMergeFormat(record: LogRecord): boolean {
  return record.kind === 'merge' || record.kind === 'seal'
}

/** The header of a segment whose predecessor is `prevBytes` long (0 when it has none). */
export function segmentHeader(prevBytes: number, format = FORMAT_VERSION): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES)
  header.writeUInt32LE(SEGMENT_MAGIC, 0)
  header[4] = format
  writeU64(header, 8, prevBytes)
  header.writeUInt32LE(crc32(header, 0, 16), 16)
  return header
}

/** An upper bound on the bytes `encodeRecord` may write for `record` (UTF-8 is ≤ 3 bytes per UTF-16 unit). */
export function maxEncodedBytes(record: LogRecord): number {
  return FRAME_HEADER_BYTES + BODY_FIXED_BYTES + MERGE_FIXED_BYTES + 3 * (record.key.length + (record.encoded?.length ?? 0))
}

/**
 * Writes `record` into `buf` at `offset` and returns the offset after it. The caller guarantees
 * `maxEncodedBytes(record)` bytes of room; nothing is allocated but the CRC's subarray view.
 */
export function encodeRecord(buf: Buffer, offset: number, record: LogRecord): number {
  const body = offset + FRAME_HEADER_BYTES
  writeU64(buf, body + 1, record.version)
  const keyStart = body + BODY_FIXED_BYTES
  const keyLen = buf.write(record.key, keyStart, 'utf8')
  buf.writeUInt32LE(keyLen, body + 9)
  let at = keyStart + keyLen
  switch (record.kind) {
    case 'merge':
      buf[body] = TYPE_MERGE
      buf[at] = MERGE_CODES.indexOf(record.merge) + 1
      buf.writeDoubleLE(record.operand, at + 1)
      at += MERGE_FIXED_BYTES
      break
    case 'seal':
      buf[body] = TYPE_SEAL
      writeU64(buf, at, record.sealed)
      at += SEAL_BYTES
      break
    default:
      buf[body] = record.kind === 'delete' ? TYPE_DELETE : TYPE_SET
  }
  const end = record.encoded === null ? at : at + buf.write(record.encoded, at, 'utf8')
  const len = end - body
  buf.writeUInt32LE(len, offset)
  buf.writeUInt32LE(~len >>> 0, offset + 4)
  buf.writeUInt32LE(crc32(buf, body, end), offset + 8)
  return end
}

/** Why a scan stopped early. `torn` means cut short (legal only at the tail of the last segment). */
export interface ScanProblem {
  readonly offset: number
  readonly kind: 'torn' | 'corrupt'
  readonly reason: string
}

export interface ScanResult {
  /** Offset after the last intact record. */
  readonly end: number
  readonly records: number
  /** Highest version of an intact record, or the `afterVersion` passed in. */
  readonly lastVersion: number
  readonly problem: ScanProblem | undefined
}

export type SegmentHeaderCheck = { readonly kind: 'valid'; readonly prevBytes: number; readonly format: number } | { readonly kind: 'torn' | 'format' | 'corrupt'; readonly reason: string }

/** Reads a segment header: its `prevBytes`, or why it is unusable (`torn`: cut short or zero-filled). */
export function checkSegmentHeader(buf: Buffer): SegmentHeaderCheck {
  if (buf.length < SEGMENT_HEADER_BYTES) {
    const prefix = buf.subarray(0, 8)
    const isPrefix = [FORMAT_VERSION, MERGE_FORMAT_VERSION].some((f) => prefix.equals(segmentHeader(0, f).subarray(0, prefix.length))) || isAllZero(buf, 0)
    return isPrefix ? { kind: 'torn', reason: 'segment header cut short' } : { kind: 'format', reason: 'not a writebehind log segment (bad magic)' }
  }
  if (buf.readUInt32LE(0) !== SEGMENT_MAGIC) {
    if (isAllZero(buf, 0)) return { kind: 'torn', reason: 'zero-filled segment' }
    return { kind: 'format', reason: 'not a writebehind log segment (bad magic)' }
  }
  const format = buf[4] as number
  if (format !== FORMAT_VERSION && format !== MERGE_FORMAT_VERSION) {
    return { kind: 'format', reason: `unknown log format version ${format} (this build reads ${FORMAT_VERSION} and ${MERGE_FORMAT_VERSION})` }
  }
  if (crc32(buf, 0, 16) !== buf.readUInt32LE(16)) return { kind: 'corrupt', reason: 'segment header checksum mismatch' }
  const prevBytes = readU64(buf, 8)
  if (prevBytes === undefined) return { kind: 'corrupt', reason: 'segment header prevBytes out of range' }
  return { kind: 'valid', prevBytes, format }
}

/**
 * Scans records from `start` to the end of `buf`, calling `onRecord` for each intact one in
 * order. Stops at the first record that is torn (cut short, or a zero-filled tail) or corrupt
 * (bad length, checksum, type, or a version not above `afterVersion` / the previous record's).
 * Never throws on bad input; a fuzz test holds it to that.
 */
export function scanRecords(buf: Buffer, start: number, afterVersion: number, onRecord: ((record: LogRecord, offset: number) => void) | undefined): ScanResult {
  let offset = start
  let records = 0
  let lastVersion = afterVersion
  while (offset < buf.length) {
    const record = decodeAt(buf, offset, lastVersion)
    if ('reason' in record) return { end: offset, records, lastVersion, problem: record }
    onRecord?.(record, offset)
    records++
    lastVersion = record.version
    offset += FRAME_HEADER_BYTES + buf.readUInt32LE(offset)
  }
  return { end: offset, records, lastVersion, problem: undefined }
}

/** A record, or why there is none; the record's frame length is its `len` field (no wrapper object on the hot path). */
type Decoded = LogRecord | ScanProblem

/** Decodes the record at `offset`, or says why it cannot. */
function decodeAt(buf: Buffer, offset: number, afterVersion: number): Decoded {
  const remaining = buf.length - offset
  if (remaining < FRAME_HEADER_BYTES) return tornOrZero(buf, offset, 'record header cut short')
  const len = buf.readUInt32LE(offset)
  if ((len ^ buf.readUInt32LE(offset + 4)) !== -1) {
    return isAllZero(buf, offset) ? torn(offset, 'zero-filled tail') : corrupt(offset, 'bad record length field')
  }
  if (len < BODY_FIXED_BYTES || len > MAX_BODY_BYTES) return corrupt(offset, `impossible record length ${len}`)
  const body = offset + FRAME_HEADER_BYTES
  const end = body + len
  if (end > buf.length) return torn(offset, `record of ${len} bytes cut short at end of file`)
  if (crc32(buf, body, end) !== buf.readUInt32LE(offset + 8)) return corrupt(offset, 'checksum mismatch')
  return decodeBody(buf, offset, body, end, afterVersion)
}

/** Decodes a body whose checksum matched; still validates every field. */
function decodeBody(buf: Buffer, offset: number, body: number, end: number, afterVersion: number): Decoded {
  const type = buf[body]
  if (type === undefined || type < TYPE_SET || type > TYPE_SEAL) return corrupt(offset, `unknown record type ${type}`)
  const version = readU64(buf, body + 1)
  if (version === undefined) return corrupt(offset, 'version above Number.MAX_SAFE_INTEGER')
  if (version <= afterVersion) return corrupt(offset, `version ${version} not above the previous ${afterVersion}`)
  const keyStart = body + BODY_FIXED_BYTES
  const keyEnd = keyStart + buf.readUInt32LE(body + 9)
  if (keyEnd > end) return corrupt(offset, 'key length past the record end')
  const key = buf.toString('utf8', keyStart, keyEnd)
  switch (type) {
    case TYPE_SET:
      return { kind: 'set', key, version, encoded: buf.toString('utf8', keyEnd, end) }
    case TYPE_DELETE:
      return keyEnd === end ? { kind: 'delete', key, version, encoded: null } : corrupt(offset, 'delete record with a value')
    case TYPE_MERGE:
      return decodeMerge(buf, offset, key, version, keyEnd, end)
    default: {
      const sealed = end - keyEnd === SEAL_BYTES ? readU64(buf, keyEnd) : undefined
      if (sealed === undefined || sealed < 1 || sealed >= version) return corrupt(offset, 'seal record without a sealed version below its own')
      return { kind: 'seal', key, version, sealed, encoded: null }
    }
  }
}

function decodeMerge(buf: Buffer, offset: number, key: string, version: number, at: number, end: number): MergeRecord | ScanProblem {
  if (end - at < MERGE_FIXED_BYTES) return corrupt(offset, 'merge record cut short')
  const merge = MERGE_CODES[(buf[at] as number) - 1]
  if (merge === undefined) return corrupt(offset, `unknown merge kind ${buf[at]}`)
  const operand = buf.readDoubleLE(at + 1)
  if (!Number.isFinite(operand)) return corrupt(offset, 'merge operand not a finite number')
  return { kind: 'merge', key, version, merge, operand, encoded: buf.toString('utf8', at + MERGE_FIXED_BYTES, end) }
}

function tornOrZero(buf: Buffer, offset: number, reason: string): ScanProblem {
  return torn(offset, isAllZero(buf, offset) && buf.length > offset ? 'zero-filled tail' : reason)
}

function torn(offset: number, reason: string): ScanProblem {
  return { offset, kind: 'torn', reason }
}

function corrupt(offset: number, reason: string): ScanProblem {
  return { offset, kind: 'corrupt', reason }
}
