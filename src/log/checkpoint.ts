/**
 * The checkpoint: a small file holding the low-water mark (every version ≤ it is flushed or
 * superseded, so it need not be replayed), the high-water mark (the highest version ever issued,
 * kept so it survives the deletion of the segments that held it) and the anchor of the segment
 * chain: the number of the first segment that must exist (those before it were deleted because
 * the checkpoint made them unneeded). Without the anchor a deleted oldest segment would go
 * unnoticed: the chain is otherwise checked only between segments that exist.
 *
 * Format 2 (36 bytes): `WBCP` magic, format version byte (2), 3 zero bytes, lowWater u64,
 * highWater u64, firstSegment u64, CRC-32 of the 32 bytes before it. Format 1 (28 bytes, no
 * firstSegment) is still read; its anchor is unknown until the next checkpoint writes format 2.
 * Replaced atomically: write a temp file (created O_EXCL | O_NOFOLLOW), fsync it, rename it over
 * the old one, fsync the directory.
 */
import { existsSync, readFileSync } from 'node:fs'
import { open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { LogFormatError } from '../errors.js'
import { readU64, writeU64 } from './bytes.js'
import { REMEDY } from './remedies.js'
import { openNewFile, unlinkIfPresentSync } from './safe-files.js'
import type { LogEvent } from './types.js'

export const CHECKPOINT_FILE = 'CHECKPOINT'
const TEMP_FILE = 'CHECKPOINT.tmp'
const MAGIC = 0x50434257 // 'WBCP' read as a little-endian u32
const FORMAT_VERSION = 2
/** Size by format version. */
const BYTES: Readonly<Record<number, number>> = { 1: 28, 2: 36 }

export interface Checkpoint {
  readonly lowWater: number
  readonly highWater: number
  /**
   * The first segment that must exist: 1 when there is no checkpoint (nothing was ever deleted),
   * undefined when a format-1 checkpoint does not say.
   */
  readonly firstSegment: number | undefined
}

/** Reads the checkpoint of `dir`: `{0, 0, 1}` when there is none; `LogFormatError` when it is damaged. */
export function readCheckpoint(dir: string): Checkpoint {
  const path = join(dir, CHECKPOINT_FILE)
  if (!existsSync(path)) return { lowWater: 0, highWater: 0, firstSegment: 1 }
  const buf = readFileOf(path)
  const damaged = (reason: string) => new LogFormatError(path, reason, REMEDY.checkpointDamaged)
  if (buf.length < 5 || buf.readUInt32LE(0) !== MAGIC) throw damaged('not a writebehind checkpoint')
  const bytes = BYTES[buf[4]!]
  if (bytes === undefined) {
    throw buf[4]! > FORMAT_VERSION
      ? new LogFormatError(path, `checkpoint format version ${buf[4]} is newer than this build's ${FORMAT_VERSION}`, REMEDY.newerFormat)
      : damaged(`unknown checkpoint format version ${buf[4]}`)
  }
  if (buf.length !== bytes) throw damaged(`a format-${buf[4]} checkpoint is ${bytes} bytes, this one ${buf.length}`)
  if (crc32(buf.subarray(0, bytes - 4)) !== buf.readUInt32LE(bytes - 4)) throw damaged('checkpoint checksum mismatch')
  const lowWater = readU64(buf, 8)
  const highWater = readU64(buf, 16)
  const firstSegment = bytes === 36 ? readU64(buf, 24) : 0
  if (lowWater === undefined || highWater === undefined || firstSegment === undefined) {
    throw damaged('checkpoint value above Number.MAX_SAFE_INTEGER')
  }
  return { lowWater, highWater, firstSegment: firstSegment === 0 ? undefined : firstSegment }
}

/** Reads a file writebehind owns; a directory in its place is `LogFormatError` saying to move it. */
export function readFileOf(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw new LogFormatError(path, 'it is a directory', REMEDY.isDirectory)
    throw error
  }
}

/** Removes a temp file left by a crash in the middle of `writeCheckpoint`. */
export function removeCheckpointLeftovers(dir: string): void {
  unlinkIfPresentSync(join(dir, TEMP_FILE))
}

/** Writes `checkpoint` durably and atomically (see the module header); an unknown `firstSegment` is written as 0. */
export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const temp = join(dir, TEMP_FILE)
  const file = await openNewFile(temp)
  try {
    await file.writeFile(encodeCheckpoint(checkpoint))
    await file.datasync()
  } finally {
    await file.close()
  }
  await rename(temp, join(dir, CHECKPOINT_FILE))
  await fsyncDir(dir)
}

/**
 * Deletes segments a checkpoint made unneeded (every record ≤ lowWater), then fsyncs the
 * directory. Call only after the checkpoint itself is durable.
 */
export async function deleteSegments(dir: string, segments: ReadonlyArray<{ readonly name: string; readonly maxVersion: number }>, emit: (e: LogEvent) => void): Promise<void> {
  if (segments.length === 0) return
  for (const segment of segments) {
    await unlink(join(dir, segment.name))
    emit({ type: 'segment-deleted', segment: segment.name, highestVersion: segment.maxVersion })
  }
  await fsyncDir(dir)
}

/** fsyncs a directory so a rename, create or unlink in it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  const buf = Buffer.alloc(36)
  buf.writeUInt32LE(MAGIC, 0)
  buf[4] = FORMAT_VERSION
  writeU64(buf, 8, checkpoint.lowWater)
  writeU64(buf, 16, checkpoint.highWater)
  writeU64(buf, 24, checkpoint.firstSegment ?? 0)
  buf.writeUInt32LE(crc32(buf.subarray(0, 32)), 32)
  return buf
}
