import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { strictJson } from '../../src/core/json-codec.js'
import { UnencodableValueError } from '../../src/errors.js'

// Keys as JSON meets them: any UTF-16 (lone surrogates, quotes, control characters), integer-like
// keys (which every key order puts first), and `__proto__` as an own key (as JSON.parse makes it).
const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.nat({ max: 50 }).map(String), fc.constant('__proto__'))
const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
)

/** A record built the way JSON.parse builds one, so `__proto__` is an own data property. */
function record(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
  return out
}

describe('the JSON codec', () => {
  it('writes a record of scalars exactly as JSON.stringify does (its own text, not JSON.stringify, in that case)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, scalar), { maxLength: 8 }), (entries) => {
        const value = record(entries)
        const text = strictJson.encode(value)
        assert.equal(text, JSON.stringify(value))
        assert.deepEqual(strictJson.decode(text), JSON.parse(JSON.stringify(value)))
      }),
      { numRuns: 500 },
    )
  })

  it('writes records holding containers exactly as JSON.stringify does', () => {
    const nested = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 3 }), fc.array(fc.tuple(key, tie('value')), { maxLength: 3 }).map(record)),
    })).value
    fc.assert(
      fc.property(fc.array(fc.tuple(key, nested), { maxLength: 5 }), (entries) => {
        const value = record(entries)
        assert.equal(strictJson.encode(value), JSON.stringify(value))
      }),
      { numRuns: 300 },
    )
  })

  it('refuses a bad scalar in a flat record, naming its key', () => {
    for (const [bad, reason] of [
      [NaN, /NaN is not a finite number at \$\.b/],
      [-0, /-0 cannot be stored.* at \$\.b/],
      [undefined, /undefined cannot be stored.* at \$\.b/],
      [1n, /a bigint cannot be stored.* at \$\.b/],
      [Symbol('s'), /a symbol cannot be stored at \$\.b/],
    ] as const) {
      assert.throws(
        () => strictJson.encode({ a: 1, b: bad, c: 'x' }),
        (e: unknown) => e instanceof UnencodableValueError && reason.test(e.message),
      )
    }
  })

  it('reads each property of a flat record once, and writes what it read', () => {
    let reads = 0
    const value = {
      a: 1,
      get b() {
        reads++
        return reads === 1 ? 'first' : NaN
      },
    }
    assert.equal(strictJson.encode(value), '{"a":1,"b":"first"}')
    assert.equal(reads, 1)
    // A container found on the way: the record is copied in full from what was read, not read again.
    let nestedReads = 0
    const nested = {
      a: 1,
      get b() {
        nestedReads++
        return nestedReads === 1 ? { c: 2 } : NaN
      },
    }
    assert.equal(strictJson.encode(nested), '{"a":1,"b":{"c":2}}')
    assert.equal(nestedReads, 1)
  })

  it('writes a record whose container comes after scalars as JSON.stringify does (the scalars read so far kept exactly)', () => {
    for (const text of [
      '{"s":"a\\"b\\u2028\\ud800","n":-1.5e-7,"big":1e21,"t":true,"z":null,"o":{"x":[1,{"y":"z"}]},"after":2}',
      '{"__proto__":5,"o":[1],"__proto__x":{}}',
      '{"a":1,"__proto__":{"b":2},"c":3}',
      '{"2":"two","1":{"one":1},"k":"v"}',
    ]) {
      const value = JSON.parse(text) as Record<string, unknown>
      assert.equal(strictJson.encode(value), JSON.stringify(value))
      assert.deepEqual(JSON.parse(strictJson.encode(value)), value)
    }
  })

  it('looks up no toJSON for a flat record, even one put on Object.prototype', () => {
    const proto = Object.prototype as { toJSON?: () => unknown }
    proto.toJSON = () => 'hijacked'
    try {
      assert.equal(strictJson.encode({ a: 1 }), '{"a":1}')
      assert.equal(strictJson.encode({ a: { b: 2 } }), '{"a":{"b":2}}')
    } finally {
      delete proto.toJSON
    }
  })
})
