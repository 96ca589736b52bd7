/**
 * The one validation helper: every check throws an `InvalidOptionError` (a `TypeError`) that
 * names the option, in one style: `<name> must be <expectation>, got <value>[; <hint>]`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { InvalidOptionError } from '../../src/errors.js'
import { checkBoolean, checkFunction, checkNumber, checkString, oneOf, show, unknownName } from '../../src/validate/check.js'

function message(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof InvalidOptionError && error instanceof TypeError)
    assert.equal(error.code, 'E_INVALID_OPTION')
    return error.message
  }
  throw new Error('expected a throw')
}

describe('the validation helper', () => {
  it('lets undefined through unless required, and returns good values as they are', () => {
    assert.equal(checkNumber(undefined, 'n', { min: 1 }), undefined)
    assert.equal(checkNumber(Infinity, 'n', { min: 1 }), Infinity)
    assert.equal(checkString('x', 's'), 'x')
    assert.equal(checkBoolean(false, 'b'), false)
    assert.equal(oneOf('a', 'o', ['a', 'b']), 'a')
    assert.equal(
      message(() => checkNumber(undefined, 'n', { min: 1, required: true })),
      'n must be a number >= 1, got undefined',
    )
    assert.equal(
      message(() => checkString(undefined, 'dir', { required: true })),
      'dir must be a non-empty string, got undefined',
    )
  })

  it('says one thing the same way: the name, the expectation, the value', () => {
    assert.equal(
      message(() => checkNumber(1.5, 'flush.concurrency', { min: 1, integer: true })),
      'flush.concurrency must be a whole number >= 1, got 1.5',
    )
    assert.equal(
      message(() => checkNumber(Infinity, 'retry.maxDelayMs', { min: 0, finite: true })),
      'retry.maxDelayMs must be a finite number >= 0, got Infinity',
    )
    assert.equal(
      message(() => checkNumber(0, 'syncIntervalMs', { above: 0 })),
      'syncIntervalMs must be a number > 0, got 0',
    )
    assert.equal(
      message(() => checkNumber(NaN, 'n', {})),
      'n must be a number, got NaN',
    )
    assert.equal(
      message(() => checkString('', 'dir')),
      "dir must be a non-empty string, got ''",
    )
    assert.equal(
      message(() => checkBoolean('yes', 'coalesce')),
      "coalesce must be true or false, got 'yes'",
    )
    assert.equal(
      message(() => checkFunction(1 as never, 'warn', 'a function (code, message)')),
      'warn must be a function (code, message), got 1',
    )
  })

  it('suggests the value or the name meant', () => {
    assert.equal(
      message(() => oneOf('stor', 'durability', ['memory', 'store'])),
      "durability must be one of 'memory', 'store', got 'stor'; did you mean 'store'?",
    )
    assert.equal(
      message(() => oneOf(42, 'durability', ['memory', 'store'])),
      "durability must be one of 'memory', 'store', got 42",
    )
    assert.equal(unknownName('option', 'durabilty', ['durability', 'dir']).message, "unknown option 'durabilty'; did you mean 'durability'?")
    assert.equal(unknownName('option', 'ttl', ['dir'], 'writebehind has no ttl').message, "unknown option 'ttl'; writebehind has no ttl")
  })

  it('shows any value briefly and never throws doing it', () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    assert.equal(show(cycle), 'an object')
    assert.equal(show([1]), 'an array')
    assert.equal(
      show(() => 1),
      'a function',
    )
    assert.equal(show(Symbol('s')), 'Symbol(s)')
    assert.equal(show(10n), '10n')
    assert.equal(show({ a: 1 }), '{"a":1}')
    assert.equal(show('x'.repeat(200)).length, 82)
  })
})
