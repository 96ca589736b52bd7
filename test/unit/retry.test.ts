// Retry policy: the backoff schedule (bounds, cap, jitter source, determinism) and the
// classification of errors into retryable and permanent.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { backoffCeiling, backoffDelay, describeError, isRetryable, MAX_MESSAGE_LENGTH, type RetryPolicy } from '../../src/flush/retry.js'
import { InvalidKeyError, InvalidValueError, StoreError } from '../../src/errors.js'
import { seededRandom } from '../helpers/seeded-random.js'

const policy: RetryPolicy = { baseDelayMs: 100, maxDelayMs: 5_000, maxAttempts: 8 }

describe('backoffDelay', () => {
  it('doubles the bound each attempt until the cap', () => {
    const bounds = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffCeiling(attempt, policy))
    assert.deepEqual(bounds, [100, 200, 400, 800, 1600, 3200, 5000, 5000])
  })

  it('uses the whole range [0, bound) with full jitter', () => {
    assert.equal(
      backoffDelay(3, policy, () => 0),
      0,
    )
    assert.equal(
      backoffDelay(3, policy, () => 0.5),
      200,
    )
    assert.equal(
      backoffDelay(3, policy, () => 0.999999),
      399,
    )
    assert.equal(
      backoffDelay(20, policy, () => 0.999999),
      4999,
    )
  })

  it('stays within the bound for every attempt, as an integer', () => {
    const random = seededRandom(7)
    for (let attempt = 1; attempt <= 40; attempt++) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt, policy, random)
        assert.ok(Number.isInteger(delay), `integer delay, got ${delay}`)
        assert.ok(delay >= 0 && delay < backoffCeiling(attempt, policy), `attempt ${attempt}: ${delay}`)
      }
    }
  })

  it('draws exactly one number from the random source per call', () => {
    let calls = 0
    backoffDelay(2, policy, () => {
      calls++
      return 0.25
    })
    assert.equal(calls, 1)
  })

  it('is deterministic with a seeded random, and the jitter actually varies', () => {
    const schedule = (seed: number) => {
      const random = seededRandom(seed)
      return Array.from({ length: 10 }, (_, i) => backoffDelay(Math.min(i + 1, 6), policy, random))
    }
    assert.deepEqual(schedule(42), schedule(42))
    assert.notDeepEqual(schedule(42), schedule(43))
    assert.ok(new Set(Array.from({ length: 20 }, () => backoffDelay(6, policy))).size > 1)
  })

  it('does not overflow for huge attempt numbers', () => {
    assert.equal(backoffCeiling(5_000, policy), 5_000)
    assert.equal(
      backoffDelay(5_000, policy, () => 0.5),
      2_500,
    )
  })

  it('rejects bad attempts and bad policies with a TypeError naming them', () => {
    assert.throws(() => backoffDelay(0, policy), { name: 'TypeError', message: /attempt/ })
    assert.throws(() => backoffDelay(1.5, policy), { name: 'TypeError', message: /attempt/ })
    assert.throws(() => backoffDelay(1, { ...policy, baseDelayMs: -1 }), { name: 'TypeError', message: /baseDelayMs/ })
    assert.throws(() => backoffDelay(1, { ...policy, maxDelayMs: NaN }), { name: 'TypeError', message: /maxDelayMs/ })
    assert.throws(() => backoffDelay(1, { ...policy, maxAttempts: 0 }), { name: 'TypeError', message: /maxAttempts/ })
  })
})

