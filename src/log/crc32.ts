/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib and gzip) over a byte range, with no allocation:
 * slicing-by-8 in JS for short ranges, `zlib.crc32` (native, Node ≥ 20.15) for long ones. Both
 * give the same value, so the on-disk format does not depend on which one ran. A native call
 * has a fixed cost (the call itself plus a subarray view), which dominates for the short bodies
 * most records have; past the threshold the native loop (SIMD) wins. The threshold is where the
 * two cross: time both side by side over a range of lengths before moving it.
 */
import { crc32 as nativeCrc32 } from 'node:zlib'

/** Ranges this long or longer go to zlib. */
export const NATIVE_CRC_THRESHOLD = 192

const TABLES = buildTables()
const T0 = TABLES.subarray(0, 256)
const T1 = TABLES.subarray(256, 512)
const T2 = TABLES.subarray(512, 768)
const T3 = TABLES.subarray(768, 1024)
const T4 = TABLES.subarray(1024, 1280)
const T5 = TABLES.subarray(1280, 1536)
const T6 = TABLES.subarray(1536, 1792)
const T7 = TABLES.subarray(1792, 2048)

function buildTables(): Int32Array {
  const tables = new Int32Array(256 * 8)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1
    tables[i] = c
  }
  for (let i = 0; i < 256; i++) {
    for (let t = 1; t < 8; t++) {
      const previous = tables[(t - 1) * 256 + i]!
      tables[t * 256 + i] = (previous >>> 8) ^ tables[previous & 0xff]!
    }
  }
  return tables
}

/** The CRC-32 of `buf[start, end)` as an unsigned 32-bit integer. */
export function crc32(buf: Buffer, start: number, end: number): number {
  if (end - start >= NATIVE_CRC_THRESHOLD) return nativeCrc32(buf.subarray(start, end))
  let c = -1
  let i = start
  for (; i + 8 <= end; i += 8) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)
    const high = buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24)
    c = T7[c & 0xff]! ^ T6[(c >>> 8) & 0xff]! ^ T5[(c >>> 16) & 0xff]! ^ T4[c >>> 24]! ^ T3[high & 0xff]! ^ T2[(high >>> 8) & 0xff]! ^ T1[(high >>> 16) & 0xff]! ^ T0[high >>> 24]!
  }
  for (; i < end; i++) c = T0[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}
