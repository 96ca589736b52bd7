/**
 * The active segment: a raw fd and a growing, reused append buffer. `append` only encodes into the
 * buffer (no syscall, no allocation beyond a CRC view); `writeOut` hands the whole buffer to the
 * OS in one `writeSync` (looping on short writes). Raw fds and `writeSync` rather than streams or
 * `fs.write`: an async `fs.write` is a round trip through the thread pool, which caps a sequential
 * writer far below what a `writeSync` into the page cache does.
 * fdatasync is the caller's business (it is slow, so it runs async; see dirty-log.ts).
 */
import { closeSync, fdatasyncSync, ftruncateSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { encodeRecord, FORMAT_VERSION, maxEncodedBytes, MERGE_FORMAT_VERSION, segmentHeader } from './record.js'
import { segmentName } from './segment-reader.js'
import type { LogRecord } from './types.js'

const INITIAL_BUFFER_BYTES = 64 * 1024
/** A buffer grown past this (a huge value) is dropped once written, so memory goes back down. */
const KEEP_BUFFER_BYTES = 4 * 1024 * 1024

export class SegmentWriter {
  readonly name: string
  readonly fd: number
  /** Bytes handed to the OS (the file's size). */
  private fileBytes: number
  private buf = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES)
  private len = 0
  /** Records appended to this segment. */
  records = 0
  /** Highest version appended to this segment (0 when empty). */
  maxVersion = 0

  private constructor(
    readonly seq: number,
    name: string,
    fd: number,
    private readonly prevBytes: number,
    /** The segment's format (record.ts): 2 once it may hold merge records. */
    public format: number,
  ) {
    this.name = name
    this.fd = fd
    this.fileBytes = 0
  }

  /**
   * Creates segment `seq` in `dir` (mode 0600, must not exist) and buffers its header, which names
   * the size of segment `seq - 1` (`prevBytes`, 0 when there is none).
   */
  static create(dir: string, seq: number, prevBytes: number, format = FORMAT_VERSION): SegmentWriter {
    const name = segmentName(seq)
    const fd = openSync(join(dir, name), 'wx', 0o600)
    const writer = new SegmentWriter(seq, name, fd, prevBytes, format)
    const header = segmentHeader(prevBytes, format)
    header.copy(writer.buf, 0)
    writer.len = header.length
    return writer
  }

  /** The segment's size, buffered bytes included. */
  get bytes(): number {
    return this.fileBytes + this.len
  }

  get bufferedBytes(): number {
    return this.len
  }

  /**
   * Makes the segment a format-2 one (it may then hold merge records) while its header is still
   * only in the buffer; false once the header reached the file (the caller starts a new segment).
   */
  upgradeInBuffer(): boolean {
    if (this.format === MERGE_FORMAT_VERSION) return true
    if (this.fileBytes > 0) return false
    segmentHeader(this.prevBytes, MERGE_FORMAT_VERSION).copy(this.buf, 0)
    this.format = MERGE_FORMAT_VERSION
    return true
  }

  /** Encodes `record` into the buffer; returns the bytes it took. */
  append(record: LogRecord): number {
    this.reserve(maxEncodedBytes(record))
    const start = this.len
    this.len = encodeRecord(this.buf, start, record)
    this.records++
    this.maxVersion = record.version
    return this.len - start
  }

  /**
   * Writes the buffer to the OS; returns whether there was anything to write. Throws on an I/O
   * error, after cutting a partial write back off the file (best effort), so that recovery does not
   * replay records whose writes were rejected.
   */
  writeOut(): boolean {
    if (this.len === 0) return false
    let done = 0
    try {
      while (done < this.len) done += writeSync(this.fd, this.buf, done, this.len - done, this.fileBytes + done)
    } catch (error) {
      if (done > 0) {
        try {
          ftruncateSync(this.fd, this.fileBytes)
        } catch {
          // the write failed already; a torn record at the tail is cut by recovery
        }
      }
      throw error
    }
    this.fileBytes += this.len
    this.len = 0
    if (this.buf.length > KEEP_BUFFER_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES)
    return true
  }

  /** Writes out and fdatasyncs, blocking (used only when the segment rolls). */
  writeAndSyncNow(): void {
    this.writeOut()
    fdatasyncSync(this.fd)
  }

  close(): void {
    closeSync(this.fd)
  }

  private reserve(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + bytes) size *= 2
    const grown = Buffer.allocUnsafe(size)
    this.buf.copy(grown, 0, 0, this.len)
    this.buf = grown
  }
}