describe('isRetryable', () => {
  const cases: [string, unknown, boolean][] = [
    ['a plain Error (lost connection, timeout)', new Error('ECONNRESET'), true],
    ['a StoreError marked retryable', new StoreError('deadlock', { retryable: true }), true],
    ['a StoreError marked permanent', new StoreError('bad row', { retryable: false }), false],
    ['a TypeError', new TypeError('x is not a function'), false],
    ['a RangeError', new RangeError('out of range'), false],
    ['a SyntaxError', new SyntaxError('bad JSON'), false],
    ['any error with retryable: false', Object.assign(new Error('constraint'), { retryable: false }), false],
    ['a TypeError that says retryable: true', Object.assign(new TypeError('fetch failed'), { retryable: true }), true],
    ['a plain object with retryable: false', { retryable: false }, false],
    ['a string', 'boom', true],
    ['undefined', undefined, true],
    ['a non-boolean retryable flag is ignored', Object.assign(new Error('x'), { retryable: 'no' }), true],
    ['an InvalidValueError (bad data)', new InvalidValueError('k', 'bad'), false],
    ['an InvalidKeyError (bad data)', new InvalidKeyError('', 'empty'), false],
  ]
  for (const [name, error, expected] of cases) {
    it(`${name} → ${expected ? 'retryable' : 'permanent'}`, () => assert.equal(isRetryable(error), expected))
  }

  it('follows the cause chain to the first error with a flag', () => {
    const permanent = new StoreError('unique violation', { retryable: false })
    assert.equal(isRetryable(new Error('batch failed', { cause: permanent })), false)
    assert.equal(isRetryable(new Error('a', { cause: new Error('b', { cause: permanent }) })), false)
    const outer = new StoreError('wrapped', { retryable: true, cause: permanent })
    assert.equal(isRetryable(outer), true, 'the outermost flag wins')
  })

  it('classifies by the top error when no flag is found in the chain', () => {
    assert.equal(isRetryable(new Error('wrap', { cause: new TypeError('inner') })), true)
    assert.equal(isRetryable(new TypeError('wrap', { cause: new Error('inner') })), false)
  })

  it('survives a cyclic cause chain and throwing getters', () => {
    const a = new Error('a')
    const b = new Error('b', { cause: a })
    Object.assign(a, { cause: b })
    assert.equal(isRetryable(a), true)
    const hostile = new Proxy(new Error('x'), {
      get() {
        throw new Error('no access')
      },
    })
    assert.equal(isRetryable(hostile), true)
  })
})

describe('describeError', () => {
  it('keeps name, code, message and the classification', () => {
    const error = new StoreError('duplicate key', { retryable: false, code: 'E_UNIQUE' })
    assert.deepEqual(describeError(error), { name: 'StoreError', code: 'E_UNIQUE', message: 'duplicate key', retryable: false })
  })

  it('leaves out code when there is none and turns numeric codes into text', () => {
    assert.deepEqual(describeError(new Error('down')), { name: 'Error', message: 'down', retryable: true })
    assert.equal(describeError(Object.assign(new Error('x'), { code: 1213 })).code, '1213')
  })

  it('describes non-errors', () => {
    assert.deepEqual(describeError('boom'), { name: 'string', message: 'boom', retryable: true })
    assert.deepEqual(describeError(null), { name: 'object', message: 'null', retryable: true })
    assert.deepEqual(describeError({ retryable: false }), { name: 'Error', message: '[object Object]', retryable: false })
  })

  it('cuts very long messages (a database error quoting a whole batch)', () => {
    const long = describeError(new Error('x'.repeat(100_000)))
    assert.equal(long.message.length, MAX_MESSAGE_LENGTH)
    assert.ok(long.message.endsWith('…'))
    assert.equal(describeError(new Error('y'.repeat(MAX_MESSAGE_LENGTH))).message.length, MAX_MESSAGE_LENGTH)
  })

  it('is JSON-safe: survives a round trip unchanged', () => {
    const error = Object.assign(new Error('with cause', { cause: new Error('inner') }), { code: 'ECONNREFUSED', extra: 1n })
    const description = describeError(error)
    assert.deepEqual(JSON.parse(JSON.stringify(description)), description)
    assert.deepEqual(Object.keys(description).sort(), ['code', 'message', 'name', 'retryable'])
  })
})
