/**
 * The Redis Cluster hash slot of a key, as the Cluster specification defines it: CRC16 (XMODEM:
 * polynomial 0x1021, initial value 0) of the key's hash tag, modulo 16384. The hash tag is what
 * sits between the first `{` and the first `}` after it, when that is not empty; otherwise the
 * whole key. Computed on the key's UTF-8 bytes.
 */

export const SLOTS = 16384

const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[byte] = crc
  }
  return table
})()

/** The part of `key` that decides its slot. */
export function hashTag(key: string): string {
  const open = key.indexOf('{')
  if (open === -1) return key
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : key
}

/** The slot (0 to 16383) of `key`. */
export function keySlot(key: string): number {
  let crc = 0
  for (const byte of Buffer.from(hashTag(key), 'utf8')) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  return crc % SLOTS
}
