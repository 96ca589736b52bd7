/**
 * The Redis tier's shard of a key is part of its stored layout (every process, old or new, must put
 * a key in the same shard): FNV-1a (32 bits) of the key's UTF-8 bytes, modulo the shard count.
 * `shardOf` hashes ASCII keys without encoding them; this pins it to the byte-wise definition.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RedisLayout } from '../../src/tier/redis/layout.js'

/** The definition, byte by byte. */
function reference(key: string, shards: number): number {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(key, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  return hash % shards
}

describe('RedisLayout.shardOf', () => {
  it('is FNV-1a of the UTF-8 bytes modulo the shard count, for ASCII keys and keys past ASCII alike', () => {
    const keys = ['', 'a', 'user:123', '{braces}', '__proto__', 'a\u0000b', 'é', 'user:é', 'ключ:1', '漢字', '👩‍👩‍👧', 'x\ud800', '\udc00y', 'k'.repeat(5000)]
    for (let i = 0; i < 2000; i++) keys.push(`user:${i}`, `ключ${i}`, `${String.fromCharCode(i * 37)}:${i}`)
    for (const shards of [1, 16, 48, 1000]) {
      const layout = new RedisLayout('t', shards)
      for (const key of keys) assert.equal(layout.shardOf(key), reference(key, shards), `${JSON.stringify(key)} of ${shards} shards`)
    }
  })

  it('spreads keys over every shard', () => {
    const layout = new RedisLayout('t', 16)
    const counts = new Array<number>(16).fill(0)
    for (let i = 0; i < 16_000; i++) counts[layout.shardOf(`user:${i}`)]! += 1
    assert.ok(
      counts.every((n) => n > 500),
      counts.join(' / '),
    )
  })
})
