/**
 * Byte-level helpers the on-disk formats share (segment header and record frame in record.ts,
 * the checkpoint): little-endian u64 fields holding safe integers, and the zero-fill test that
 * tells a file extended but never written from damage.
 */

const TWO_32 = 4294967296
/** The high word of `Number.MAX_SAFE_INTEGER` (2^53 - 1). */
const MAX_SAFE_HIGH = 0x1fffff

/** Writes `value` (a safe integer ≥ 0) as a little-endian u64 at `offset`. */
export function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value >>> 0, offset)
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4)
}

/** Reads the little-endian u64 at `offset`; undefined when it is above `Number.MAX_SAFE_INTEGER`. */
export function readU64(buf: Buffer, offset: number): number | undefined {
  const high = buf.readUInt32LE(offset + 4)
  return high > MAX_SAFE_HIGH ? undefined : high * TWO_32 + buf.readUInt32LE(offset)
}

/** True when every byte from `offset` to the end is zero (a file extended but never written). */
export function isAllZero(buf: Buffer, offset: number): boolean {
  for (let i = offset; i < buf.length; i++) if (buf[i] !== 0) return false
  return true
}
