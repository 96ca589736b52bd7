/**
 * The checkpoint: a 28-byte file holding the low-water mark (every version ≤ it is flushed or
 * superseded, so it need not be replayed) and the high-water mark (the highest version ever
 * issued, kept so it survives the deletion of the segments that held it).
 *
 * Format: `WBCP` magic, format version byte, 3 zero bytes, lowWater u64, highWater u64, CRC-32 of
 * the 24 bytes before it. Replaced atomically: write a temp file, fsync it, rename it over the
 * old one, fsync the directory.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { LogFormatError } from '../errors.js'
import type { LogEvent } from './types.js'

export const CHECKPOINT_FILE = 'CHECKPOINT'
const TEMP_FILE = 'CHECKPOINT.tmp'
const MAGIC = 0x50434257 // 'WBCP' read as a little-endian u32
const FORMAT_VERSION = 1
const BYTES = 28
const TWO_32 = 4294967296

export interface Checkpoint {
  readonly lowWater: number
  readonly highWater: number
}

/** Reads the checkpoint of `dir`: `{0, 0}` when there is none; `LogFormatError` when it is damaged. */
export function readCheckpoint(dir: string): Checkpoint {
  const path = join(dir, CHECKPOINT_FILE)
  if (!existsSync(path)) return { lowWater: 0, highWater: 0 }
  const buf = readFileSync(path)
  if (buf.length !== BYTES || buf.readUInt32LE(0) !== MAGIC) throw new LogFormatError(path, 'not a writebehind checkpoint')
  if (buf[4] !== FORMAT_VERSION) throw new LogFormatError(path, `unknown checkpoint format version ${buf[4]}`)
  if (crc32(buf.subarray(0, 24)) !== buf.readUInt32LE(24)) throw new LogFormatError(path, 'checkpoint checksum mismatch')
  const lowWater = readU64(buf, 8)
  const highWater = readU64(buf, 16)
  if (lowWater === undefined || highWater === undefined) throw new LogFormatError(path, 'checkpoint version above Number.MAX_SAFE_INTEGER')
  return { lowWater, highWater }
}

/** Removes a temp file left by a crash in the middle of `writeCheckpoint`. */
export function removeCheckpointLeftovers(dir: string): void {
  rmSync(join(dir, TEMP_FILE), { force: true })
}

/** Writes `checkpoint` durably and atomically (see the module header). */
export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const temp = join(dir, TEMP_FILE)
  const file = await open(temp, 'w', 0o600)
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
export async function deleteSegments(
  dir: string,
  segments: ReadonlyArray<{ readonly name: string; readonly maxVersion: number }>,
  emit: (e: LogEvent) => void,
): Promise<void> {
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
  const buf = Buffer.alloc(BYTES)
  buf.writeUInt32LE(MAGIC, 0)
  buf[4] = FORMAT_VERSION
  writeU64(buf, 8, checkpoint.lowWater)
  writeU64(buf, 16, checkpoint.highWater)
  buf.writeUInt32LE(crc32(buf.subarray(0, 24)), 24)
  return buf
}

function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value >>> 0, offset)
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4)
}

function readU64(buf: Buffer, offset: number): number | undefined {
  const high = buf.readUInt32LE(offset + 4)
  return high > 0x1fffff ? undefined : high * TWO_32 + buf.readUInt32LE(offset)
}
