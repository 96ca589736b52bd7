// The decoder of the Redis scripts' packed replies (src/tier/redis/msgpack.ts), on bytes as the
// MessagePack spec lays them out; test/integration/redis-tier.test.ts decodes real cmsgpack output.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { unpack } from '../../src/tier/redis/msgpack.js'

const bytes = (...parts: Array<number | number[] | Buffer>): Buffer => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(typeof p === 'number' ? [p] : p))))

describe('msgpack unpack', () => {
  it('reads every integer width, signed and unsigned, exactly up to 2^53', () => {
    const cases: Array<[Buffer, number]> = [
      [bytes(0x05), 5],
      [bytes(0xff), -1],
      [bytes(0xcc, 200), 200],
      [bytes(0xcd, [0x12, 0x34]), 0x1234],
      [bytes(0xce, [0x89, 0xab, 0xcd, 0xef]), 0x89abcdef],
      [bytes(0xcf, [0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Number.MAX_SAFE_INTEGER],
      [bytes(0xd0, 0x80), -128],
      [bytes(0xd1, [0x80, 0x00]), -32768],
      [bytes(0xd2, [0xff, 0xff, 0xff, 0xfe]), -2],
      [bytes(0xd3, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd]), -3],
      [bytes(0xd3, [0x00, 0x06, 0x45, 0x42, 0x16, 0x07, 0x50, 0x7b]), 1765000000000123],
    ]
    for (const [input, expected] of cases) assert.equal(unpack(input), expected, input.toString('hex'))
  })

  it('reads strings of each length prefix as UTF-8, NUL and all, and nil, booleans, doubles, nested arrays', () => {
    const long = 'é'.repeat(40_000) // 80,000 bytes: a str32
    const longBytes = Buffer.from(long)
    const size = Buffer.alloc(4)
    size.writeUInt32BE(longBytes.length)
    const packed = bytes(
      0x97,
      0xa3,
      Buffer.from('a\0b'),
      0xd9,
      12,
      Buffer.from('ключ🔑'),
      0xda,
      [0, 2],
      Buffer.from('{}'),
      0xdb,
      size,
      longBytes,
      0xc0,
      0x92,
      0xc2,
      0xc3,
      0xcb,
      Buffer.from([0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
    )
    const value = unpack(packed) as unknown[]
    assert.equal(value.length, 7)
    assert.equal(value[0], 'a\0b')
    assert.equal(value[1], 'ключ🔑')
    assert.equal(value[2], '{}')
    assert.equal(value[3], long)
    assert.equal(value[4], null)
    assert.deepEqual(value[5], [false, true])
    assert.equal(value[6], 1.5)
  })

  it('refuses a truncated value, trailing bytes and types no script packs', () => {
    assert.throws(() => unpack(bytes(0x92, 0x01)), /ends early/)
    assert.throws(() => unpack(bytes(0xa5, Buffer.from('ab'))), /past the end/)
    assert.throws(() => unpack(bytes(0xcf, [0, 0, 0])), RangeError)
    assert.throws(() => unpack(bytes(0x01, 0x02)), /after the value/)
    assert.throws(() => unpack(bytes(0x81, 0x01, 0x02)), /not one the tier's scripts pack/)
    assert.throws(() => unpack(bytes(0xc4, 1, 0)), /not one/)
  })
})
